"""Least-squares step (11): cvxpy (reduced) vs numpy.linalg.lstsq, incl. rank-deficient X."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvximplicit.exceptions import ValidationError
from cvximplicit.solvers import solve_least_squares

#: Clarabel solves the reduced problem (a diagonal QP) to machine-level accuracy;
#: 1e-8 relative on C is the issue's requirement.
CLARABEL_LS_RTOL = 1e-8
#: The normal-equation residual of an exact solution is round-off level.
KKT_RTOL = 1e-9


def _lstsq(X, Y):
    """Independent reference: min-norm solution of ``C X ≈ Y`` (columns are samples)."""
    return np.linalg.lstsq(X.T, Y.T, rcond=None)[0].T


def _rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


@given(n=st.integers(1, 12), m=st.integers(1, 60), q=st.integers(1, 4), seed=st.integers(0, 10_000))
@settings(max_examples=25, deadline=None)
def test_matches_lstsq(n, m, q, seed):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((n, m)), rng.standard_normal((q, m))
    C, report = solve_least_squares(X, Y)
    ref = _lstsq(X, Y)
    assert C.shape == (q, n)
    assert _rel(C, ref) <= CLARABEL_LS_RTOL
    assert report.certificate == "normal_equations"
    assert report.residual <= KKT_RTOL
    assert report.objective == pytest.approx(float(np.sum((Y - C @ X) ** 2)), rel=1e-12, abs=1e-12)


def test_rank_deficient_dead_and_duplicate_rows():
    rng = np.random.default_rng(0)
    X = np.maximum(rng.standard_normal((8, 200)), 0.0)
    X[2] = 0.0  # a dead ReLU row
    X[5] = X[4]  # a duplicate feature
    X[6] = 2.0 * X[1] - X[3]  # a linear combination
    Y = rng.standard_normal((3, 200))
    C, report = solve_least_squares(X, Y)
    ref = _lstsq(X, Y)
    assert report.extra["rank"] == 5
    assert _rel(C, ref) <= CLARABEL_LS_RTOL  # the same min-norm solution
    assert np.max(np.abs(C[:, 2])) <= 1e-12 * np.max(np.abs(C))  # min-norm: no weight on a dead row
    np.testing.assert_allclose(C[:, 4], C[:, 5], rtol=1e-10)
    assert report.residual <= KKT_RTOL


@pytest.mark.parametrize("kappa", [1e4, 1e8])
def test_ill_conditioned_X_matches_lstsq(kappa):
    """Singular values spread over ``kappa``: the reduced coordinates keep lstsq accuracy."""
    rng = np.random.default_rng(3)
    n, m = 10, 2000
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    V, _ = np.linalg.qr(rng.standard_normal((m, n)))
    X = U @ np.diag(np.logspace(0, -np.log10(kappa), n)) @ V.T
    Y = rng.standard_normal((3, m))
    C, report = solve_least_squares(X, Y)
    assert report.status == "optimal" and report.extra["rank"] == n
    assert _rel(C, _lstsq(X, Y)) <= CLARABEL_LS_RTOL


def test_exact_fit_and_closed_form():
    X = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]])
    Y = np.array([[3.0, 5.0, 7.0, 9.0]])  # y = 2u + 1 exactly
    C, report = solve_least_squares(X, Y)
    np.testing.assert_allclose(C, [[2.0, 1.0]], atol=1e-12)
    assert report.objective <= 1e-20


def test_all_zero_X_gives_zero_C():
    C, report = solve_least_squares(np.zeros((3, 10)), np.ones((2, 10)))
    assert np.all(C == 0) and report.extra["rank"] == 0
    assert report.objective == pytest.approx(20.0)


def test_one_dimensional_Y_is_one_output():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((4, 30)), rng.standard_normal(30)
    C, _ = solve_least_squares(X, y)
    assert C.shape == (1, 4)
    assert _rel(C, _lstsq(X, y[None, :])) <= CLARABEL_LS_RTOL


def test_other_conic_solver():
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((5, 50)), rng.standard_normal((2, 50))
    C, report = solve_least_squares(X, Y, solver="ECOS")
    assert report.solver == "ECOS"
    assert _rel(C, _lstsq(X, Y)) <= 1e-6  # ECOS default tolerances are 1e-8 on the SOC form


@pytest.mark.parametrize(
    "X, Y, match",
    [
        (np.ones((2, 5)), np.ones((1, 4)), "same number of samples"),
        (np.ones((2, 5, 1)), np.ones((1, 5)), "X must be a 2-D array"),
        (np.array([[np.nan, 1.0]]), np.ones((1, 2)), "X contains NaN or inf"),
        (np.ones((1, 2)) + 1j, np.ones((1, 2)), "Complex data not supported: X"),
        (np.ones((1, 2)), np.array([["1.0", "2.0"]]), "Y has the string dtype"),
    ],
)
def test_validation(X, Y, match):
    with pytest.raises(ValidationError, match=match):
        solve_least_squares(X, Y)


def test_fista_is_refused():
    with pytest.raises(ValidationError, match="least-squares step"):
        solve_least_squares(np.eye(2), np.eye(2), solver="FISTA")


@pytest.mark.slow
def test_mnist_size_within_10x_of_lstsq():
    rng = np.random.default_rng(0)
    X, Y = np.maximum(rng.standard_normal((32, 60_000)), 0.0), rng.standard_normal((10, 60_000))
    solve_least_squares(X, Y)  # warm the compile cache, as the trainer would
    ours, ref = [], []
    for _ in range(5):  # interleaved, so bursts of load from other processes hit both
        start = time.perf_counter()
        solve_least_squares(X, Y)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        _lstsq(X, Y)
        ref.append(time.perf_counter() - start)
    t_ours, t_ref = float(np.median(ours)), float(np.median(ref))
    assert t_ours <= 10 * t_ref, (ours, ref)
    C, report = solve_least_squares(X, Y)
    assert _rel(C, _lstsq(X, Y)) <= CLARABEL_LS_RTOL and report.residual <= KKT_RTOL


@pytest.mark.parametrize("ridge", [0.0, 0.5])
def test_cvxpy_program_on_the_triangular_factor_matches_the_closed_form(ridge):
    """The named-solver path solves a real program over C; it reaches the closed form's C."""
    rng = np.random.default_rng(4)
    X, Y = rng.standard_normal((6, 300)), rng.standard_normal((3, 300))
    C_cf, rep_cf = solve_least_squares(X, Y, ridge=ridge)
    C_cp, rep_cp = solve_least_squares(X, Y, solver="CLARABEL", ridge=ridge)
    assert rep_cf.solver == "closed_form" and rep_cf.solver_reason.startswith("auto: closed form")
    assert rep_cp.solver == "CLARABEL" and rep_cp.solver_reason == "requested"
    assert _rel(C_cp, C_cf) <= 1e-6
    # independent reference: the ridge normal equations C (X Xᵀ + ρ I) = Y Xᵀ
    ref = np.linalg.solve(X @ X.T + ridge * np.eye(6), X @ Y.T).T
    assert _rel(C_cf, ref) <= 1e-12
    assert rep_cf.certificate == rep_cp.certificate == "normal_equations"


def test_program_accepts_extra_constraints():
    """least_squares_program is a real cvxpy program: a sign constraint on C can be added to it."""
    import cvxpy as cp
    import scipy.linalg

    from cvximplicit.solvers.least_squares import least_squares_program

    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((4, 200)), rng.standard_normal((2, 200))
    YQ, R = scipy.linalg.qr_multiply(X.T, Y, mode="right")
    problem, C, B, R_t, _ = least_squares_program(2, 4, R.shape[0])
    B.value, R_t.value = YQ, R.T
    cp.Problem(problem.objective, [C >= 0]).solve(solver="CLARABEL")
    ref = cp.Variable((2, 4))
    cp.Problem(cp.Minimize(cp.sum_squares(Y - ref @ X)), [ref >= 0]).solve(solver="CLARABEL")
    assert C.value.min() >= -1e-9 and _rel(C.value, ref.value) <= 1e-6


def test_negative_ridge_and_engines_are_refused():
    with pytest.raises(ValidationError, match="ridge must be"):
        solve_least_squares(np.eye(2), np.eye(2), ridge=-1.0)
    with pytest.raises(ValidationError, match="least-squares step"):
        solve_least_squares(np.eye(2), np.eye(2), solver="ADMM")
