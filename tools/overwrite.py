"""``--overwrite`` without losing anything: the re-run writes into ``.<name>.next-<time>/<name>/`` beside the run
folder (the same folder name, so what a notebook shows of ``run_dir.name`` is right), swapped in only once every
notebook has run: on Linux in one ``renameat2`` exchange, so a failure or a kill at any point leaves the earlier
results where they were; elsewhere in two renames, and a kill between them is undone by the next run
(:func:`recover`). :mod:`tools.run` uses it."""

from __future__ import annotations

import re
import sys
import time
from datetime import datetime
from pathlib import Path

def leftover_staging(run_dir: Path) -> list[Path]:
    """The staging folders an earlier ``--overwrite`` of ``run_dir`` left when it was killed (:func:`sibling_copy`):
    a re-run never finished there, or the swap finished and the old results in it were not yet removed."""
    pattern = re.compile(rf"\.{re.escape(run_dir.name)}\.next-\d{{8}}-\d{{6}}-\d+")
    parent = run_dir.parent
    return sorted(p for p in parent.iterdir() if p.is_dir() and pattern.fullmatch(p.name)) if parent.is_dir() else []


def recover(run_dir: Path) -> None:
    """Put the earlier results back when a swap in two renames (:func:`swap_in`, no ``renameat2``) was killed
    between them: ``run_dir`` is missing and its old results wait in a staging folder's ``old``."""
    old = [p / "old" for p in leftover_staging(run_dir) if (p / "old").is_dir()]
    if old and not run_dir.exists():
        old[-1].rename(run_dir)
        print(f"[run] put the earlier results back into {run_dir} (an --overwrite was stopped while swapping)", flush=True)


def sibling_copy(run_dir: Path, skip: set[str]) -> Path:
    """``.<name>.next-<time>/<name>`` beside ``run_dir`` (what a killed re-run left cleared first), holding a copy
    of everything in ``run_dir`` but the names in ``skip`` (what the re-run writes or makes stale)."""
    import shutil

    recover(run_dir)
    for leftover in leftover_staging(run_dir):
        print(f"[run] removing {leftover.name}, left by an --overwrite that was stopped", flush=True)
        shutil.rmtree(leftover)
    root = run_dir.parent / f".{run_dir.name}.next-{datetime.now():%Y%m%d-%H%M%S}-{time.time_ns() % 10**6}"
    root.mkdir()
    shutil.copytree(run_dir, root / run_dir.name, symlinks=True, ignore=lambda folder, names: (
        [n for n in names if n in skip] if Path(folder) == run_dir else []))
    return root / run_dir.name


def exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` in one step (Linux's ``renameat2`` with ``RENAME_EXCHANGE``): a reader
    sees the one or the other, never neither. ``False`` where the system or its file system has no such call."""
    import ctypes
    import os

    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except Exception:  # noqa: BLE001 - no such call in this C library
        return False
    at_cwd, rename_exchange = -100, 2
    return renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), rename_exchange) == 0


def named_for(staging: Path, run_dir: Path) -> None:
    """The executed copies and JSON records under ``staging`` made to name ``run_dir``, the folder they will live
    in (as text and as JSON writes it); a file that is not UTF-8 text is left as it is."""
    spellings = {str(staging): str(run_dir), json_text(staging): json_text(run_dir)}
    for path in [p for p in staging.rglob("*") if p.suffix in (".ipynb", ".json") and p.stat().st_size < 50e6]:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        new = text
        for old, wanted in spellings.items():
            new = new.replace(old, wanted)
        if new != text:
            path.write_text(new, encoding="utf-8")


def json_text(path: Path) -> str:
    import json

    return json.dumps(str(path))[1:-1]


def swap_in(run_dir: Path, staging: Path, yours: tuple[str, ...] = ()) -> None:
    """Put a finished re-run (``staging``, from :func:`sibling_copy`) in place of ``run_dir`` and remove the
    results it replaced. Your files (``yours``) are taken from ``run_dir`` again, before the swap and after it
    (an edit saved meanwhile is newer), so an edit made during the run is kept."""
    import shutil

    for name in yours:
        if (run_dir / name).exists():
            shutil.copy2(run_dir / name, staging / name)
    named_for(staging, run_dir)
    root = staging.parent
    if exchange(staging, run_dir):
        old = staging
    else:  # two renames: a kill between them is undone by recover()
        old = root / "old"
        run_dir.rename(old)
        staging.rename(run_dir)
    for name in yours:
        if (old / name).exists() and (not (run_dir / name).exists()
                                      or (old / name).stat().st_mtime > (run_dir / name).stat().st_mtime):
            shutil.copy2(old / name, run_dir / name)
    shutil.rmtree(root)
