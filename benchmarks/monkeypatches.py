"""Benchmark: what the two third-party patches that helpers/ once applied saved, each measured in fresh processes.

    .venv/bin/python benchmarks/monkeypatches.py                 # both parts, about 3-5 min on 2 cores
    .venv/bin/python benchmarks/monkeypatches.py --parts numba   # one part
    .venv/bin/python benchmarks/monkeypatches.py --json /tmp/out.json

Issue 34 removed them from helpers/; this file keeps them (the BASELINE section, copied unchanged) so the saving
they bought can be measured, and re-measured, against the libraries as they ship:

numba  ``helpers.machine.cache_numba_kernels``: swapped ``numba.jit`` process-wide while umap-learn and datashader
       imported, so their kernels were cached on disk. Measured: what a notebook pays for the umap, hdbscan and
       datashader kernels: ``import umap, hdbscan, datashader.bundling``, ``UMAP(n_components=5, metric="cosine",
       random_state=42).fit_transform`` of random 500 x 384 vectors, ``HDBSCAN(min_cluster_size=10).fit`` of the
       result. Each way in its own empty ``NUMBA_CACHE_DIR``, two processes in a row: the first (a first run after
       install) and a re-run (which an on-disk cache could serve).
gguf   ``helpers.llm.gguf_read_once``: memoized gguf's reader while transformers converted the packaged GGUF.
       Measured: ``helpers.llm.load_llm("packaged:SmolLM2-135M-Instruct", "none")`` into an empty cache folder
       (converts, then loads) and again (the converted folder is reused), each way; the converted files are
       compared (their sha256).

The processes run one after the other, never in parallel; run it on an otherwise idle machine. Prints a table
(seconds without the patch, with it, the ratio) and writes it to ``benchmarks/results/monkeypatches.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results" / "monkeypatches.json"
PACKAGED_LLM = "packaged:SmolLM2-135M-Instruct"
PACKAGES = ("numba", "umap-learn", "pynndescent", "hdbscan", "datashader", "gguf", "transformers", "torch")


# ------------------------------------------------------------------------------------------------ BASELINE
# The two patches as helpers/ applied them before issue 34, copied unchanged (only their docstrings shortened).
# Nothing outside this benchmark (and benchmarks/run.py's "once" part) applies them.

NUMBA_UNCACHED = ("umap.umap_", "umap.utils", "umap.layouts", "umap.distances", "umap.sparse", "datashader.bundling")


@contextmanager
def numba_jit_cached():
    """BASELINE (was helpers.machine): while inside, ``numba.jit`` caches what it compiles, as ``cache=True``."""
    import numba

    jit = numba.jit
    numba.jit = lambda *args, **kwargs: jit(*args, **{"cache": True, **kwargs})
    try:
        yield
    finally:
        numba.jit = jit


def cache_numba_kernels(modules: tuple[str, ...] = NUMBA_UNCACHED) -> int:
    """BASELINE (was helpers.machine, called by setup_notebook): numba's on-disk cache turned on for the kernels
    of ``modules`` (those imported here for the first time are imported inside :func:`numba_jit_cached`).
    Returns how many kernels cache on disk."""
    import importlib

    try:
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # another numba layout: the kernels compile in each process, as before
        return 0

    cached = 0
    for name in modules:
        if name not in sys.modules:  # kernels compiled at import (explicit signatures) are cached as they compile
            try:
                if name.rpartition(".")[0]:
                    importlib.import_module(name.rpartition(".")[0])  # the package's own helpers stay as they are
                with numba_jit_cached():
                    importlib.import_module(name)
            except ImportError:
                continue
        for kernel in vars(sys.modules[name]).values():
            if not (isinstance(kernel, Dispatcher) and kernel.py_func.__module__ == name
                    and not kernel.py_func.__closure__):
                continue
            if isinstance(kernel._cache, NullCache):
                try:
                    kernel.enable_caching()
                except RuntimeError:  # nowhere writable to cache it: it compiles in each process, as before
                    continue
            cached += 1
    return cached


@contextmanager
def gguf_read_once():
    """BASELINE (was helpers.llm, around the GGUF conversion): ``gguf.GGUFReader`` and ``gguf.get_tensor_name_map``
    memoized, so transformers' three reads of the file (config, tokenizer, weights) share one parse."""
    import functools

    import gguf

    saved = gguf.GGUFReader, gguf.get_tensor_name_map
    gguf.GGUFReader = functools.lru_cache(maxsize=2)(saved[0])
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=8)(saved[1])
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = saved


# ------------------------------------------------------------------------------------------------ children
def child_numba(patched: bool, rows: int, enable_only: bool = False) -> dict[str, Any]:
    """In this (fresh) process: the kernels a notebook pays for, with or without the baseline patch, or with what
    helpers keeps (``enable_only``: :func:`helpers.machine.cache_numba_kernels`, numba's own ``enable_caching`` on
    the kernels after a plain import, ``numba.jit`` untouched); seconds."""
    start = time.perf_counter()
    if enable_only:
        from helpers.machine import cache_numba_kernels as kept

        cached = kept()
    else:
        cached = cache_numba_kernels() if patched else 0
    import datashader.bundling  # noqa: F401  (BERTopic's datamapplot imports it; its kernels compile at import)
    import hdbscan
    import numpy as np
    import umap

    imported = time.perf_counter()
    vectors = np.random.RandomState(0).normal(size=(rows, 384)).astype(np.float32)
    reduced = umap.UMAP(n_components=5, metric="cosine", random_state=42).fit_transform(vectors)
    reduced_at = time.perf_counter()
    hdbscan.HDBSCAN(min_cluster_size=10).fit(reduced)
    done = time.perf_counter()
    return {"imports_s": imported - start, "umap_s": reduced_at - imported, "hdbscan_s": done - reduced_at,
            "total_s": done - start, "kernels_cached": cached}


def child_gguf(patched: bool) -> dict[str, Any]:
    """In this (fresh) process: ``load_llm`` of the packaged model, with or without the baseline patch; seconds
    and the sha256 of the converted files."""
    start = time.perf_counter()
    from helpers.llm import load_llm
    from helpers.machine import default_cache_dir

    imported = time.perf_counter()
    with gguf_read_once() if patched else contextlib.nullcontext():
        load_llm(PACKAGED_LLM, "none")
    done = time.perf_counter()
    folder = default_cache_dir() / "models" / "SmolLM2-135M-Instruct"
    digest = hashlib.sha256(b"".join((folder / f).read_bytes() for f in ("model.safetensors", "tokenizer.json",
                                                                           "config.json")))
    return {"imports_s": imported - start, "load_llm_s": done - imported, "total_s": done - start,
            "files_sha256": digest.hexdigest()[:16]}


# ------------------------------------------------------------------------------------------------ parent
def in_fresh_process(part: str, patched: bool, work: Path, rows: int, enable_only: bool = False) -> dict[str, Any]:
    """One child (this file with ``--child``) in a new Python process; its numbers, and its wall time."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(work / "numba"), "TOPIC_LLAMA2_CACHE": str(work / "cache"),
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", part, "--rows", str(rows)]
    start = time.perf_counter()
    done = subprocess.run(command + (["--patched"] if patched else []) + (["--enable-only"] if enable_only else []),
                          cwd=REPO, env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{part} ({'with' if patched else 'without'} the patch) failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**{k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}, "wall_s": round(wall, 2)}


def measure(part: str, rows: int) -> dict[str, Any]:
    """Without the patch, then with it: each in its own empty folders, a first process and a re-run."""
    out: dict[str, Any] = {}
    ways = [("without_patch", False, False), ("with_patch", True, False)]
    if part == "numba":
        ways.append(("enable_caching", False, True))  # what helpers keeps
    for way, patched, enable_only in ways:
        with tempfile.TemporaryDirectory(prefix=f"monkeypatch-{part}-") as work:
            out[way] = {run: in_fresh_process(part, patched, Path(work), rows, enable_only) for run in ("first", "rerun")}
    return out


def table_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per part and run: seconds (the child's own, from its first line) without and with the patch."""
    rows = []
    for part, key in (("numba", "total_s"), ("gguf", "total_s")):
        if part not in results:
            continue
        for run in ("first", "rerun"):
            without, with_ = results[part]["without_patch"][run][key], results[part]["with_patch"][run][key]
            kept = results[part].get("enable_caching", {}).get(run, {}).get(key)
            rows.append({"part": part, "run": run, "without_patch_s": without, "with_patch_s": with_,
                         "saved_s": round(without - with_, 2), "ratio": round(without / with_, 2) if with_ else None,
                         "enable_caching_s": kept, "enable_caching_ratio": round(without / kept, 2) if kept else None})
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """The table: part, run, seconds without and with the patch, saved, ratio (without / with)."""
    print(f"{'part':<6} {'run':<6} {'without (s)':>12} {'with (s)':>9} {'saved (s)':>10} {'ratio':>6} "
          f"{'enable_caching (s)':>19} {'ratio':>6}")
    for r in rows:
        kept = r["enable_caching_s"]
        print(f"{r['part']:<6} {r['run']:<6} {r['without_patch_s']:>12.2f} {r['with_patch_s']:>9.2f} "
              f"{r['saved_s']:>10.2f} {r['ratio'] or float('nan'):>6.2f} "
              f"{kept if kept is not None else float('nan'):>19.2f} {r['enable_caching_ratio'] or float('nan'):>6.2f}")


def versions() -> dict[str, str]:
    """Installed versions of the packages the patches touch."""
    from helpers.machine import package_versions

    return package_versions(PACKAGES)


def main(argv: list[str] | None = None) -> None:
    """Both ways of each part, one process after the other; the table printed and written to ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=("numba", "gguf"), default=["numba", "gguf"],
                        help="what to measure (default: both)")
    parser.add_argument("--rows", type=int, default=500, help="random vectors UMAP and HDBSCAN fit (default 500)")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write the results (default {RESULTS})")
    parser.add_argument("--child", choices=("numba", "gguf"), help=argparse.SUPPRESS)
    parser.add_argument("--patched", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--enable-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # one measurement, in this fresh process: its JSON on the last line
        result = (child_numba(args.patched, args.rows, args.enable_only) if args.child == "numba"
                  else child_gguf(args.patched))
        print(json.dumps(result))
        return
    results = {part: measure(part, args.rows) for part in args.parts}
    rows = table_rows(results)
    print_table(rows)
    record = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
              "versions": versions(), "rows": args.rows, "table": rows, "runs": results}
    if "gguf" in results:
        digests = {results["gguf"][way]["first"]["files_sha256"] for way in ("without_patch", "with_patch")}
        record["gguf_same_files"] = len(digests) == 1
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written to {args.json}")


if __name__ == "__main__":
    main()
