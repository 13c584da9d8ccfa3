"""Atomic writes of files and folders (run folders, plots, models): a reader never sees them half-written."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np


def current_umask() -> int:
    """The process's umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[str], Any]) -> Path:
    """Call ``write(tmp_path)``, flush it and rename it to ``path`` (mode ``0o666 & ~umask``); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        fsync_path(tmp)  # bytes on disk before the rename
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    fsync_folder(path.parent)  # the rename itself on disk
    return path


def fsync_path(path) -> None:
    """Flush the file at ``path`` to disk (opened writable, as Windows needs)."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries (a rename) to disk where the system allows (not Windows)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse to sync a folder
        pass
    finally:
        os.close(fd)


def atomic_folder(path: Path, write: Callable[[Path], Any]) -> Path:
    """Fill a temporary folder with ``write(tmp_dir)``, then put it in place of ``path`` (mode ``0o777 & ~umask``);
    on failure the old one is restored and the error raised."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    old = path.parent / f".{path.name}-old-{tmp.name}"
    try:
        write(tmp)
        os.chmod(tmp, 0o777 & ~current_umask())
        if path.exists():
            path.rename(old)
        try:
            tmp.rename(path)
        except OSError:
            if not old.exists() and path.exists():  # another process finished first: keep theirs
                return path
            if old.exists() and not path.exists():
                old.rename(path)
            raise
    finally:
        for leftover in (tmp, old):
            if leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)
    return path


def to_json_ready(value: Any) -> Any:
    """Nested dicts/lists with numpy scalars made plain and ``nan`` made ``None`` (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): to_json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_ready(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    return value


def write_json(path, data: dict[str, Any]):
    """Write ``data`` as indented JSON atomically (``nan`` written as ``null``)."""
    import json
    from pathlib import Path

    return atomic_write(Path(path), lambda tmp: Path(tmp).write_text(json.dumps(to_json_ready(data), indent=2)))
