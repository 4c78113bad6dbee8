"""Property-based fuzz of the public entry points with malformed inputs.

Every malformed input must end in one of the package's documented exceptions
(:class:`cvximplicit.exceptions.CvxImplicitError` and its subclasses, which are
also ``ValueError``/``TypeError``/``OSError`` where documented) with a
non-empty message — never a raw ``KeyError``, ``BadZipFile``, ``EOFError``,
``MemoryError`` or ``TypeError`` from deep inside — and it must fail before any
solve (the sizes are small, and no solver is monkeypatched).  The command line
may also stop in argparse (``SystemExit`` with status 2, its documented usage
error).  A failed save or an interrupted run must leave an existing file intact.

The default run generates about 1700 inputs (the ``max_examples`` below) in
well under a minute on 2 cores.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cvximplicit import (
    FFNModel,
    ImplicitClassifier,
    ImplicitModel,
    ImplicitRegressor,
    load_mnist,
    partition,
    solve_convex_relu,
    solve_least_squares,
    train_greedy,
)
from cvximplicit.cli import main as cli_main
from cvximplicit.datasets.idx import parse_idx, read_idx, write_idx
from cvximplicit.exceptions import CvxImplicitError, DataError, InputTypeError, ValidationError
from cvximplicit.training.checkpoint import CHECKPOINT_NAME, Checkpoint

from . import _fakes  # noqa: F401  (registers the cheap "random_features" block solver)

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100)


# ------------------------------------------------------------------ helpers
def expect_documented(call, *, types=(CvxImplicitError,)):
    """Run ``call``; it must raise one of ``types`` with a non-empty message (anything else propagates)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except types as exc:
            assert str(exc).strip(), f"{type(exc).__name__} with an empty message"
            return exc
    pytest.fail("the malformed input was accepted")


def _finite(shape):
    return hnp.arrays(np.float64, shape, elements=st.floats(-10, 10, allow_nan=False, width=64))


@st.composite
def malformed(draw, shape):
    """A value that is not a finite real array of ``shape``: bad dtype, NaN/inf, wrong rank, ragged, junk."""
    base = draw(_finite(shape))
    kind = draw(st.sampled_from(
        ["complex", "complex_zero_imag", "numeric_strings", "text", "object_junk", "nonfinite", "rank",
         "ragged", "junk", "bytes", "datetime", "sparse"]
    ))
    if kind == "complex":
        return base + 1j * draw(_finite(shape))
    if kind == "complex_zero_imag":  # the imaginary part would be dropped silently
        return base.astype(np.complex128)
    if kind == "numeric_strings":
        return base.astype(str)
    if kind == "text":
        return np.full(shape, draw(st.text(min_size=1, max_size=5)), dtype=object)
    if kind == "object_junk":
        arr = base.astype(object)
        flat = arr.reshape(-1)
        if flat.size == 0:
            return np.array([{"a": 1}], dtype=object)
        bad = draw(st.sampled_from([{"a": 1}, None, "1.5", b"2", 1 + 2j, [1.0], object()]))
        flat[draw(st.integers(0, flat.size - 1))] = bad
        return arr
    if kind == "nonfinite":
        arr = base.copy()
        if arr.size == 0:
            return np.array([np.nan])
        arr.reshape(-1)[draw(st.integers(0, arr.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return arr
    if kind == "rank":
        return draw(st.sampled_from([base.reshape(1, 1, *base.shape), np.float64(1.0)]))
    if kind == "ragged":
        return [[1.0, 2.0], [3.0]]
    if kind == "bytes":
        return base.astype(str).astype(np.bytes_)
    if kind == "datetime":
        return np.zeros(shape, dtype="datetime64[s]")
    if kind == "sparse":
        import scipy.sparse

        return scipy.sparse.csr_matrix(np.atleast_2d(base))
    return draw(st.sampled_from([None, "X", {"X": 1}, object(), b"\x00", {1, 2}]))


# ----------------------------------------------------------- estimators
_X, _y = np.random.default_rng(0).standard_normal((12, 3)), np.linspace(-1, 1, 12)
_LABELS = np.array(["a", "b"] * 6)


def _estimator(cls, **params):
    return cls(**{"n": 4, "L": 2, "block_solver": "random_features", **params})


@pytest.fixture(scope="module")
def fitted():
    return (_estimator(ImplicitRegressor).fit(_X, _y), _estimator(ImplicitClassifier).fit(_X, _LABELS))


@FUZZ
@given(X=malformed((12, 3)), cls=st.sampled_from([ImplicitRegressor, ImplicitClassifier]))
def test_estimator_fit_rejects_malformed_X(X, cls):
    y = _y if cls is ImplicitRegressor else _LABELS
    expect_documented(lambda: _estimator(cls).fit(X, y))


@FUZZ
@given(y=malformed((12,)))
def test_regressor_fit_rejects_malformed_y(y):
    expect_documented(lambda: _estimator(ImplicitRegressor).fit(_X, y))


@FUZZ
@given(X=st.one_of(malformed((5, 3)), _finite(st.tuples(st.integers(1, 4), st.sampled_from([1, 2, 4, 7])))))
def test_estimator_predict_rejects_malformed_X(fitted, X):
    for est in fitted:
        expect_documented(lambda: est.predict(X))


_JUNK = st.sampled_from([None, -1, 0, 1, 2.5, "4", True, float("nan"), 10**9, [4], {"n": 4}, 1 + 1j])
_COMMON_JUNK = ["4", 2.5, float("nan"), 1 + 1j, {"n": 4}, [[4]]]
#: Invalid values of each estimator parameter (n=4, L=2 otherwise).
_BAD_PARAMS = {
    "n": [None, -1, 0, 1, True, 10**9, *_COMMON_JUNK],
    "L": [None, -1, 0, 1, True, 5, 10**9, *_COMMON_JUNK],
    "block_sizes": [-1, 0, [0, 4], [2, 2, 1], [2.5, 1.5], "22", *_COMMON_JUNK],
    "activation": [None, -1, "softplus", *_COMMON_JUNK],
    "block_solver": [None, -1, "nope", *_COMMON_JUNK],
    "random_state": [-1, *_COMMON_JUNK],
}


@FUZZ
@given(param_value=st.sampled_from([(k, v) for k, vs in _BAD_PARAMS.items() for v in vs]),
       cls=st.sampled_from([ImplicitRegressor, ImplicitClassifier]))
def test_estimator_rejects_junk_parameters(param_value, cls):
    param, value = param_value
    y = _y if cls is ImplicitRegressor else _LABELS
    expect_documented(lambda: _estimator(cls, **{param: value}).fit(_X, y))


def test_estimator_n_1e9_states_reports_the_memory_needed():
    exc = expect_documented(lambda: ImplicitRegressor(n=10**9, L=10).fit(_X, _y), types=(ValidationError,))
    assert "1000000000 × 1000000000 float64" in str(exc) and "EiB" in str(exc)


# ------------------------------------------------------------ ImplicitModel
_A = np.array([[0.0, 0.0], [0.5, 0.0]])
_MODEL = ImplicitModel(_A, np.ones((2, 2)), np.ones((1, 2)), block_sizes=[1, 1], input_bias=True)


@FUZZ
@given(which=st.sampled_from("ABCD"), value=st.one_of(malformed((2, 2)), _finite(st.tuples(
    st.integers(0, 3), st.integers(0, 3)))))
def test_model_construction_rejects_malformed_matrices(which, value):
    mats = {"A": _A, "B": np.ones((2, 2)), "C": np.ones((1, 2)), "D": np.zeros((1, 2))}
    good_shape = mats[which].shape
    if isinstance(value, np.ndarray) and value.dtype == np.float64 and value.shape == good_shape:
        return
    if which == "A" and isinstance(value, np.ndarray) and value.shape == (2, 2) and value.dtype == np.float64:
        return
    if which == "D" and value is None:  # D is optional: None means no feedthrough term
        return
    mats[which] = value
    expect_documented(lambda: ImplicitModel(mats["A"], mats["B"], mats["C"], mats["D"], block_sizes=[1, 1]))


_BAD_MODEL_OPTIONS = {
    "activation": [None, -1, "softplus", "RELU", *_COMMON_JUNK],
    "block_sizes": [-1, 0, [0, 2], [1, 2], [2.5, -0.5], "11", *_COMMON_JUNK],
    "input_bias": [None, 1, "yes", *_COMMON_JUNK],
    "info": [-1, "x", [1], *_COMMON_JUNK[:4]],
}


@FUZZ
@given(option_value=st.sampled_from([(k, v) for k, vs in _BAD_MODEL_OPTIONS.items() for v in vs]))
def test_model_construction_rejects_junk_options(option_value):
    option, value = option_value
    kwargs = {"activation": "relu", "block_sizes": [1, 1], "input_bias": False, "info": None, option: value}
    expect_documented(lambda: ImplicitModel(_A, np.ones((2, 1)), np.ones((1, 2)), **kwargs))


@FUZZ
@given(U=st.one_of(malformed((1, 4)), _finite(st.tuples(st.sampled_from([0, 2, 3]), st.integers(1, 3)))))
def test_model_predict_rejects_malformed_inputs(U):
    expect_documented(lambda: _MODEL.predict(U))


# ------------------------------------------------------------- model files
def _npz_bytes(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _model_bytes():
    with tempfile.TemporaryDirectory() as d:
        return _MODEL.save(Path(d) / "m.npz").read_bytes()


_GOOD = _model_bytes()
FLIPPED = b"flipped:"  # marks bytes that may still be a valid model file
_META = {"format": "cvximplicit.ImplicitModel", "format_version": 1, "activation": "relu",
         "block_sizes": [1, 1], "input_bias": True}


@st.composite
def junk_model_file(draw):
    """Bytes that are not a loadable model file."""
    kind = draw(st.sampled_from(
        ["random", "truncated", "flipped", "missing_entry", "unrelated_npz", "npy", "csv", "bad_meta",
         "bad_arrays", "zip_text", "pk_random"]
    ))
    if kind == "random":
        return draw(st.binary(max_size=300))
    if kind == "truncated":
        return _GOOD[: draw(st.integers(0, len(_GOOD) - 1))]
    if kind == "flipped":  # a flip in the data fails the CRC; one in a timestamp or padding is harmless
        data = bytearray(_GOOD)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        return FLIPPED + bytes(data)
    if kind == "missing_entry":
        arrays = {"meta": np.array(json.dumps(_META)), "A": _A, "B": np.ones((2, 2)), "C": np.ones((1, 2)),
                  "D": np.zeros((1, 2))}
        drop = draw(st.sets(st.sampled_from(sorted(arrays)), min_size=1))
        return _npz_bytes(**{k: v for k, v in arrays.items() if k not in drop})
    if kind == "unrelated_npz":
        return _npz_bytes(**{draw(st.sampled_from(["x", "arr_0", "weights"])): np.arange(3)})
    if kind == "npy":
        buf = io.BytesIO()
        np.save(buf, np.zeros(draw(st.integers(0, 5))))
        return buf.getvalue()
    if kind == "csv":
        return b"a,b,y\n1,2,3\n4,5,6\n"
    if kind == "bad_meta":
        # (block_sizes=None is valid: the model then has one block per state)
        meta = draw(st.one_of(
            st.just("not json"), st.just("[1, 2]"),
            st.fixed_dictionaries({}, optional={k: st.sampled_from(["x", 3, [1], {"a": 1}, True]
                                                                   + ([] if k == "block_sizes" else [None]))
                                                for k in _META}).map(lambda d: json.dumps({**_META, **d})),
        ))
        if meta == json.dumps(_META):
            meta = "{}"
        return _npz_bytes(meta=np.array(meta), A=_A, B=np.ones((2, 2)), C=np.ones((1, 2)), D=np.zeros((1, 2)))
    if kind == "bad_arrays":
        A = draw(st.sampled_from([np.ones((3, 2)), np.full((2, 2), np.nan), _A.astype(np.complex128),
                                  np.array(["a", "b"]), np.ones((2, 2, 1))]))
        return _npz_bytes(meta=np.array(json.dumps(_META)), A=A, B=np.ones((2, 2)), C=np.ones((1, 2)),
                          D=np.zeros((1, 2)))
    if kind == "zip_text":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(draw(st.sampled_from(["meta.npy", "A.npy", "readme.txt"])), draw(st.binary(max_size=50)))
        return buf.getvalue()
    return b"PK\x03\x04" + draw(st.binary(max_size=200))


@settings(FUZZ, max_examples=200)
@given(data=junk_model_file(), name=st.sampled_from(["model.npz", "model.npy", "model.csv", "model"]))
def test_model_load_rejects_junk_files_with_data_error(data, name):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        flipped = data.startswith(FLIPPED)
        path.write_bytes(data[len(FLIPPED):] if flipped else data)
        if flipped:
            try:  # either the file still reads as exactly the saved model, or DataError
                loaded = ImplicitModel.load(path)
            except DataError as exc:
                assert str(path) in str(exc)
            else:
                for key in "ABCD":
                    np.testing.assert_array_equal(getattr(loaded, key), getattr(_MODEL, key))
                return
        exc = expect_documented(lambda: ImplicitModel.load(path), types=(DataError,))
        assert str(path) in str(exc)
        # The same file as a checkpoint, and through the command line.
        os.replace(path, Path(d) / CHECKPOINT_NAME)
        exc = expect_documented(lambda: Checkpoint.load(d, "fingerprint"), types=(DataError,))
        assert CHECKPOINT_NAME in str(exc)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert cli_main(["inspect", str(Path(d) / CHECKPOINT_NAME)]) != 0
        assert err.getvalue().strip() and "Traceback" not in err.getvalue()


def test_model_load_missing_and_directory():
    with tempfile.TemporaryDirectory() as d:
        assert "no model file" in str(expect_documented(lambda: ImplicitModel.load(Path(d) / "none.npz")))
        assert "is a directory" in str(expect_documented(lambda: ImplicitModel.load(d)))


# ------------------------------------------------------------------ solvers
@FUZZ
@given(which=st.sampled_from(["X", "Y"]), value=malformed((2, 5)))
def test_least_squares_rejects_malformed(which, value):
    args = {"X": np.ones((2, 5)), "Y": np.ones((1, 5)), which: value}
    expect_documented(lambda: solve_least_squares(args["X"], args["Y"]))


_BAD_BETA = [-1.0, 0.0, float("nan"), float("inf"), "1", 1j, None, [0.1], np.ones(2)]


@FUZZ
@given(which_value=st.one_of(
    st.tuples(st.sampled_from(["M", "Y"]), malformed((6, 2))),
    st.tuples(st.just("M"), _finite(st.tuples(st.sampled_from([3, 5, 7]), st.integers(1, 2)))),
    st.tuples(st.just("beta"), st.sampled_from(_BAD_BETA)),
))
def test_convex_relu_rejects_malformed(which_value):
    which, value = which_value
    args = {"M": np.ones((6, 2)), "Y": np.ones(6), "beta": 0.1, which: value}
    expect_documented(lambda: solve_convex_relu(args["M"], args["Y"], beta=args["beta"], patterns="sampled",
                                                n_patterns=3))


@FUZZ
@given(n=_JUNK | st.integers(-3, 1), L=_JUNK | st.integers(-3, 1))
def test_partition_rejects_junk(n, L):
    expect_documented(lambda: partition(n, L))


@FUZZ
@given(which_value=st.one_of(
    st.tuples(st.sampled_from(["U", "Y"]), malformed((2, 6))),
    st.tuples(st.just("block_sizes"), st.sampled_from([-1, 0, [0, 4], [2.5, 1.5], [], "22", None, [10**9], *_COMMON_JUNK])),
))
def test_train_greedy_rejects_malformed(which_value):
    which, value = which_value
    args = {"U": np.ones((2, 6)), "Y": np.ones((1, 6)), "block_sizes": [1, 1], which: value}
    expect_documented(lambda: train_greedy(args["U"], args["Y"], block_sizes=args["block_sizes"],
                                           block_solver="random_features", verbose=0))


# ------------------------------------------------------------- data loaders
_IDX = bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big") + b"\x01\x02\x03"


@FUZZ
@given(data=st.one_of(st.binary(max_size=64), st.integers(0, len(_IDX) - 1).map(lambda k: _IDX[:k]),
                      st.binary(min_size=1, max_size=8).map(lambda b: _IDX + b)),
       gz=st.booleans())
def test_read_idx_rejects_junk(data, gz):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / ("x-idx1-ubyte.gz" if gz else "x-idx1-ubyte")
        path.write_bytes(data)
        try:
            parse_idx(data)  # a random byte string that happens to be valid IDX is fine when raw
            if not gz:
                return
        except DataError:
            pass
        expect_documented(lambda: read_idx(path), types=(DataError,))


@settings(FUZZ, max_examples=60)
@given(files=st.dictionaries(
    st.sampled_from(["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                     "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]),
    st.one_of(st.binary(max_size=40), st.just(_IDX)), min_size=1),
    verify=st.booleans())
def test_load_mnist_on_a_directory_of_junk(files, verify):
    with tempfile.TemporaryDirectory() as d:
        for name, data in files.items():
            (Path(d) / name).write_bytes(data)
        expect_documented(lambda: load_mnist(d, verify=verify), types=(DataError,))


@pytest.mark.parametrize("path", [5, None.__class__, b"/tmp", ["dir"]])
def test_loaders_reject_non_path_arguments(path):
    expect_documented(lambda: read_idx(path), types=(ValidationError,))
    expect_documented(lambda: load_mnist(path), types=(ValidationError,))


# ---------------------------------------------------------- command line
_TOKENS = st.sampled_from(["train", "predict", "inspect", "--n", "--L", "--task", "--out", "--solver-opts",
                           "-3", "0", "abc", "1e9", "{", "nope", "--bogus", ""])


@st.composite
def junk_argv(draw, folder):
    """Command lines that must fail: a junk file to predict/inspect, an invalid option, or random tokens."""
    kind = draw(st.sampled_from(["predict", "inspect", "train_bad", "tokens"]))
    junk = folder / draw(st.sampled_from(["junk.npz", "junk.npy", "junk.csv", "missing.npz"]))
    model = folder / "model.npz"
    if kind == "predict":
        return ["predict", str(draw(st.sampled_from([junk, model]))), str(junk)]
    if kind == "inspect":
        return ["inspect", str(junk)]
    if kind == "train_bad":
        option, value = draw(st.sampled_from([
            ("--n", "-3"), ("--n", "1000000000"), ("--n", "abc"), ("--L", "0"), ("--T", "0"),
            ("--task", "nope"), ("--method", "nope"), ("--solver", "NOPE"), ("--solver-opts", "{"),
            ("--solver-opts", '{"bogus_option": 1}'), ("--seed", "x"), ("--n-train", "-5"),
        ]))
        return ["train", "--quiet", option, value]
    tokens = draw(st.lists(_TOKENS, max_size=5))
    if tokens[:1] == ["train"] or tokens == []:
        tokens = ["train", "--bogus", *tokens]
    return tokens


@pytest.fixture(scope="module")
def cli_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    _MODEL.save(folder / "model.npz")
    (folder / "junk.npz").write_bytes(_GOOD[:100])
    buf = io.BytesIO()
    np.save(buf, np.ones((2, 5)))
    (folder / "junk.npy").write_bytes(buf.getvalue())
    (folder / "junk.csv").write_bytes(b"a,b\n1,x\n")
    return folder


@FUZZ
@given(data=st.data())
def test_cli_fails_cleanly_on_junk(cli_folder, data):
    argv = data.draw(junk_argv(cli_folder))
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            status = cli_main(argv)
        except SystemExit as exc:  # argparse's usage error
            status = exc.code
    assert status not in (0, None), f"{argv} succeeded"
    assert err.getvalue().strip(), f"{argv} failed without a message"
    assert "Traceback" not in err.getvalue()


# ------------------------------------------------- files survive failures
class _Interrupted(Exception):
    pass


class _FailingFile:
    """A file that takes ``cut`` bytes and then raises ``exc`` (at the latest when it is closed)."""

    def __init__(self, fh, cut, exc):
        self._fh, self._left, self._exc = fh, cut, exc

    def write(self, data):
        data = bytes(data)
        self._fh.write(data[: self._left])
        if len(data) >= self._left:
            self._left = 0
            raise self._exc
        self._left -= len(data)
        return len(data)

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._fh.close()
        if exc_info[0] is None:
            raise self._exc


@settings(FUZZ, max_examples=40)
@given(cut=st.integers(0, 2000), exc=st.sampled_from([OSError("disk full"), KeyboardInterrupt(), _Interrupted()]),
       what=st.sampled_from(["model", "checkpoint", "idx", "ffn"]))
def test_failed_save_never_damages_the_existing_file(cut, exc, what):
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        ckpt = Checkpoint(1, np.zeros((2, 2)), np.ones((2, 3)), np.ones((1, 1)), np.ones((1, 4)), [{}], "fp")
        save = {
            "model": lambda: _MODEL.save(d / "m.npz"),
            "checkpoint": lambda: ckpt.save(d),
            "idx": lambda: write_idx(d / "x-idx1-ubyte", np.arange(4, dtype=np.uint8)),
            "ffn": lambda: FFNModel([np.ones((2, 1)), np.ones((1, 2))], [np.zeros(2), np.zeros(1)]).save(d / "f.npz"),
        }[what]
        path = save()
        before = path.read_bytes()
        real_fdopen = os.fdopen
        with mock.patch("cvximplicit._atomic.os.fdopen",
                        lambda fd, mode: _FailingFile(real_fdopen(fd, mode), cut, exc)), pytest.raises(type(exc)):
            save()
        assert path.read_bytes() == before
        assert sorted(p.name for p in d.iterdir()) == [path.name]  # no temporary file left behind
        if what == "model":
            np.testing.assert_array_equal(ImplicitModel.load(path).A, _MODEL.A)
        elif what == "checkpoint":
            assert Checkpoint.load(d, "fp").completed == 1
        elif what == "idx":
            np.testing.assert_array_equal(read_idx(path), np.arange(4))
        else:
            assert FFNModel.load(path).hidden == (2,)


class _StopAtBlock:
    """The random-features block solver, interrupted (Ctrl-C) when it reaches block ``stop``."""

    name = "random_features"

    def __init__(self, stop):
        self.stop = stop
        self.inner = _fakes.RandomFeaturesBlockSolver()

    def solve(self, problem):
        if problem.block_index == self.stop:
            raise KeyboardInterrupt
        return self.inner.solve(problem)


@pytest.mark.parametrize("stop", [2, 3])
def test_interrupted_run_keeps_the_last_checkpoint_and_resumes(tmp_path, stop):
    rng = np.random.default_rng(0)
    U, Y = rng.standard_normal((2, 20)), rng.standard_normal((1, 20))
    with pytest.raises(KeyboardInterrupt):
        train_greedy(U, Y, block_sizes=[2, 2, 2], block_solver=_StopAtBlock(stop), checkpoint_dir=tmp_path, verbose=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_NAME]
    resumed = train_greedy(U, Y, block_sizes=[2, 2, 2], block_solver=_StopAtBlock(0), checkpoint_dir=tmp_path,
                           resume=True, verbose=0)
    fresh = train_greedy(U, Y, block_sizes=[2, 2, 2], block_solver=_StopAtBlock(0), verbose=0)
    assert resumed.resumed_from == stop - 1
    np.testing.assert_array_equal(resumed.model.A, fresh.model.A)


# ------------------------------------------------------- the one check
@settings(FUZZ, max_examples=150)
@given(value=malformed((3, 2)))
def test_as_real_array_is_the_one_check(value):
    from cvximplicit._validation import as_real_array

    exc = expect_documented(lambda: as_real_array(value, "X", ndim=2))
    assert "X" in str(exc)
    if isinstance(value, np.ndarray) and value.dtype.kind in "cSU":
        assert isinstance(exc, InputTypeError) and isinstance(exc, TypeError) and isinstance(exc, ValueError)
