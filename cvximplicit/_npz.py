"""Versioned ``.npz`` files: arrays stored bit-exactly plus a JSON ``meta`` entry, written atomically.

The reader does not trust the file: it opens the zip archive itself, reads
each entry's ``.npy`` header before the data (so a corrupt header cannot ask
for terabytes), refuses pickled (``object``) arrays, checks every CRC, and
turns every way a file can be broken — missing, a directory, empty, truncated,
random bytes, a bare ``.npy`` array, a zip with missing or extra entries,
another program's ``.npz``, another format version — into one
:class:`~cvximplicit.exceptions.DataError` that names the file and what is
wrong with it.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from ._atomic import atomic_write
from .exceptions import DataError

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
# Everything the zip and .npy readers raise on malformed bytes.
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile, zlib.error,
                NotImplementedError, RuntimeError, OverflowError, SyntaxError, MemoryError)


def write_npz(path, arrays: dict, meta: dict) -> Path:
    """Atomically write ``arrays`` and ``meta`` (JSON, stored under the key ``"meta"``) to ``path``.

    ``path`` is only replaced once the new file is completely written (see
    :func:`cvximplicit._atomic.atomic_write`), so a failure leaves the old file.
    """
    payload = {**arrays, "meta": np.array(json.dumps(meta))}
    return atomic_write(path, lambda fh: np.savez(fh, **payload))


def _sniff(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(8)


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One ``.npy`` entry, checking its header against the entry's size before reading the data."""
    with zf.open(info) as fh:
        version = npy_format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy_format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unknown .npy format version {version}")
        if dtype.hasobject:
            raise ValueError("it holds a pickled (object) array, which is never loaded")
        count = 1
        for s in shape:
            count *= int(s)
        expected = fh.tell() + count * dtype.itemsize
        if expected != info.file_size:
            raise ValueError(f"its header promises {expected} bytes but the entry has {info.file_size}")
    with zf.open(info) as fh:  # read_array reads to the end, so the CRC is checked
        array = npy_format.read_array(fh, allow_pickle=False)
        fh.read()
    return array


def read_npz(path, *, fmt: str, version: int, what: str, arrays=(), meta_keys=()) -> tuple[dict, dict]:
    """``(meta, arrays)`` of a file written by :func:`write_npz` with ``meta["format"] == fmt``.

    Parameters
    ----------
    path : path-like
    fmt, version
        The expected ``meta["format"]`` and ``meta["format_version"]``.
    what : str
        The kind of file, for messages (``"model"``, ``"checkpoint"``).
    arrays, meta_keys : iterable of str
        Entries that must be present (arrays must also be real numeric).

    Raises
    ------
    DataError
        If the file is missing, unreadable, corrupt, of another format or
        format version, or lacks a required entry; the message names the file.
    """
    path = Path(path)
    label = f"cvximplicit {what} file"
    if path.is_dir():
        raise DataError(f"{path} is a directory, not a {label}")
    if not path.is_file():
        raise DataError(f"no {what} file at {path}")
    try:
        head = _sniff(path)
    except OSError as exc:
        raise DataError(f"cannot read {path} ({exc})") from exc
    if head.startswith(_NPY_MAGIC):
        raise DataError(f"{path} is a single NumPy array (.npy), not a {label} (.npz)")
    if not head.startswith(_ZIP_MAGIC):
        detail = "the file is empty" if not head else "it is not a zip archive"
        raise DataError(f"{path} is not a {label}: {detail}")
    try:
        with zipfile.ZipFile(path) as zf:
            entries = {}
            for info in zf.infolist():
                key = info.filename[:-4] if info.filename.endswith(".npy") else None
                if key is None or info.is_dir():
                    raise DataError(f"{path} is not a {label}: unexpected entry {info.filename!r}")
                try:
                    entries[key] = _read_entry(zf, info)
                except DataError:
                    raise
                except _READ_ERRORS as exc:
                    raise DataError(f"{path} is corrupt: entry {info.filename!r} cannot be read ({exc})") from exc
    except DataError:
        raise
    except _READ_ERRORS as exc:  # truncated or damaged archive
        raise DataError(f"{path} is corrupt or truncated ({type(exc).__name__}: {exc})") from exc
    if "meta" not in entries:
        raise DataError(f"{path} is not a {label}: it has no 'meta' entry (entries: {sorted(entries)})")
    raw = entries.pop("meta")
    try:
        if raw.dtype.kind != "U" or raw.ndim != 0:
            raise ValueError(f"'meta' is a {raw.dtype} array of shape {raw.shape}, not a JSON string")
        meta = json.loads(str(raw))
        if not isinstance(meta, dict):
            raise ValueError("'meta' is not a JSON object")
    except ValueError as exc:
        raise DataError(f"{path} is not a {label}: {exc}") from exc
    if meta.get("format") != fmt:
        raise DataError(f"{path} is not a {label} (format={meta.get('format')!r}, expected {fmt!r})")
    found = meta.get("format_version")
    if isinstance(found, bool) or found != version:  # JSON true == 1 in Python: not a version
        raise DataError(
            f"{path} has {what} format version {found!r}; this cvximplicit reads "
            f"version {version}"
        )
    missing = [k for k in arrays if k not in entries] + [k for k in meta_keys if k not in meta]
    if missing:
        raise DataError(f"{path} is damaged: the {what} file lacks {missing}")
    for key in arrays:
        if entries[key].dtype.kind not in "biuf":
            raise DataError(f"{path} is damaged: array {key!r} has dtype {entries[key].dtype}, not a real number")
    return meta, entries


def damaged(path, what: str, exc: BaseException) -> DataError:
    """A :class:`DataError` for a file that read cleanly but whose contents do not make a valid ``what``."""
    return DataError(f"{path} is damaged: its contents do not make a valid {what} ({exc})")
