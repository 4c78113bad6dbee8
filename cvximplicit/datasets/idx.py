"""Reader and writer for the IDX file format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number, one big-endian ``uint32`` per dimension,
then the data in C (row-major) order, big-endian::

    magic = 0x00 0x00 <dtype code> <ndim>
    dims  = ndim x uint32 (big-endian)
    data  = prod(dims) items of the dtype (big-endian)

Dtype codes: ``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32,
``0x0D`` float32, ``0x0E`` float64 (``0x0A`` is unassigned).  MNIST's images
have magic ``0x00000803`` (uint8, 3-D: count x rows x cols) and its labels
``0x00000801`` (uint8, 1-D).  Files may be raw or gzip-compressed (``.gz``).
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .._atomic import atomic_write
from ..exceptions import DataError, ValidationError

__all__ = ["read_idx", "write_idx", "read_idx_bytes", "parse_idx", "IDX_DTYPES"]

#: IDX dtype code -> numpy dtype (big-endian, as stored in the file).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_CODE_OF_KIND = {(dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()}


def read_idx_bytes(path: str | os.PathLike) -> bytes:
    """Return the (decompressed) bytes of an IDX file; ``.gz`` files are gunzipped.

    Raises
    ------
    DataError
        If the file does not exist, cannot be read, or is a corrupt/truncated gzip stream.
    """
    path = _as_path(path)
    if path.is_dir():
        raise DataError(f"IDX file {str(path)!r} is a directory; pass the path of the file itself")
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"IDX file {str(path)!r} does not exist") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataError(f"IDX file {str(path)!r} is not a valid gzip stream (corrupt or truncated): {exc}") from exc
    except OSError as exc:
        raise DataError(f"cannot read IDX file {str(path)!r}: {exc}") from exc


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an uncompressed IDX file into a native-endian array.

    Parameters
    ----------
    data : bytes
        The whole file content (decompressed).
    source : str
        Name used in error messages (usually the file path).

    Returns
    -------
    ndarray
        A new, writable, native-byte-order array of shape ``dims``.

    Raises
    ------
    DataError
        If the magic number is wrong, the dtype code unknown, or the size of
        the data differs from what the header declares.
    ValidationError
        If ``data`` is not bytes.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValidationError(f"data must be the bytes of an IDX file; got {type(data).__name__}")
    n = len(data)
    if n < 4:
        raise DataError(f"IDX file {source!r} is truncated: {n} bytes, shorter than the 4-byte magic number")
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    magic = int.from_bytes(data[:4], "big")
    if zero0 != 0 or zero1 != 0:
        raise DataError(
            f"IDX file {source!r} has a bad magic number 0x{magic:08X}: the first two bytes must be zero "
            "(is it an IDX file? a gzip file whose name lacks '.gz'?)"
        )
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(f"IDX file {source!r} has an unknown dtype code 0x{code:02X} (magic 0x{magic:08X}); known: {known}")
    if ndim == 0:
        raise DataError(f"IDX file {source!r} declares 0 dimensions (magic 0x{magic:08X}); expected at least 1")
    header = 4 + 4 * ndim
    if n < header:
        raise DataError(
            f"IDX file {source!r} is truncated: {n} bytes, but its {ndim}-dimensional header alone needs {header} bytes"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_DTYPES[code]
    expected = header + int(np.prod(dims, dtype=object)) * dtype.itemsize
    if n != expected:
        what = "truncated" if n < expected else "longer than declared"
        raise DataError(
            f"IDX file {source!r} is {what}: header declares shape {tuple(dims)} of {dtype.name} "
            f"= {expected} bytes in all, but the file has {n} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw, or gzip-compressed if the name ends in ``.gz``).

    Parameters
    ----------
    path : str or path-like
        File to read.

    Returns
    -------
    ndarray
        Native-endian array with the declared shape and dtype, e.g. ``uint8``
        of shape ``(60000, 28, 28)`` for MNIST's training images (one image
        per index of the first axis) and ``(60000,)`` for its labels.

    Raises
    ------
    DataError
        If the file is missing, unreadable, a corrupt gzip stream, has a bad
        magic number or unknown dtype code, or its size does not match the
        declared dimensions (the message gives both byte counts).

    Examples
    --------
    >>> import tempfile, os, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "x-idx1-ubyte.gz")
    >>> _ = write_idx(p, np.arange(5, dtype=np.uint8))
    >>> read_idx(p)
    array([0, 1, 2, 3, 4], dtype=uint8)
    """
    return parse_idx(read_idx_bytes(path), str(path))


def write_idx(path: str | os.PathLike, array) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed if ``path`` ends in ``.gz``).

    The write is atomic (temporary file, then rename).

    Parameters
    ----------
    path : str or path-like
        Destination; parent directories are created.
    array : array_like
        At least 1-D, at most 255 dimensions, each < 2**32, of dtype uint8,
        int8, int16, int32, float32 or float64.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    ValidationError
        If the dtype has no IDX code or the shape cannot be represented.
    """
    array = np.asarray(array)
    code = _CODE_OF_KIND.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise ValidationError(
            "array must have dtype uint8, int8, int16, int32, float32 or float64 to be written as IDX; "
            f"got dtype {array.dtype}"
        )
    if not 1 <= array.ndim <= 255:
        raise ValidationError(f"array must have 1 to 255 dimensions for IDX; got ndim={array.ndim}")
    if any(d >= 2**32 for d in array.shape):
        raise ValidationError(f"every dimension must be < 2**32 for IDX; got shape {array.shape}")
    payload = (
        bytes([0, 0, code, array.ndim])
        + struct.pack(f">{array.ndim}I", *array.shape)
        + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    )
    path = _as_path(path)
    if path.name.endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    return atomic_write(path, lambda fh: fh.write(payload))


def _as_path(path) -> Path:
    """``path`` as a :class:`~pathlib.Path`, or a :class:`ValidationError` for other types."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise ValidationError(f"path must be a str or path-like; got {type(path).__name__}")
    return Path(path)
