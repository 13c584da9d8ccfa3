"""helpers.files: what atomic_write puts on disk, and in which order."""

import os

from helpers.files import atomic_write
import pytest

pytestmark = pytest.mark.same_on_any_cpu  # how files are written: no precision changes it


def test_atomic_write_flushes_the_file_to_disk_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    """A power cut after a rename whose file was never flushed can leave an empty file under the new name."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        info = os.fstat(fd)
        events.append(("fsync", info.st_ino, info.st_size))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.stat(src).st_ino, os.stat(src).st_size))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "out" / "a.csv"
    atomic_write(target, lambda tmp: open(tmp, "w").write("x,y\n1,2\n"))
    assert target.read_text() == "x,y\n1,2\n"
    renames = [i for i, e in enumerate(events) if e[0] == "replace"]
    assert len(renames) == 1, events
    _, file_inode, size = events[renames[0]]
    assert ("fsync", file_inode, size) in events[:renames[0]], f"the file was not flushed before its rename: {events}"
    folder_inode = os.stat(target.parent).st_ino
    assert any(e[:2] == ("fsync", folder_inode) for e in events[renames[0]:]), f"the folder was not flushed: {events}"
