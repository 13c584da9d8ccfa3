"""The machine check every notebook starts with."""

import pytest

from helpers.machine import gpu_status, profile_for_this_machine, setup_notebook
from helpers.settings import resolve_settings


def test_a_gpu_profile_without_a_gpu_says_what_to_change():
    with pytest.raises(RuntimeError, match=r"needs a GPU and none is visible.*T4 GPU.*profile = 'offline'"):
        gpu_status(resolve_settings("colab-t4"))
    assert "CPU" in gpu_status(resolve_settings("offline"))


def test_colab_editions_switch_to_offline_without_a_gpu():
    profile, note = profile_for_this_machine("colab-t4")
    assert profile == "offline" and "No GPU" in note and "T4 GPU" in note
    assert profile_for_this_machine("offline")[0] == "offline"


def test_auto_precision_follows_what_the_cpu_computes_natively(tmp_path, monkeypatch):
    import helpers.machine as llm

    with_bf16, without = tmp_path / "with", tmp_path / "without"
    with_bf16.write_text("flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n")
    without.write_text("flags\t\t: fpu sse avx2 avx512f\n")
    assert llm.cpu_supports_bf16(str(with_bf16)) and not llm.cpu_supports_bf16(str(without))
    assert not llm.cpu_supports_bf16(str(tmp_path / "missing"))
    monkeypatch.setattr(llm, "cpu_supports_bf16", lambda: False)
    assert llm.resolve_precision("auto") == "fp32" and llm.resolve_precision("bf16") == "bf16"
    monkeypatch.setattr(llm, "cpu_supports_bf16", lambda: True)
    assert llm.resolve_precision("auto") == "bf16"
    with pytest.raises(ValueError, match="Unknown precision 'half'"):
        llm.resolve_precision("half")


def test_setup_notebook_says_profile_device_precision_and_versions(capsys):
    device = setup_notebook(resolve_settings("offline"))
    out = capsys.readouterr().out
    assert device == "cpu"
    assert "profile 'offline' (local); No GPU: running on the CPU" in out
    assert "precision 'auto' computes in" in out and "transformers " in out and "bertopic " in out
    with pytest.raises(RuntimeError, match="needs a GPU"):
        setup_notebook(resolve_settings("colab-t4"))
