"""Non-strict (self-loop) triangular ReLU models and Theorem 2 for general block sizes.

The reference computations are independent of :mod:`cvximplicit.nonstrict`:
Picard iteration and forward substitution of :class:`ImplicitModel`, the
fixed-point residual, and closed forms worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvximplicit.exceptions import ValidationError
from cvximplicit.model import ImplicitModel
from cvximplicit.nonstrict import (
    check_self_loops,
    is_nonstrict_triangular,
    self_loop_state,
    to_nonstrict,
    to_strict,
)
from cvximplicit.partition import block_slices
from cvximplicit.wellposedness import is_strictly_block_lower, pf_eigenvalue

from .conftest import random_strict_model

#: Agreement asked by issue 6 between the Picard fixed point and the converted
#: strict model's forward substitution.
EQUIV_TOL = 1e-10
#: Self-loops are drawn in [−MAX_LOOP, MAX_LOOP]; the reference Picard iteration runs a
#: fixed PICARD_ITERS steps, so the contraction leaves MAX_LOOP**PICARD_ITERS ≈ 1e-69 of
#: the initial error (after a transient of at most n steps of the nilpotent part).
#: A relative-step stopping rule is not used: with a_rr near −1 the floating-point
#: iteration ends in a rounding-level cycle (steps ~1e-12 · ‖X‖) and never meets
#: tol = 1e-12, although it is within ~1e-12 of the fixed point.
MAX_LOOP = 0.9
PICARD_ITERS = 1500
#: Exact conversions differ only by a few roundings of x·(1 − a)/(1 − a).
ROUND_TRIP_RTOL = 1e-13

block_sizes_st = st.lists(st.integers(1, 4), min_size=1, max_size=5)


def random_nonstrict_model(block_sizes, seed, *, upper=None, q=2, p=2, input_bias=False):
    """Random model of problem (13): block lower triangular, upper-triangular A_ii, |a_rr| <= MAX_LOOP.

    ``upper[i]`` says whether block i gets strictly upper self-loop entries
    (default: every block).
    """
    rng = np.random.default_rng(seed)
    n = sum(block_sizes)
    A = 0.4 * rng.standard_normal((n, n))
    for i, rows in enumerate(block_slices(block_sizes)):
        A[rows, rows.stop:] = 0.0
        A[rows, rows] = np.triu(A[rows, rows], k=1) if (upper is None or upper[i]) else 0.0
        idx = np.arange(rows.start, rows.stop)
        A[idx, idx] = rng.uniform(-MAX_LOOP, MAX_LOOP, idx.size)
    p_eff = p + int(input_bias)
    return ImplicitModel(
        A, rng.standard_normal((n, p_eff)), rng.standard_normal((q, n)), block_sizes=block_sizes,
        input_bias=input_bias,
    )


def picard(model, U):
    """Reference fixed point: ``X_{k+1} = ReLU(A X_k + B U)`` from 0, PICARD_ITERS steps (Theorem 1)."""
    BU = model.B @ model.prepare_inputs(U)
    X = np.zeros((model.n, BU.shape[1]))
    for _ in range(PICARD_ITERS):
        X = np.maximum(model.A @ X + BU, 0.0)
    return X


def assert_close(actual, desired, tol=EQUIV_TOL):
    scale = max(1.0, float(np.max(np.abs(desired))))
    np.testing.assert_allclose(actual, desired, rtol=tol, atol=tol * scale)


# ------------------------------------------------------------------ the lemma
@settings(max_examples=200, deadline=None)
@given(a=st.floats(-5.0, 0.999), s=st.floats(-10.0, 10.0, allow_subnormal=False))
def test_scalar_lemma_unique_solution(a, s):
    # x = ReLU(a x + s) has the solution ReLU(s)/(1 − a), and no other: a positive
    # solution must equal s/(1 − a) (so needs s > 0), the zero solution needs s <= 0.
    def residual(x):  # relative to the scale of the data, so that tiny s still separates 0 from s/(1 − a)
        return abs(x - max(a * x + s, 0.0)) / (max(abs(x), abs(s)) or 1.0)

    x = max(s, 0.0) / (1.0 - a)
    assert residual(x) <= 1e-12
    candidates = [0.0] + ([s / (1.0 - a)] if s / (1.0 - a) > 0 else [])
    assert [c for c in candidates if residual(c) <= 1e-12] == [x]


# -------------------------------------------------------- hand-worked examples
def test_paper_theorem2_scalar_blocks():
    # n_j = 1: x1 = ReLU(a11 x1 + b1 u), x2 = ReLU(a22 x2 + a21 x1 + b2 u);
    # Theorem 2: γ = a21/(1 − a22), λ_i = b_i/(1 − a_ii).
    a11, a22, a21, b1, b2 = 0.5, -0.25, 0.75, 1.0, -2.0
    A = np.array([[a11, 0.0], [a21, a22]])
    B = np.array([[b1], [b2]])
    model = ImplicitModel(A, B, np.array([[1.0, 1.0]]), block_sizes=[1, 1])
    strict, perm = to_strict(model)
    np.testing.assert_array_equal(perm, [0, 1])
    assert strict.block_sizes == [1, 1]
    np.testing.assert_allclose(strict.A, [[0.0, 0.0], [a21 / (1 - a22), 0.0]], rtol=1e-15)
    np.testing.assert_allclose(strict.B, [[b1 / (1 - a11)], [b2 / (1 - a22)]], rtol=1e-15)
    U = np.array([[1.0, -1.0, 3.0]])
    # by hand: u=1: x1 = 2, x2 = ReLU(0.75·2 − 2)/1.25 = 0; u=−1: x1 = 0, x2 = 2/1.25 = 1.6;
    # u=3: x1 = 6, x2 = ReLU(4.5 − 6)/1.25 = 0
    expected = np.array([[2.0, 0.0, 6.0], [0.0, 1.6, 0.0]])
    np.testing.assert_allclose(self_loop_state(model, U), expected, rtol=1e-15)
    np.testing.assert_allclose(model.state(U, method="picard", tol=1e-15), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(strict.state(U, method="forward"), expected, rtol=1e-15)


def test_hand_worked_block_of_two():
    # One block of size 2 after a scalar block:
    #   x1 = ReLU(u)
    #   x2 = ReLU(0.5 x2 + 1.0 x3 + 1.0 x1 − 1.0 u)   (reads x3: later row of its block)
    #   x3 = ReLU(−0.5 x3 + 3.0 x1)
    # Last row first: x3 = 2 x1; then x2 = 2 ReLU(2 x1 + x1 − u) = 2 ReLU(3 x1 − u).
    A = np.array([[0.0, 0.0, 0.0], [1.0, 0.5, 1.0], [3.0, 0.0, -0.5]])
    B = np.array([[1.0], [-1.0], [0.0]])
    model = ImplicitModel(A, B, np.array([[1.0, 1.0, 1.0]]), block_sizes=[1, 2])
    U = np.array([[2.0, -1.0]])
    x1 = np.maximum(U[0], 0)
    x3 = 2 * x1
    x2 = 2 * np.maximum(3 * x1 - U[0], 0)
    expected = np.vstack([x1, x2, x3])
    np.testing.assert_allclose(self_loop_state(model, U), expected, rtol=1e-15)
    strict, perm = to_strict(model)
    # refined partition: block 2 split into singletons, last row first: [x1; x3; x2]
    assert strict.block_sizes == [1, 1, 1]
    np.testing.assert_array_equal(np.argsort(perm), [0, 2, 1])
    np.testing.assert_allclose(strict.A, [[0, 0, 0], [2.0, 0, 0], [2.0, 2.0, 0]], rtol=1e-15)
    np.testing.assert_allclose(strict.B.ravel(), [1.0, 0.0, -2.0], rtol=1e-15)
    np.testing.assert_allclose(strict.state(U)[perm], expected, rtol=1e-15)


# ------------------------------------------------------ forward: to_strict
@settings(max_examples=60, deadline=None)
@given(sizes=block_sizes_st, seed=st.integers(0, 100_000), data=st.data(), bias=st.booleans())
def test_picard_fixed_point_equals_strict_forward(sizes, seed, data, bias):
    upper = data.draw(st.lists(st.booleans(), min_size=len(sizes), max_size=len(sizes)))
    model = random_nonstrict_model(sizes, seed, upper=upper, input_bias=bias)
    check_self_loops(model)
    U = np.random.default_rng(seed + 1).standard_normal((2, 23))
    X_picard = picard(model, U)

    strict, perm = to_strict(model)
    assert is_strictly_block_lower(strict.A, strict.block_sizes)
    assert strict.wellposedness().strictly_block_triangular
    assert sorted(perm.tolist()) == list(range(model.n))
    X_strict = strict.state(U, method="forward")
    assert_close(X_strict[perm], X_picard)
    assert_close(self_loop_state(model, U), X_picard)
    # the fixed-point equation of the non-strict model itself
    X = self_loop_state(model, U)
    assert_close(np.maximum(model.A @ X + model.B @ model.prepare_inputs(U), 0.0), X, tol=1e-12)
    assert_close(strict.predict(U), model.C @ X_picard + model.D @ model.prepare_inputs(U))
    # blocks with a diagonal self-loop block stay whole; the others become singletons
    expected_sizes = [s for s, u in zip(sizes, upper) for s in ([1] * s if u and s > 1 else [s])]
    assert strict.block_sizes == expected_sizes


@settings(max_examples=30, deadline=None)
@given(sizes=block_sizes_st, seed=st.integers(0, 100_000))
def test_pf_eigenvalue_is_largest_self_loop(sizes, seed):
    # |A| is triangular after the refinement permutation: its eigenvalues are |a_rr|.
    model = random_nonstrict_model(sizes, seed)
    assert pf_eigenvalue(model.A) == pytest.approx(np.max(np.abs(np.diag(model.A))), rel=1e-6, abs=1e-9)
    assert model.wellposedness().well_posed


# ----------------------------------------------------- converse: to_nonstrict
@settings(max_examples=60, deadline=None)
@given(
    sizes=block_sizes_st, seed=st.integers(0, 100_000), eps=st.floats(0.1, 1.9), per_state=st.booleans(),
)
def test_strict_to_nonstrict_to_strict(sizes, seed, eps, per_state):
    n = sum(sizes)
    strict = random_strict_model(n, sizes, p=2, q=2, seed=seed, scale=0.5)
    if per_state:
        eps = np.random.default_rng(seed).uniform(0.1, 1.9, n)
    nonstrict = to_nonstrict(strict, eps=eps)
    check_self_loops(nonstrict)
    assert nonstrict.block_sizes == sizes
    np.testing.assert_allclose(np.diag(nonstrict.A), 1.0 - np.broadcast_to(eps, (n,)), rtol=1e-15)
    U = np.random.default_rng(seed + 2).standard_normal((2, 19))
    X_strict = strict.state(U, method="forward")
    assert_close(picard(nonstrict, U), X_strict)
    assert_close(self_loop_state(nonstrict, U), X_strict)

    back, perm = to_strict(nonstrict)
    np.testing.assert_array_equal(perm, np.arange(n))
    assert back.block_sizes == sizes
    for name in "ABCD":
        np.testing.assert_allclose(getattr(back, name), getattr(strict, name), rtol=ROUND_TRIP_RTOL, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(sizes=block_sizes_st, seed=st.integers(0, 100_000), data=st.data())
def test_nonstrict_to_strict_to_nonstrict_is_identity(sizes, seed, data):
    upper = data.draw(st.lists(st.booleans(), min_size=len(sizes), max_size=len(sizes)))
    model = random_nonstrict_model(sizes, seed, upper=upper)
    strict, perm = to_strict(model)
    eps = (1.0 - np.diag(model.A))[np.argsort(perm)]  # indexed like the strict model's states
    again = to_nonstrict(strict, eps=eps, block_sizes=sizes)
    assert again.block_sizes == sizes
    for name in "ABCD":
        np.testing.assert_allclose(getattr(again, name), getattr(model, name), rtol=ROUND_TRIP_RTOL, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(strict_sizes=st.lists(st.integers(1, 3), min_size=2, max_size=6), seed=st.integers(0, 100_000),
       eps=st.floats(0.1, 1.9), data=st.data())
def test_merging_strict_blocks_gives_upper_triangular_self_loops(strict_sizes, seed, eps, data):
    # Merge consecutive strict blocks into one non-strict block: states are reversed
    # inside it and the couplings become strictly upper entries of A_ii.
    cuts = data.draw(st.sets(st.integers(1, len(strict_sizes) - 1)))
    edges = [0, *sorted(cuts), len(strict_sizes)]
    merged = [sum(strict_sizes[a:b]) for a, b in zip(edges[:-1], edges[1:])]
    n = sum(strict_sizes)
    strict = random_strict_model(n, strict_sizes, p=2, q=1, seed=seed, scale=0.5)
    nonstrict = to_nonstrict(strict, eps=eps, block_sizes=merged)
    check_self_loops(nonstrict)
    assert nonstrict.block_sizes == merged
    U = np.random.default_rng(seed + 3).standard_normal((2, 11))
    assert_close(picard(nonstrict, U), self_loop_state(nonstrict, U))
    assert_close(nonstrict.C @ picard(nonstrict, U) + nonstrict.D @ nonstrict.prepare_inputs(U), strict.predict(U))
    back, perm = to_strict(nonstrict)
    X_back = back.state(U)[perm]
    assert_close(X_back, self_loop_state(nonstrict, U))
    assert_close(back.predict(U), strict.predict(U))


# ------------------------------------------------------------------ errors
def _valid():
    """A valid non-strict A for block_sizes=[2, 1]: upper-triangular A_11, self-loops in (−1, 1)."""
    return np.array([[0.5, 0.2, 0.0], [0.0, -0.5, 0.0], [1.0, 1.0, 0.3]])


@pytest.mark.parametrize(
    "entry, value, message",
    [
        ((0, 2), 0.1, r"A\[0, 2\] = 0\.1 lies in block A_\{1,2\} above the block diagonal"),
        ((1, 0), 0.4, r"A\[1, 0\] = 0\.4 lies below the diagonal inside the self-loop block A_\{1,1\}"),
        ((0, 0), 1.0, r"self-loop weight A\[0, 0\] = 1 \(block 1\) must satisfy -1 < a_rr < 1"),
        ((1, 1), -1.0, r"self-loop weight A\[1, 1\] = -1 \(block 1\) must satisfy -1 < a_rr < 1"),
        ((2, 2), 1.5, r"self-loop weight A\[2, 2\] = 1\.5 \(block 2\)"),
    ],
)
def test_invalid_self_loops_are_rejected(entry, value, message):
    A = _valid()
    check_self_loops(ImplicitModel(A, np.ones((3, 1)), np.ones((1, 3)), block_sizes=[2, 1]))  # valid: passes
    A[entry] = value
    model = ImplicitModel(A, np.ones((3, 1)), np.ones((1, 3)), block_sizes=[2, 1])
    assert not is_nonstrict_triangular(model)
    for fn in (check_self_loops, to_strict, lambda m: self_loop_state(m, np.ones((1, 2)))):
        with pytest.raises(ValidationError, match=message):
            fn(model)


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "leaky_relu"])
def test_other_activations_are_rejected(act):
    model = ImplicitModel(_valid(), np.ones((3, 1)), np.ones((1, 3)), block_sizes=[2, 1], activation=act)
    strict = random_strict_model(3, [1, 2], activation=act)
    message = rf"only covered by Theorem 2 for activation='relu'; got activation='{act}'"
    assert not is_nonstrict_triangular(model)
    for fn, arg in ((check_self_loops, model), (to_strict, model), (to_nonstrict, strict)):
        with pytest.raises(ValidationError, match=message):
            fn(arg)
    with pytest.raises(ValidationError, match=message):
        self_loop_state(model, np.ones((1, 2)))


def test_not_a_model_is_rejected():
    with pytest.raises(ValidationError, match="model must be a cvximplicit.ImplicitModel; got ndarray"):
        check_self_loops(np.eye(2))


def test_to_nonstrict_needs_a_strict_model():
    model = ImplicitModel(_valid(), np.ones((3, 1)), np.ones((1, 3)), block_sizes=[2, 1])
    with pytest.raises(ValidationError, match="needs a strictly block lower-triangular model.*to_strict first"):
        to_nonstrict(model)


@pytest.mark.parametrize(
    "eps, message",
    [
        (0.0, r"open interval \(0, 2\).*got eps=0\.0"),
        (2.0, r"got eps=2\.0"),
        (float("nan"), r"got eps=nan"),
        ([0.5, 0.5, 2.5], r"got eps\[2\]=2\.5"),
        ([0.5, 0.5], r"array of shape \(3,\); got shape \(2,\)"),
        ("x", r"eps must be a float or an array of shape \(3,\)"),
    ],
)
def test_to_nonstrict_eps_validation(eps, message):
    strict = random_strict_model(3, [1, 2])
    with pytest.raises(ValidationError, match=message):
        to_nonstrict(strict, eps=eps)


def test_to_nonstrict_block_sizes_must_merge_strict_blocks():
    strict = random_strict_model(4, [2, 2])
    with pytest.raises(ValidationError, match=r"must merge consecutive blocks of the strict partition \[2, 2\]"):
        to_nonstrict(strict, block_sizes=[1, 3])
    with pytest.raises(ValidationError, match="block_sizes must sum to n=4"):
        to_nonstrict(strict, block_sizes=[2, 1])
    assert to_nonstrict(strict, block_sizes=[4]).block_sizes == [4]


def test_strict_relu_models_are_nonstrict_triangular():
    strict = random_strict_model(5, [2, 3])
    assert is_nonstrict_triangular(strict)
    X = self_loop_state(strict, np.ones((2, 4)))
    np.testing.assert_array_equal(X, strict.state(np.ones((2, 4)), method="forward"))
