"""Writing files and folders so that a reader never sees them half-written.

Both write under a temporary name beside the target and rename it into place: an
interrupted run leaves the previous version (or nothing), never a partial one. What
lands gets the permissions a plain ``open()`` / ``mkdir()`` would give under the
user's umask (temporary files are private by default), so others on a shared
workshop server can read a run folder when the umask lets them.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[str], Any]) -> Path:
    """Call ``write(tmp_path)`` then rename the temporary file to ``path``.

    A reader never sees a half-written file, and an interrupted write leaves the
    previous version (if any) intact. The temporary file is flushed to disk (``fsync``)
    before the rename and the folder after it, so a power cut right after leaves the old
    file or the new one, never an empty one. The file gets mode ``0o666 & ~umask``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        fsync_path(tmp)  # the bytes on disk before the name: a crash never leaves an empty file in place
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    fsync_folder(path.parent)  # the rename itself on disk
    return path


def fsync_path(path) -> None:
    """Flush the file at ``path`` to disk (opened for writing: Windows commits only a writable handle)."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries (a rename in it) to disk, where the system lets a folder be opened (not Windows)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse to sync a folder: the file itself is on disk
        pass
    finally:
        os.close(fd)


def atomic_folder(path: Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_dir)`` to fill a temporary folder, then put it in place of ``path``.

    An existing ``path`` is moved aside first and removed only once the new folder is
    in place; when the new one cannot be put in place, the old one is moved back and
    the error raised. When another process put its own complete ``path`` in place
    meanwhile, theirs is kept and ours discarded. The folder gets mode
    ``0o777 & ~umask``.
    """
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
            if not old.exists() and path.exists():  # another process finished the same folder first: keep theirs
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
