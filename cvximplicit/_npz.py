"""Versioned ``.npz`` files: arrays stored bit-exactly plus a JSON ``meta`` entry, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._atomic import atomic_write
from .exceptions import DataError


def write_npz(path, arrays: dict, meta: dict) -> Path:
    """Atomically write ``arrays`` and ``meta`` (JSON, stored under the key ``"meta"``) to ``path``."""
    payload = {**arrays, "meta": np.array(json.dumps(meta))}
    return atomic_write(path, lambda fh: np.savez(fh, **payload))


def read_npz(path, *, fmt: str, version: int, what: str) -> tuple[dict, dict]:
    """``(meta, arrays)`` of a file written by :func:`write_npz` with ``meta["format"] == fmt``.

    Raises
    ------
    DataError
        If the file is missing, unreadable, of another format or of another
        format version; ``what`` names the kind of file in the message.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no model file at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {k: data[k] for k in data.files if k != "meta"}
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{path} is not a cvximplicit {what} file ({exc})") from exc
    if meta.get("format") != fmt:
        raise DataError(f"{path} is not a cvximplicit {what} file (format={meta.get('format')!r})")
    if meta.get("format_version") != version:
        raise DataError(
            f"{path} has {what} format version {meta.get('format_version')}; this cvximplicit reads "
            f"version {version}"
        )
    return meta, arrays
