"""The machine check every notebook starts with."""

import os

import pytest

from helpers.machine import gpu_status, profile_for_this_machine, setup_notebook
from helpers.settings import resolve_settings


def test_a_gpu_profile_without_a_gpu_says_what_to_change(no_gpu):
    with pytest.raises(RuntimeError, match=r"needs a GPU and none is visible.*T4 GPU.*profile = 'offline'"):
        gpu_status(resolve_settings("colab-t4"))
    assert "CPU" in gpu_status(resolve_settings("offline"))


def test_colab_editions_switch_to_offline_without_a_gpu(no_gpu):
    profile, note = profile_for_this_machine("colab-t4")
    assert profile == "offline" and "No GPU" in note and "T4 GPU" in note
    assert profile_for_this_machine("offline")[0] == "offline"


def test_auto_precision_follows_what_the_cpu_computes_natively(tmp_path, monkeypatch, no_gpu):
    import torch

    import helpers.machine as machine

    with_bf16, without = tmp_path / "with", tmp_path / "without"
    with_bf16.write_text("flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n")
    without.write_text("flags\t\t: fpu sse avx2 avx512f\n")
    assert machine.cpu_supports_bf16(str(with_bf16)) and not machine.cpu_supports_bf16(str(without))
    assert not machine.cpu_supports_bf16(str(tmp_path / "missing"))
    monkeypatch.setattr(machine, "cpu_supports_bf16", lambda cpuinfo=None: True)
    for capability, precision in (("AVX512", "bf16"), ("AVX2", "fp32"), ("DEFAULT", "fp32")):
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
        assert machine.resolve_precision("auto") == precision, capability
    monkeypatch.setattr(machine, "cpu_supports_bf16", lambda cpuinfo=None: False)  # AVX-512 without its bf16 part
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert machine.resolve_precision("auto") == "fp32" and machine.resolve_precision("bf16") == "bf16"
    with pytest.raises(ValueError, match="Unknown precision 'half'"):
        machine.resolve_precision("half")


def test_a_target_gpu_resolves_auto_for_that_gpu_whatever_this_machine_has(monkeypatch, no_gpu):
    import helpers.machine as machine

    for host_bf16 in (True, False):
        monkeypatch.setattr(machine, "torch_computes_bf16", lambda cpuinfo=None: host_bf16)
        assert machine.resolve_precision("auto", "T4") == "fp16"
        assert machine.resolve_precision("auto", {"bf16": True}) == "bf16"  # an A100, an H100
    with pytest.raises(ValueError, match=r"No GPU named 'T5' is known here; use one of T4"):
        machine.resolve_precision("auto", "T5")
        assert machine.resolve_precision("auto") == ("bf16" if host_bf16 else "fp32")


def test_an_avx2_machine_can_be_simulated_with_aten_cpu_capability():
    """CI's second pass holds torch to AVX2 this way: "auto" must then pick fp32, as on an AVX2-only laptop."""
    import subprocess
    import sys

    code = ("import torch; from helpers.machine import resolve_precision as r, torch_computes_bf16 as t; "
            "print(torch.backends.cpu.get_cpu_capability(), r('auto', None), t())")
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    import torch

    assert out[-3] == "AVX2" and out[-1] == "False", "torch held to AVX2 computes no bfloat16"
    if not torch.cuda.is_available():  # on a GPU machine the GPU decides "auto"
        assert out[-2] == "fp32"


def test_setup_notebook_says_profile_device_precision_and_versions(capsys, no_gpu):
    settings = setup_notebook("offline", {"encoding": "latin-1"}, sample_size=300)
    out = capsys.readouterr().out
    assert (settings.profile, settings.encoding, settings.sample_size) == ("offline", "latin-1", 300)
    assert len(out.strip().splitlines()) == 1, f"one line: {out}"
    assert "profile 'offline' (local) · no GPU, the CPU" in out and "device cpu" in out
    assert "precision 'auto' is " in out and "transformers " in out and "bertopic " in out
    assert "numba" not in out, "setup changes no library's behaviour, so it has nothing of numba's to report"
    with pytest.raises(RuntimeError, match="needs a GPU"):
        setup_notebook("colab-t4")


def test_setup_notebook_names_a_knob_set_twice_or_misspelled_in_one_sentence(no_gpu):
    with pytest.raises(ValueError, match="'sample_size' is set twice"):
        setup_notebook("offline", {"sample_size": 10}, sample_size=300)
    with pytest.raises(ValueError, match="Unknown parameter 'encodng'.*encoding"):
        setup_notebook("offline", {"encodng": "latin-1"})


def test_a_parameter_left_at_none_is_not_set_so_more_settings_gives_it(no_gpu, tmp_path):
    """05's and 06's parameters cell has ``cache_dir = None``; notebook 01 suggests ``more_settings =
    {"cache_dir": ...}``, which the runner passes to every notebook: no clash, and the value is kept."""
    settings = setup_notebook("offline", {"cache_dir": str(tmp_path)}, cache_dir=None, sample_size=300)
    assert (settings.cache_dir, settings.sample_size) == (str(tmp_path), 300)
