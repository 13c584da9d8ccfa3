"""`make test-avx2` and `benchmarks/run.py --parts laptop` stand in for a laptop-class CPU: every library that picks
its kernels by the CPU must then report AVX2, not only torch's own kernels (issue 36's measurements).

Held with only ``ATEN_CPU_CAPABILITY`` and ``ONEDNN_MAX_CPU_ISA`` (until 2026-12-04), MKL (torch's matmuls) and
OpenBLAS (numpy's and scipy's) still ran AVX-512 on a CPU that has it: their matmuls were 1.55-1.85x faster than on AVX2
(BENCHMARKS.md, "Held to AVX2")."""

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.same_on_any_cpu  # it checks an environment, not arithmetic

REPO = Path(__file__).resolve().parent.parent


def makefile_held() -> dict[str, str]:
    done = subprocess.run(["make", "--no-print-directory", "-s", "--eval", "print-held: ; @echo $(HELD_TO_AVX2)",
                           "print-held"], cwd=REPO, capture_output=True, text=True, check=True)
    return dict(pair.split("=", 1) for pair in done.stdout.split())


def benchmark(name: str):
    """``benchmarks/<name>.py``, loaded by its path (tools/run.py is another ``run``)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmarks_hold_the_cpu_as_make_test_avx2_does():
    assert benchmark("run").HELD_TO_AVX2 == makefile_held()


def test_held_to_avx2_every_library_that_picks_kernels_by_the_cpu_reports_avx2():
    cpuinfo = Path("/proc/cpuinfo").read_text()
    if not re.search(r"\bavx2\b", cpuinfo):  # held to what it cannot run, OpenBLAS's
        pytest.skip("this CPU has no AVX2: there is nothing to hold it to")  # Haswell kernels would crash
    report = benchmark("held_to_avx2").kernels(makefile_held())  # each library's own account, in a fresh process
    assert report["mkl"] and "AVX-512" not in report["mkl"], report
    if "GenuineIntel" in cpuinfo:  # on AMD, MKL names no code path ("Intel(R) Architecture
        assert "AVX2" in report["mkl"], report  # processors", held or not: measured on an AMD EPYC with AVX-512)
    assert report["torch_capability"] == "AVX2"
    assert report["openblas"] == ["Haswell"], report
    assert (report["numba"], report["numba_features"]) == ("haswell", ""), "haswell's own features, no AVX-512"
