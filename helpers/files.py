"""Writing files and folders so that a reader never sees them half-written.

Both write under a temporary name beside the target and rename it into place: an
interrupted run leaves the previous version (or nothing), never a partial one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable


def atomic_write(path: Path, write: Callable[[str], Any]) -> Path:
    """Call ``write(tmp_path)`` then rename the temporary file to ``path``.

    A reader never sees a half-written file, and an interrupted write leaves the
    previous version (if any) intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def atomic_folder(path: Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_dir)`` to fill a temporary folder, then put it in place of ``path``.

    An existing ``path`` is replaced. When another process puts its own ``path`` in
    place between the removal and the rename, theirs is kept and ours discarded.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        write(tmp)
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        try:
            tmp.rename(path)
        except OSError:  # another process finished the same folder first: keep theirs
            pass
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path
