"""Benchmark: what "held to AVX2" holds (issue 36's laptop-class measurements, `make test-avx2`).

    .venv/bin/python benchmarks/held_to_avx2.py [--json benchmarks/results/held_to_avx2.json]

The same matmuls (torch's ``a @ a``, an ``nn.Linear`` the size of all-MiniLM-L6-v2's feed-forward, numpy's ``A @ A``,
float32) in a fresh process per environment, three times each (the best kept): this CPU as it is, held to AVX2 the
way it was until 2026-12-04 (torch's own kernels and oneDNN only) and held as the Makefile's ``HELD_TO_AVX2`` holds it
(MKL, OpenBLAS and numba too), with each library's own account of the kernels it picked (MKL_VERBOSE, threadpoolctl,
torch's capability). Times are ratios against this CPU as it is, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

TORCH_AND_ONEDNN = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}  # held so until 2026-12-04

PROBE = r"""
import json, time, numpy, torch
from threadpoolctl import threadpool_info
def best(f, n):
    f()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            f()
        times.append(time.perf_counter() - start)
    return round(min(times), 3)
torch.manual_seed(0)
a = torch.randn(1024, 1024)
x, linear = torch.randn(32, 128, 384), torch.nn.Linear(384, 1536)
A = numpy.random.default_rng(0).random((1024, 1024), dtype=numpy.float32)
with torch.no_grad():
    out = {"torch_matmul_s": best(lambda: a @ a, 40), "torch_linear_s": best(lambda: linear(x), 30)}
out["numpy_matmul_s"] = best(lambda: A @ A, 40)
print(json.dumps(out))
"""

# Each library's own account of the kernels it picked (tests/test_held_to_avx2.py reads it too)
KERNELS = r"""
import json, numba, torch
from threadpoolctl import threadpool_info
import numpy, scipy.linalg
torch.ones(64, 64) @ torch.ones(64, 64)  # MKL_VERBOSE prints the code path of the call
print(json.dumps({"torch_capability": torch.backends.cpu.get_cpu_capability(), "numba": numba.config.CPU_NAME,
                  "numba_features": numba.config.CPU_FEATURES,
                  "openblas": sorted({i.get("architecture") for i in threadpool_info() if i["internal_api"] == "openblas"})}))
"""


def fresh_process(code: str, env: dict[str, str]) -> list[str]:
    """``code`` run by this Python with ``env`` added (and ``MKL_VERBOSE=1``): its lines of output."""
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env, "MKL_VERBOSE": "1"},
                          capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return done.stdout.splitlines()


def kernels(env: dict[str, str]) -> dict:
    """What torch, MKL (the code path MKL_VERBOSE names, ``None`` without its line), OpenBLAS and numba picked."""
    lines = fresh_process(KERNELS, env)
    mkl = next((line for line in lines if line.startswith("MKL_VERBOSE") and "architecture" in line), "")
    isa = mkl.split("architecture ", 1)[-1].split(",")[0].strip() if mkl else None
    return {**json.loads(lines[-1]), "mkl": isa}


def probe(env: dict[str, str]) -> dict:
    """The matmuls' times under ``env``, beside the kernels they ran."""
    return {**json.loads(fresh_process(PROBE, env)[-1]), **kernels(env)}


def main() -> None:
    from run import HELD_TO_AVX2

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = {"as it is": probe({}), "torch and oneDNN held (until 2026-12-04)": probe(TORCH_AND_ONEDNN),
            "HELD_TO_AVX2 (the Makefile's)": probe(HELD_TO_AVX2)}
    base = rows["as it is"]
    for row in rows.values():
        for key in ("torch_matmul_s", "torch_linear_s", "numpy_matmul_s"):
            row[key.replace("_s", "_x")] = round(row[key] / base[key], 2)
    print(json.dumps(rows, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"held": HELD_TO_AVX2, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
