"""``--overwrite`` without losing anything: the re-run writes into a hidden sibling of the run folder, which is
swapped in (one ``renameat2`` exchange) only once every notebook has run; a failure or a kill at any point leaves
the earlier results where they were (:mod:`helpers.run` uses it)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

STAGING = ".{name}.next-"  # a re-run's sibling folder: hidden, beside the run folder, removed when done


def leftover_staging(run_dir: Path) -> list[Path]:
    """Sibling folders an earlier ``--overwrite`` of ``run_dir`` left when it was killed (:func:`sibling_copy`):
    a re-run never finished there, or the swap finished and the old results in it were not yet removed."""
    return sorted(run_dir.parent.glob(STAGING.format(name=run_dir.name) + "*"))


def recover(run_dir: Path) -> None:
    """Put the earlier results back when a swap without ``renameat2`` (:func:`swap_in`) was killed between its
    two renames: ``run_dir`` is missing and its old results wait in the ``-old`` sibling."""
    old = [p for p in leftover_staging(run_dir) if p.name.endswith("-old")]
    if old and not run_dir.exists():
        old[-1].rename(run_dir)
        print(f"[run] put the earlier results back into {run_dir} (an --overwrite was stopped while swapping)", flush=True)


def sibling_copy(run_dir: Path, skip: set[str]) -> Path:
    """A hidden sibling of ``run_dir`` (cleared of what a killed re-run left there first) holding a copy of
    everything in ``run_dir`` but the names in ``skip`` (what the re-run writes or makes stale)."""
    import shutil

    recover(run_dir)
    for leftover in leftover_staging(run_dir):
        print(f"[run] removing {leftover.name}, left by an --overwrite that was stopped", flush=True)
        shutil.rmtree(leftover)
    staging = run_dir.parent / f"{STAGING.format(name=run_dir.name)}{datetime.now():%Y%m%d-%H%M%S}-{time.time_ns() % 10**6}"
    shutil.copytree(run_dir, staging, symlinks=True, ignore=lambda folder, names: (
        [n for n in names if n in skip] if Path(folder) == run_dir else []))
    return staging


def exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` in one step (Linux's ``renameat2`` with ``RENAME_EXCHANGE``): a reader
    sees the one or the other, never neither. ``False`` where the system has no such call."""
    import ctypes
    import os

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_cwd, rename_exchange = -100, 2
    return renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), rename_exchange) == 0


def swap_in(run_dir: Path, staging: Path, yours: tuple[str, ...] = ()) -> None:
    """Put a finished re-run (``staging``) in place of ``run_dir`` and remove the results it replaced. Your
    files (``yours``) are copied from ``run_dir`` once more first, so an edit made during the run is kept;
    the executed copies and JSON records name ``run_dir``, the folder they now live in, not the staging folder."""
    import shutil

    for name in yours:
        if (run_dir / name).exists():
            shutil.copy2(run_dir / name, staging / name)
    for path in [p for p in staging.rglob("*") if p.suffix in (".ipynb", ".json") and p.stat().st_size < 50e6]:
        text = path.read_text(encoding="utf-8")
        if str(staging) in text:
            path.write_text(text.replace(str(staging), str(run_dir)), encoding="utf-8")
    if not exchange(staging, run_dir):  # two renames: a kill between them leaves the old results in staging
        old = staging.with_name(staging.name + "-old")
        run_dir.rename(old)
        staging.rename(run_dir)
        staging = old
    shutil.rmtree(staging)
