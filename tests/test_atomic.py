"""Atomic writes: the new file appears whole, with the permissions an ordinary write would give it."""

from __future__ import annotations

import os
import stat

import pytest

from cvximplicit._atomic import atomic_write, atomic_write_text

pytestmark = pytest.mark.skipif(not hasattr(os, "fchmod"), reason="file modes are POSIX-only")


def test_new_file_gets_0666_minus_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = atomic_write_text(tmp_path / "a.txt", "hello")
    finally:
        os.umask(old)
    assert path.read_text() == "hello"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # 0o666 & ~0o027, not mkstemp's 0o600


def test_replaced_file_keeps_its_mode_and_no_temporary_file_is_left(tmp_path):
    path = tmp_path / "b.bin"
    path.write_bytes(b"old")
    path.chmod(0o604)
    atomic_write(path, lambda fh: fh.write(b"new"))
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == 0o604
    assert [p.name for p in tmp_path.iterdir()] == ["b.bin"]


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "c.bin"
    path.write_bytes(b"old")

    def write(fh):
        fh.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, write)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["c.bin"]
