"""`make test-avx2` and `benchmarks/run.py --parts laptop` stand in for a laptop-class CPU: every library that picks
its kernels by the CPU must then report AVX2, not only torch's own kernels (issue 36's measurements).

Held with only ``ATEN_CPU_CAPABILITY`` and ``ONEDNN_MAX_CPU_ISA`` (until 2026-12-04), MKL (torch's matmuls) and
OpenBLAS (numpy's and scipy's) still ran AVX-512 on a CPU that has it: their matmuls were 1.55-1.85x faster than on AVX2
(BENCHMARKS.md, "Held to AVX2")."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.same_on_any_cpu  # it checks an environment, not arithmetic

REPO = Path(__file__).resolve().parent.parent

# Each library's own account of the kernels it picked, in a fresh process
REPORT = r"""
import json, numba, torch
from threadpoolctl import threadpool_info
import numpy, scipy.linalg
a = torch.ones(64, 64)
a @ a  # MKL_VERBOSE prints the ISA of the call to stdout
print(json.dumps({"torch": torch.backends.cpu.get_cpu_capability(), "numba": numba.config.CPU_NAME,
                  "numba_features": numba.config.CPU_FEATURES,
                  "openblas": sorted({i.get("architecture") for i in threadpool_info() if i["internal_api"] == "openblas"})}))
"""


def makefile_held() -> dict[str, str]:
    done = subprocess.run(["make", "--no-print-directory", "-s", "--eval", "print-held: ; @echo $(HELD_TO_AVX2)",
                           "print-held"], cwd=REPO, capture_output=True, text=True, check=True)
    return dict(pair.split("=", 1) for pair in done.stdout.split())


def test_the_benchmarks_hold_the_cpu_as_make_test_avx2_does():
    import importlib.util

    spec = importlib.util.spec_from_file_location("benchmarks_run", REPO / "benchmarks" / "run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)  # by its path: tools/run.py is another `run`
    assert run.HELD_TO_AVX2 == makefile_held()


def test_held_to_avx2_every_library_that_picks_kernels_by_the_cpu_reports_avx2():
    flags = set(" ".join(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                         if line.startswith("flags")).split())
    if "avx2" not in flags:  # holding a CPU to what it cannot run would crash OpenBLAS's Haswell kernels
        pytest.skip("this CPU has no AVX2: there is nothing to hold it to")
    env = {**os.environ, **makefile_held(), "MKL_VERBOSE": "1"}
    done = subprocess.run([sys.executable, "-c", REPORT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    mkl = [line for line in lines if line.startswith("MKL_VERBOSE") and "architecture" in line]
    assert mkl and "AVX2" in mkl[0] and "AVX-512" not in mkl[0], mkl  # the code path MKL took, on Intel or AMD
    report = json.loads(lines[-1])
    assert report["torch"] == "AVX2"
    assert report["openblas"] == ["Haswell"], report
    assert (report["numba"], report["numba_features"]) == ("haswell", ""), "haswell's own features, no AVX-512"
