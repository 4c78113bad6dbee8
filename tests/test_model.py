"""ImplicitModel: fixed point, well-posedness, orderings, persistence and validation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvximplicit.exceptions import ConvergenceError, ConvergenceWarning, DataError, ValidationError
from cvximplicit.model import ImplicitModel
from cvximplicit.partition import partition
from cvximplicit.wellposedness import inf_norm, pf_eigenvalue

from .conftest import random_strict_model

ACTS = ["relu", "leaky_relu", "tanh", "sigmoid"]


def test_hand_computed_fixed_point():
    # x1 = relu(u), x2 = relu(0.5 x1 - u); y = x1 + 2 x2
    A = np.array([[0.0, 0.0], [0.5, 0.0]])
    B = np.array([[1.0], [-1.0]])
    C = np.array([[1.0, 2.0]])
    model = ImplicitModel(A, B, C, block_sizes=[1, 1])
    U = np.array([[2.0, -1.0]])
    np.testing.assert_allclose(model.state(U), [[2.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(model.predict(U), [[2.0, 2.0]])


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 12), data=st.data(), act=st.sampled_from(ACTS), seed=st.integers(0, 10_000),
    bias=st.booleans(),
)
def test_picard_equals_forward_substitution(n, data, act, seed, bias):
    L = data.draw(st.integers(2, n))
    model = random_strict_model(n, partition(n, L), activation=act, seed=seed, scale=0.7, input_bias=bias)
    U = np.random.default_rng(seed + 1).standard_normal((2, 17))
    X_fwd = model.state(U, method="forward")
    X_pic = model.state(U, method="picard", tol=1e-14)
    np.testing.assert_allclose(X_pic, X_fwd, rtol=1e-10, atol=1e-10)
    # The fixed-point equation itself holds.
    from cvximplicit.activations import get_activation

    phi = get_activation(act)
    np.testing.assert_allclose(phi(model.A @ X_fwd + model.B @ model.prepare_inputs(U)), X_fwd, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 15), seed=st.integers(0, 10_000))
def test_pf_eigenvalue_at_most_inf_norm(n, seed):
    A = np.random.default_rng(seed).standard_normal((n, n))
    assert pf_eigenvalue(A) <= inf_norm(A) * (1 + 1e-12) + 1e-12


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 15), data=st.data(), seed=st.integers(0, 10_000))
def test_strictly_triangular_is_well_posed(n, data, seed):
    L = data.draw(st.integers(2, n))
    wp = random_strict_model(n, partition(n, L), seed=seed, scale=5.0).wellposedness()
    assert wp.strictly_block_triangular and wp.well_posed and wp.pf_eigenvalue == 0.0


def test_dense_contraction_wellposed_and_picard_converges(rng):
    A = rng.standard_normal((6, 6))
    A *= 0.9 / inf_norm(A)
    model = ImplicitModel(A, rng.standard_normal((6, 2)), rng.standard_normal((1, 6)), activation="tanh")
    wp = model.wellposedness()
    assert not wp.strictly_block_triangular and wp.well_posed and wp.pf_eigenvalue < 1
    with pytest.raises(ValidationError, match="method='forward' needs a strictly block lower-triangular A"):
        model.state(rng.standard_normal((2, 3)), method="forward")
    X = model.state(rng.standard_normal((2, 3)))  # auto -> Picard
    assert X.shape == (6, 3)


def test_picard_nonconvergence_reports_residual():
    A = np.array([[0.0, 2.0], [2.0, 0.0]])  # λ_PF = 2: iterates blow up
    model = ImplicitModel(A, np.ones((2, 1)), np.ones((1, 2)), activation="relu")
    assert not model.wellposedness().well_posed
    with pytest.raises(ConvergenceError, match=r"did not converge in max_iter=20 .*relative residual"):
        model.state(np.ones((1, 2)), max_iter=20)
    with pytest.warns(ConvergenceWarning, match="relative residual"):
        model.state(np.ones((1, 2)), max_iter=20, on_nonconvergence="warn")


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 10), data=st.data(), seed=st.integers(0, 1000))
def test_paper_order_round_trip(n, data, seed):
    L = data.draw(st.integers(2, n))
    model = random_strict_model(n, partition(n, L), seed=seed, q=2)
    paper = model.to_paper_order()
    # In the paper's layout [X_L; …; X_1], A is strictly upper block triangular.
    back = ImplicitModel.from_paper_order(paper["A"], paper["B"], paper["C"], paper["D"], block_sizes=paper["block_sizes"])
    sizes = paper["block_sizes"]
    edges = np.concatenate([[0], np.cumsum(sizes)])
    for i in range(len(sizes)):
        assert not np.any(paper["A"][edges[i]:edges[i + 1], : edges[i + 1]])
    np.testing.assert_array_equal(back.A, model.A)
    np.testing.assert_array_equal(back.B, model.B)
    np.testing.assert_array_equal(back.C, model.C)
    assert back.block_sizes == model.block_sizes
    U = np.random.default_rng(seed).standard_normal((2, 5))
    paper_model = ImplicitModel(paper["A"], paper["B"], paper["C"], block_sizes=sizes)
    np.testing.assert_allclose(paper_model.predict(U, method="picard", tol=1e-14), model.predict(U), atol=1e-10)


def test_save_load_bit_exact(tmp_path):
    model = random_strict_model(7, [2, 2, 3], q=3, activation="tanh", seed=3, input_bias=True)
    path = model.save(tmp_path / "m.npz")
    loaded = ImplicitModel.load(path)
    for name in "ABCD":
        a, b = getattr(model, name), getattr(loaded, name)
        assert a.tobytes() == b.tobytes() and a.shape == b.shape
    assert (loaded.activation, loaded.block_sizes, loaded.input_bias) == ("tanh", [2, 2, 3], True)
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary file left behind


def test_save_failure_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    good = random_strict_model(4, [2, 2], seed=1)
    good.save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        random_strict_model(4, [2, 2], seed=2).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_load_errors(tmp_path):
    with pytest.raises(DataError, match="no model file"):
        ImplicitModel.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="is not a cvximplicit model file"):
        ImplicitModel.load(bad)


def test_bias_row_appended():
    model = ImplicitModel(np.zeros((1, 1)), np.array([[1.0, 3.0]]), np.ones((1, 1)), input_bias=True)
    np.testing.assert_allclose(model.predict(np.array([[-1.0, 1.0]])), [[2.0, 4.0]])
    assert model.p == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(A=np.zeros((2, 3))), r"A must be square \(n × n\); got shape \(2, 3\)"),
        (dict(B=np.zeros((3, 1))), r"B must have n=2 rows"),
        (dict(C=np.zeros((1, 3))), r"C must have n=2 columns"),
        (dict(D=np.zeros((2, 1))), r"D must have shape \(q, p_eff\) = \(1, 1\)"),
        (dict(A=np.array([[np.nan, 0], [0, 0]])), "A contains NaN or inf"),
        (dict(B=np.array([[np.inf], [0]])), "B contains NaN or inf"),
        (dict(A=np.zeros(4)), "A must be a 2-D matrix"),
        (dict(activation="softplus"), r"activation must be one of \['leaky_relu', 'relu', 'sigmoid', 'tanh'\]; got 'softplus'"),
        (dict(block_sizes=[1, 2]), r"block_sizes must sum to n=2; got \[1, 2\]"),
        (dict(block_sizes=[0, 2]), "block_sizes must be a non-empty list of positive integers"),
        (dict(input_bias="yes"), "input_bias must be True or False"),
    ],
)
def test_validation_messages(kwargs, message):
    args = dict(A=np.zeros((2, 2)), B=np.zeros((2, 1)), C=np.zeros((1, 2)))
    args.update(kwargs)
    A, B, C = args.pop("A"), args.pop("B"), args.pop("C")
    with pytest.raises(ValidationError, match=message):
        ImplicitModel(A, B, C, **args)


def test_input_validation_messages():
    model = random_strict_model(3, [1, 2], p=2, seed=0)
    with pytest.raises(ValidationError, match=r"U must have shape \(p, m\) = \(2, m\); got \(5, 2\) \(columns are "
                                              r"samples; did you mean U.T, or layout='rows' for rows as samples\?\)"):
        model.predict(np.zeros((5, 2)))
    with pytest.raises(ValidationError, match="U contains NaN or inf"):
        model.predict(np.array([[np.nan], [0.0]]))
    with pytest.raises(ValidationError, match="method must be one of"):
        model.state(np.zeros((2, 1)), method="newton")


@pytest.mark.parametrize(
    "n, L, expected",
    [(30, 10, [3] * 10), (10, 3, [3, 3, 4]), (32, 16, [2] * 16), (2, 2, [1, 1]), (7, 7, [1] * 7)],
)
def test_partition(n, L, expected):
    assert partition(n, L) == expected


@pytest.mark.parametrize(
    "n, L, message",
    [
        (1, 1, r"n must be an integer > 1; got n=1"),
        (30, 40, r"L must be an integer in \[2, n\]; got L=40 with n=30: every block needs at least one state"),
        (30, 1, r"L must be an integer in \[2, n\]; got L=1 with n=30: with one block the strictly block-triangular "
                r"A is zero"),
        (30.0, 3, r"n must be an integer > 1; got n=30.0"),
        (30, True, r"L must be an integer in \[2, n\]; got L=True"),
    ],
)
def test_partition_validation(n, L, message):
    with pytest.raises(ValidationError, match=message):
        partition(n, L)


def test_n_params_counts_structural_entries():
    model = random_strict_model(30, partition(30, 10), p=1, q=1, input_bias=True)
    # strictly lower block part of A: (30² − 10·3²)/2 = 405; B: 30×2; C: 1×30.
    assert model.n_params == 405 + 60 + 30


def test_layout_rows_and_a_square_input():
    from cvximplicit import OrientationWarning

    model = random_strict_model(3, [1, 2], p=2, seed=0)
    U = np.random.default_rng(1).standard_normal((2, 5))
    np.testing.assert_array_equal(model.predict(U.T, layout="rows"), model.predict(U).T)
    np.testing.assert_array_equal(model.state(U.T, layout="rows"), model.state(U).T)
    with pytest.raises(ValidationError, match=r"U must have shape \(m, p\) = \(m, 2\) with layout='rows'"):
        model.predict(U, layout="rows")
    with pytest.raises(ValidationError, match="layout must be 'columns' .*, 'rows' .* or None .*; got layout='row'"):
        model.predict(U, layout="row")
    square = U[:, :2]  # (p, m) = (2, 2): reads either way
    with pytest.warns(OrientationWarning, match=r"U is square \(2 × 2\).*takes it as \(p, m\), columns are samples.*"
                                                r"layout='rows'"):
        out = model.predict(square)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OrientationWarning)  # a stated layout is not ambiguous
        np.testing.assert_array_equal(out, model.predict(square, layout="columns"))
        np.testing.assert_array_equal(model.predict(square, layout="rows"), model.predict(square.T, layout="columns").T)

