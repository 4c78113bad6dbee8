"""The gated-ReLU program: agreement with skglm and a naive cvxpy group lasso, its certificate, the lower bound
it gives program (12), and the cone decomposition back to a feasible point of program (12)."""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
import pytest

from cvximplicit.exceptions import InaccurateSolutionWarning, ValidationError
from cvximplicit.solvers import (
    ReluProgram,
    cone_decomposition,
    exact_patterns_1d,
    sample_patterns,
    solve_convex_relu,
    solve_gated_relu,
)
from cvximplicit.solvers.relu.certificate import dual_bound, pattern_fit

#: Agreement in objective with another solver of the same group lasso (the issue's requirement).
OBJECTIVE_RTOL = 1e-6
#: Clarabel's certified relative gap on program (12) (``CONIC_GAP_TOL``).
CONIC_TOL = 1e-6


def _block(m=120, d=5, P=12, seed=0, q=1):
    rng = np.random.default_rng(seed)
    M = np.c_[rng.standard_normal((m, d - 1)), np.ones(m)]
    Y = np.sin(M[:, :1] * np.arange(1, q + 1)) + 0.3 * M[:, 1:2] ** 2 + 0.05 * rng.standard_normal((m, q))
    G = sample_patterns(M, P, seed=seed + 1)
    beta_max = max(np.linalg.norm(M.T @ (G * Y[:, [c]]), axis=0).max() for c in range(q))
    return M, (Y[:, 0] if q == 1 else Y), G, beta_max


def _explicit(M, G):
    return np.hstack([G[:, [k]] * M for k in range(G.shape[1])])


def _gated_objective(M, y, G, beta, U):
    r = np.reshape(y, (M.shape[0], -1)) - pattern_fit(M, G, U)
    return 0.5 * float(np.sum(r * r)) + beta * float(np.linalg.norm(U, axis=1).sum())


def test_agrees_with_skglm_group_lasso():
    skglm = pytest.importorskip("skglm", reason="skglm is an optional extra: pip install 'cvximplicit[bench]'")
    M, y, G, beta_max = _block(m=300, d=8, P=20)
    m, d = M.shape
    for frac in (0.3, 0.05):
        beta = frac * beta_max
        Xe = _explicit(M, G)
        gl = skglm.GroupLasso(groups=d, alpha=beta / m, fit_intercept=False, tol=1e-12, max_iter=500,
                              max_epochs=100_000).fit(Xe, y)
        w = gl.coef_
        f_skglm = 0.5 * np.sum((Xe @ w - y) ** 2) + beta * sum(np.linalg.norm(w[k * d:(k + 1) * d])
                                                               for k in range(G.shape[1]))
        sol = solve_gated_relu(M, y, beta=beta, patterns=G)
        assert sol.report.certificate == "restricted"
        assert abs(sol.report.objective - f_skglm) <= OBJECTIVE_RTOL * max(1.0, abs(f_skglm))
        # skglm's point is feasible for our program: our certified bound lies below its objective
        assert sol.report.bound <= f_skglm * (1 + 1e-12)


def test_agrees_with_naive_cvxpy_group_lasso():
    M, y, G, beta_max = _block(m=40, d=3, P=6, seed=3)
    beta = 0.1 * beta_max
    d, P = M.shape[1], G.shape[1]
    U = cp.Variable((P, d))
    fit = sum(cp.multiply(G[:, k], M @ U[k]) for k in range(P))
    problem = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(fit - y) + beta * sum(cp.norm(U[k]) for k in range(P))))
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert problem.status == "optimal"
    sol = solve_gated_relu(M, y, beta=beta, patterns=G)
    assert abs(sol.report.objective - problem.value) <= OBJECTIVE_RTOL * max(1.0, abs(problem.value))
    assert sol.report.objective == pytest.approx(_gated_objective(M, y, G, beta, sol.U), rel=1e-12)
    # the bound is program (12)'s dual bound with zero cone multipliers, recomputed independently
    bound, _ = dual_bound(M, y, G, beta, y - pattern_fit(M, G, sol.U)[:, 0])
    assert sol.report.bound == pytest.approx(bound, rel=1e-12)
    assert sol.report.bound <= problem.value * (1 + 1e-9)


def test_is_a_lower_bound_of_program_12_and_decomposes_to_a_feasible_point():
    M, y, G, beta_max = _block(m=80, d=4, P=10, seed=5)
    beta = 0.05 * beta_max
    gated = solve_gated_relu(M, y, beta=beta, patterns=G)
    relu = solve_convex_relu(M, y, beta=beta, patterns=G, solver="CLARABEL")
    assert relu.report.certificate == "restricted"
    lower = gated.report.extra["lower_bound_for_program_12"]
    assert lower == gated.report.bound
    # lower ≤ gated optimum ≤ (12)'s optimum ≤ (12)'s objective at Clarabel's point
    assert lower <= relu.report.objective * (1 + CONIC_TOL)
    assert gated.report.objective <= relu.report.objective + CONIC_TOL * max(1.0, relu.report.objective)
    # ... and (12)'s own certified bound is below the decomposition's objective (a feasible point of (12))
    program = ReluProgram.from_data(M, y, G, beta)
    assert program.violation(gated.V, gated.W) <= 1e-9
    assert gated.report.extra["program_12_violation"] <= 1e-9
    assert gated.report.extra["n_groups_not_decomposed"] == 0
    assert gated.report.extra["program_12_objective"] == pytest.approx(program.objective(gated.V, gated.W))
    assert gated.report.extra["program_12_objective"] >= relu.report.bound - CONIC_TOL * relu.report.objective
    # the decomposition keeps the gated fit exactly
    np.testing.assert_allclose(program.fit(gated.V - gated.W), program.fit(gated.U), rtol=1e-9, atol=1e-9)
    # and its decoded ReLU network reproduces that fit on the training rows
    W1, W2 = gated.neurons(tol=0.0)
    np.testing.assert_allclose(np.maximum(M @ W1.T, 0) @ W2.T, program.fit(gated.U), rtol=1e-8, atol=1e-8)


def test_exact_arrangements_bracket_the_global_optimum():
    """On every arrangement of a 1-D input the gated bound and the decomposition bracket (12)'s global optimum."""
    rng = np.random.default_rng(2)
    u = np.sort(rng.uniform(-2, 2, 30))
    M, y = np.c_[u, np.ones(30)], np.abs(u) - 0.5 + 0.1 * rng.standard_normal(30)
    G = exact_patterns_1d(u)
    beta = 0.5
    gated = solve_gated_relu(M, y, beta=beta, patterns=G)
    relu = solve_convex_relu(M, y, beta=beta, patterns="exact")
    assert relu.report.certificate == "global"
    assert gated.report.extra["lower_bound_for_program_12"] <= relu.report.objective * (1 + CONIC_TOL)
    assert gated.report.extra["program_12_objective"] >= relu.report.bound * (1 - CONIC_TOL)


def test_vector_outputs_separate_and_warm_start_from_the_optimum_is_immediate():
    M, Y, G, beta_max = _block(m=100, d=4, P=8, seed=7, q=3)
    beta = 0.1 * beta_max
    joint = solve_gated_relu(M, Y, beta=beta, patterns=G, decompose=False)
    assert joint.report.certificate == "restricted" and joint.V is None
    for c in range(3):
        one = solve_gated_relu(M, Y[:, c], beta=beta, patterns=G, decompose=False)
        assert _gated_objective(M, Y[:, c], G, beta, joint.U[:, :, [c]]) == pytest.approx(
            one.report.objective, rel=1e-8)
    again = solve_gated_relu(M, Y, beta=beta, patterns=G, warm_start=joint.U, decompose=False)
    assert again.report.extra["rounds"] == 0 and again.report.iterations == 0
    assert again.report.objective == pytest.approx(joint.report.objective, rel=1e-12)
    with pytest.raises(ValidationError, match="no cone decomposition"):
        joint.neurons()


def test_beta_at_least_beta_max_gives_zero_and_zero_targets_are_exact():
    M, y, G, beta_max = _block(m=60, d=3, P=6, seed=9)
    sol = solve_gated_relu(M, y, beta=1.01 * beta_max, patterns=G)
    assert not sol.U.any() and sol.report.certificate == "restricted"
    assert sol.report.objective == pytest.approx(0.5 * float(y @ y))
    zero = solve_gated_relu(M, np.zeros_like(y), beta=1.0, patterns=G)
    assert zero.report.objective == 0.0 and zero.report.gap_abs == 0.0


def test_budget_exhausted_is_reported_none_with_a_warning():
    M, y, G, beta_max = _block(m=200, d=6, P=20, seed=11)
    with pytest.warns(InaccurateSolutionWarning, match="gated-ReLU"):
        sol = solve_gated_relu(M, y, beta=0.01 * beta_max, patterns=G, max_iter=1, decompose=False)
    assert sol.report.certificate == "none" and sol.report.status == "max_iter"
    assert sol.report.gap_rel > 1e-8


def test_non_arrangement_gate_is_not_decomposed():
    """A gate that no hyperplane realises has no cone split: the group is zeroed and counted."""
    u = np.linspace(-1, 1, 8)
    M = np.c_[u, np.ones(8)]
    G = np.array([[True, False] * 4]).T  # alternating: not a threshold of u
    U = np.array([[[1.0], [0.5]]])
    V, W, failed = cone_decomposition(M, G, U)
    assert failed == 1 and not V.any() and not W.any()
    ok = exact_patterns_1d(u)[:, [3]]
    V, W, failed = cone_decomposition(M, ok, U)
    assert failed == 0
    np.testing.assert_allclose(V - W, U)
    assert ReluProgram.from_data(M, np.zeros(8), ok, 1.0).violation(V, W) <= 1e-12


def test_errors_name_the_argument():
    M, y, G, _ = _block(m=30, d=3, P=4)
    with pytest.raises(ValidationError, match=r"patterns array must be boolean \(or 0/1\)"):
        solve_gated_relu(M, y, beta=1.0, patterns=2.0 * G)
    with pytest.raises(ValidationError, match=r"patterns must be one of \('auto', 'exact', 'sampled'\)"):
        solve_gated_relu(M, y, beta=1.0, patterns="every")
    with pytest.raises(ValidationError, match="tol must be a finite number > 0.0 and < 1.0; got tol=0"):
        solve_gated_relu(M, y, beta=1.0, patterns=G, tol=0)
    with pytest.raises(ValidationError, match="beta must be a positive finite float"):
        solve_gated_relu(M, y, beta=-1.0, patterns=G)
    with pytest.raises(ValidationError, match=r"warm_start must have shape \(P, d, q\)"):
        solve_gated_relu(M, y, beta=1.0, patterns=G, warm_start=np.zeros((2, 3, 1)))
    with pytest.raises(ValidationError, match="reductions must be a sequence"):
        solve_gated_relu(M, y, beta=1.0, patterns=G, reductions="rows")
    with pytest.raises(ValidationError, match=r"U must have shape \(P, d, q\)"):
        cone_decomposition(M, G, np.zeros((G.shape[1] + 1, M.shape[1], 1)))


def test_deterministic():
    M, y, G, beta_max = _block(m=150, d=5, P=15, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = solve_gated_relu(M, y, beta=0.02 * beta_max, patterns=G)
        b = solve_gated_relu(M, y, beta=0.02 * beta_max, patterns=G)
    np.testing.assert_array_equal(a.U, b.U)
    assert a.report.iterations == b.report.iterations


def test_the_newton_solve_is_cholesky_and_least_squares_when_singular():
    """The Newton systems of the gated solver's polish: SPD (a Gram matrix plus the norms' curvature) → the exact
    solve; singular (a Gram matrix of dependent columns) → the least-squares solution, never an exception."""
    from cvximplicit.solvers.relu.group_lasso import _spd_solve

    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 8))
    g = rng.standard_normal(8)
    A = X.T @ X + 0.1 * np.eye(8)
    np.testing.assert_allclose(_spd_solve(A, g), np.linalg.solve(A, g), rtol=1e-10)
    X[:, 7] = X[:, 6]  # dependent columns: X^T X singular
    S = X.T @ X
    np.testing.assert_allclose(_spd_solve(S, g), np.linalg.lstsq(S, g, rcond=None)[0], rtol=1e-6, atol=1e-8)


def test_fista_on_a_working_set_reaches_its_gap_with_one_product_per_step():
    """GramGroupLasso.fista keeps H z by linearity (one product with H per step): the point it returns has the
    relative gap it was asked for, and its objective matches an independent proximal-gradient run's to that gap."""
    from cvximplicit.solvers.relu.group_lasso import GramGroupLasso

    rng = np.random.default_rng(1)
    m, d, n = 60, 4, 5
    X = rng.standard_normal((m, n * d))
    y = rng.standard_normal(m)
    beta = 0.3 * np.abs(X.T @ y).reshape(n, d).max()
    lasso = GramGroupLasso(X.T @ X, X.T @ y, float(y @ y), beta, n, d)
    L = np.linalg.eigvalsh(lasso.H)[-1]
    x, iters, _ = lasso.fista(np.zeros(n * d), L, 1e-9, 100_000)
    objective, gap = lasso.objective_gap(x)
    assert gap <= 1e-9 * max(1.0, objective) and iters > 0
    z = np.zeros(n * d)  # plain ISTA, written here, run to convergence
    for _ in range(20_000):
        v = (z - (lasso.H @ z - lasso.b) / L).reshape(n, d)
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        z = (v * np.maximum(0.0, 1.0 - beta / L / np.maximum(norms, 1e-300))).ravel()
    reference = 0.5 * float(np.sum((X @ z - y) ** 2)) + beta * float(np.linalg.norm(z.reshape(n, d), axis=1).sum())
    assert objective == pytest.approx(reference, rel=1e-8)
