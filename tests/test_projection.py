"""Projection onto {‖A‖∞ ≤ κ}: against cvxpy, the variational inequality, and its invariants."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvximplicit.baselines.projection import PROJECTION_METHODS, project_inf_norm_ball
from cvximplicit.exceptions import ValidationError

#: Clarabel with its gap/feasibility tolerances tightened to 1e-12 matches to
#: ~1e-7 (with its defaults, 1e-8 relative gap, entries were off by 5e-4 at 30 × 30);
#: the sort-based projection is exact up to rounding.
CVXPY_TOL = 1e-6
CLARABEL_OPTS = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12}
#: Bisection stops at a bracket of 1e-12 · max|a|.
BISECTION_TOL = 1e-9


def cvxpy_projection(A, kappa):
    Z = cp.Variable(A.shape)
    problem = cp.Problem(cp.Minimize(cp.sum_squares(Z - A)), [cp.sum(cp.abs(Z), axis=1) <= kappa])
    problem.solve(solver="CLARABEL", **CLARABEL_OPTS)
    assert problem.status == "optimal"
    return Z.value


@pytest.mark.parametrize("method", PROJECTION_METHODS)
@pytest.mark.parametrize("seed,shape,kappa", [(0, (6, 6), 0.95), (1, (8, 8), 0.3), (2, (5, 9), 2.0),
                                               (3, (30, 30), 0.95)])
def test_matches_cvxpy(method, seed, shape, kappa):
    A = np.random.default_rng(seed).standard_normal(shape)
    A[0] *= 0.01  # one row already inside the ball
    Z = project_inf_norm_ball(A, kappa, method=method)
    np.testing.assert_allclose(Z, cvxpy_projection(A, kappa), atol=CVXPY_TOL)


@pytest.mark.parametrize("method", PROJECTION_METHODS)
def test_rows_inside_are_unchanged_and_result_is_feasible(method):
    rng = np.random.default_rng(4)
    A = rng.standard_normal((10, 10))
    inside = np.abs(A).sum(axis=1) <= 3.0
    A[::2] *= 0.05  # make sure some rows are inside
    inside = np.abs(A).sum(axis=1) <= 3.0
    assert inside.any() and (~inside).any()
    Z = project_inf_norm_ball(A, 3.0, method=method)
    assert np.array_equal(Z[inside], A[inside])  # bit for bit
    assert np.abs(Z).sum(axis=1).max() <= 3.0 + 1e-12
    np.testing.assert_allclose(np.abs(Z[~inside]).sum(axis=1), 3.0, atol=BISECTION_TOL)
    assert np.array_equal(A, project_inf_norm_ball(A, 3.0, method=method)) is False  # input not modified...
    assert np.abs(A).sum(axis=1).max() > 3.0  # ...in place


def test_sort_and_bisection_agree_and_kappa_zero():
    A = np.random.default_rng(5).standard_normal((20, 20)) * 3
    np.testing.assert_allclose(project_inf_norm_ball(A, 0.7), project_inf_norm_ball(A, 0.7, method="bisection"),
                               atol=BISECTION_TOL)
    for method in PROJECTION_METHODS:
        assert not np.any(project_inf_norm_ball(A, 0.0, method=method))


def test_vector_and_ties():
    z = project_inf_norm_ball(np.array([1.0, -1.0, 1.0, 0.0]), 1.5)
    np.testing.assert_allclose(z, [0.5, -0.5, 0.5, 0.0])  # θ = 0.5 by symmetry
    assert z.shape == (4,)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 10_000), st.integers(1, 7), st.integers(1, 7), st.floats(0.0, 5.0),
    st.sampled_from(PROJECTION_METHODS),
)
def test_variational_inequality(seed, rows, cols, kappa, method):
    """Optimality of a projection onto a convex set: ⟨A − Π(A), W − Π(A)⟩ ≤ 0 for every feasible W."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((rows, cols)) * rng.uniform(0.1, 5.0)
    Z = project_inf_norm_ball(A, kappa, method=method)
    assert np.abs(Z).sum(axis=1).max() <= kappa + 1e-9
    for _ in range(5):
        W = project_inf_norm_ball(rng.standard_normal((rows, cols)) * 3, kappa)  # any feasible point
        assert np.sum((A - Z) * (W - Z)) <= 1e-8 * max(1.0, np.abs(A).sum())
    np.testing.assert_allclose(project_inf_norm_ball(Z, kappa, method=method), Z, atol=1e-9)  # idempotent


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"A": np.ones((2, 2)), "kappa": -1.0}, "kappa must be a finite number ≥ 0; got -1.0"),
        ({"A": np.ones((2, 2)), "kappa": float("nan")}, "kappa must be a finite number"),
        ({"A": np.ones((2, 2)), "kappa": 1.0, "method": "newton"}, r"method must be one of \('sort', 'bisection'\)"),
        ({"A": np.ones((2, 2, 2)), "kappa": 1.0}, r"A must be a 1-D or 2-D array; got shape \(2, 2, 2\)"),
        ({"A": np.array([[np.nan]]), "kappa": 1.0}, "A contains NaN or inf"),
    ],
)
def test_validation_errors(kwargs, match):
    with pytest.raises(ValidationError, match=match):
        project_inf_norm_ball(**kwargs)
