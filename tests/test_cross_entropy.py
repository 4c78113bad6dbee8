"""Tests of the cross-entropy steps: the ReLU program (12) with softmax loss, the multinomial logistic output step."""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
import pytest

from cvximplicit.exceptions import (
    InaccurateSolutionWarning,
    SolverUnavailableError,
    ValidationError,
)
from cvximplicit.solvers.cross_entropy.certificate_ce import (
    CEReluProgram,
    best_scaling,
    ce_beta_max,
    ce_dual_bound,
    ce_network_objective,
    ce_objective,
    softmax,
)
from cvximplicit.solvers.cross_entropy.convex_relu_ce import solve_convex_relu_ce
from cvximplicit.solvers.cross_entropy.logistic import (
    multinomial_logistic_bound,
    multinomial_logistic_program,
    solve_multinomial_logistic,
)
from cvximplicit.solvers.engines.first_order import solve_convex_relu_first_order

#: Clarabel at 1e-10: the reference's accuracy on these programs.
REF_OPTS = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


def make_ce(m=40, d=3, P=8, q=3, seed=0, offset=False):
    """Gaussian ``M`` (bias last), one-hot labels of a random ReLU net, gate patterns, optional offset."""
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((m, d))
    M[:, -1] = 1.0
    logits = np.maximum(M @ rng.standard_normal((d, 4)), 0) @ rng.standard_normal((4, q))
    Y = np.eye(q)[np.argmax(logits + 0.5 * rng.standard_normal((m, q)), axis=1)]
    patterns = (M @ rng.standard_normal((d, 3 * P))) >= 0
    patterns = np.unique(patterns[:, patterns.any(axis=0)], axis=1)[:, :P]
    Z0 = rng.standard_normal((m, q)) if offset else None
    return M, Y, patterns, Z0


@pytest.fixture(scope="module", params=[(False, 0.2, 1), (True, 0.1, 2)], ids=["plain", "offset"])
def case(request):
    offset, frac, seed = request.param
    M, Y, patterns, Z0 = make_ce(seed=seed, offset=offset)
    beta = frac * ce_beta_max(M, Y, patterns, Z0)
    ref = solve_convex_relu_ce(M, Y, beta=beta, offset=Z0, patterns=patterns, solver="CLARABEL", solver_opts=REF_OPTS)
    return M, Y, patterns, Z0, beta, ref


def test_engine_agrees_with_exp_cone_program(case):
    M, Y, patterns, Z0, beta, ref = case
    opt = ref.report.objective
    V, W, rep = solve_convex_relu_first_order(M, Y, patterns, beta, loss="cross_entropy", offset=Z0, tol=1e-8,
                                              max_iter=50_000)
    assert rep.status == "optimal" and rep.problem == "convex_relu_ce" and rep.extra["loss"] == "cross_entropy"
    assert abs(rep.objective - opt) / opt <= 1e-5
    assert rep.bound <= opt + 1e-7 and rep.bound >= opt * (1 - 1e-6)  # valid and tight
    assert rep.objective == pytest.approx(ce_objective(M, Y, patterns, V, W, beta, Z0), rel=1e-12)
    # the bound recomputed from the engine's point and μ = 0 is valid too
    lam = Y - softmax((0 if Z0 is None else Z0) + CEReluProgram.from_data(M, Y, patterns, beta, Z0).fit(V - W))
    assert ce_dual_bound(M, Y, patterns, beta, lam, offset=Z0)[0] <= opt + 1e-7
    # the reference is certified at its own (λ, μ); the public FISTA path gives the same
    assert ref.report.certificate == "restricted" and ref.report.gap_rel <= 1e-6
    assert ref.report.bound <= opt + 1e-7
    sol = solve_convex_relu_ce(M, Y, beta=beta, offset=Z0, patterns=patterns, solver="FISTA",
                               solver_opts={"tol": 1e-7, "max_iter": 50_000})
    assert sol.report.solver == "FISTA" and sol.report.certificate == "restricted"
    assert sol.report.objective == pytest.approx(opt, rel=1e-5) and sol.report.bound <= opt + 1e-7
    assert sol.report.extra["network_objective"] == pytest.approx(sol.report.objective, rel=1e-4)


def test_bound_below_random_feasible_points(case):
    M, Y, patterns, Z0, beta, ref = case
    prog = CEReluProgram.from_data(M, Y, patterns, beta, Z0)
    rng = np.random.default_rng(5)
    P, d, q = patterns.shape[1], M.shape[1], Y.shape[1]
    best_point = np.inf
    for _ in range(20):  # feasible points: groups that are 0 or satisfy their cone (by construction)
        V = np.zeros((P, d, q))
        W = np.zeros((P, d, q))
        for _ in range(3):  # a neuron (u, ±e_c) gives the feasible group u on its own pattern
            u = rng.standard_normal(d)
            k = np.nonzero((patterns == (M @ u >= 0)[:, None]).all(axis=0))[0]
            if k.size:
                (V if rng.random() < 0.5 else W)[k[0], :, rng.integers(q)] += u * rng.random()
        assert prog.violation(V, W) == 0.0
        best_point = min(best_point, prog.objective(V, W))
    for _ in range(20):  # any λ with Y − λ in the simplex and any μ ≥ 0
        lam = Y - softmax(3 * rng.standard_normal(Y.shape))
        mu = np.abs(rng.standard_normal((P, M.shape[0], q)))
        b = ce_dual_bound(M, Y, patterns, beta, lam, mu, 0.1 * mu, offset=Z0)[0]
        assert b <= ref.report.objective + 1e-7 and b <= best_point


def test_beta_max_zero_solution_certified():
    M, Y, patterns, Z0 = make_ce(seed=3, offset=True)
    bmax = ce_beta_max(M, Y, patterns, Z0)
    prog = CEReluProgram.from_data(M, Y, patterns, bmax, Z0)
    b, det = prog.bound(Y - softmax(Z0))
    assert det["feasible"] and det["t"] == pytest.approx(1.0, abs=1e-9)  # the maximiser is t = 1
    assert b == pytest.approx(prog.zero_objective(), rel=1e-12)
    for frac in (1.0, 1.5):
        V, W, rep = solve_convex_relu_first_order(M, Y, patterns, frac * bmax, loss="cross_entropy", offset=Z0)
        assert rep.status == "optimal" and not V.any() and not W.any() and rep.gap_abs <= 1e-9
    # β_max ignores the cone multipliers, so it is sufficient, not sharp (here zero is still optimal at
    # 0.9 β_max, certified with μ ≠ 0); well below it the optimum is below the zero network's objective
    sol = solve_convex_relu_ce(M, Y, beta=0.9 * bmax, offset=Z0, patterns=patterns, solver="CLARABEL")
    assert sol.report.objective == pytest.approx(prog.zero_objective(), rel=1e-6)
    sol = solve_convex_relu_ce(M, Y, beta=0.3 * bmax, offset=Z0, patterns=patterns, solver="CLARABEL")
    assert sol.report.objective < prog.zero_objective() - 1e-3


def test_best_scaling_is_the_maximum():
    rng = np.random.default_rng(1)
    Y = np.eye(4)[rng.integers(0, 4, 30)]
    lam = Y - softmax(rng.standard_normal((30, 4)))
    for lin, quad, T in ((0.0, 0.0, 1.0), (5.0, 0.0, 1.0), (-3.0, 2.0, 0.7), (1.0, 50.0, 1.0), (0.0, 0.0, 0.0)):
        val, t = best_scaling(lam, Y, lin, quad, T)
        grid = np.linspace(0, T, 2001)
        from cvximplicit.solvers.cross_entropy.certificate_ce import entropy_sum

        g = [entropy_sum(Y - s * lam) - s * lin - 0.5 * s * s * quad for s in grid]
        assert 0.0 <= t <= T and val >= max(g) - 1e-9


def test_auto_picks_and_reports():
    M, Y, patterns, _ = make_ce(m=30, seed=4)
    sol = solve_convex_relu_ce(M, Y, beta=0.3 * ce_beta_max(M, Y, patterns), patterns=patterns)
    rep = sol.report
    assert rep.solver == "CLARABEL" and rep.solver_reason.startswith("auto: exponential-cone")
    assert rep.scope["loss"] == "cross_entropy" and rep.certificate == "restricted"
    W1, W2 = sol.neurons(tol=0.0)
    assert ce_network_objective(M, Y, W1, W2, sol.beta) == pytest.approx(rep.objective, rel=1e-5)
    with pytest.raises(SolverUnavailableError):
        solve_convex_relu_ce(M, Y, beta=1.0, patterns=patterns, solver="ADMM")
    with pytest.raises(ValidationError, match="valid options"):
        solve_convex_relu_ce(M, Y, beta=1.0, patterns=patterns, solver="FISTA", solver_opts={"loss": "squared"})


def test_missed_exp_cone_certificate_is_re_solved_tighter_unless_options_were_given(monkeypatch):
    """The exponential-cone solve whose bound misses its tolerance is re-solved at tighter tolerances; with the
    caller's options, not. The miss is forced (the first solve stubbed to the zero network with zero multipliers,
    whose gap is the zero network's excess over the optimum), so it does not depend on Clarabel's tail here."""
    import cvximplicit.solvers.cross_entropy.convex_relu_ce as ce

    M, Y, patterns, _ = make_ce(m=30, seed=4)
    beta = 0.3 * ce_beta_max(M, Y, patterns)
    real, calls = ce._solve_conic, []

    def first_misses(program, solver, solver_opts):
        calls.append(solver_opts)
        V, W, (mu_pos, mu_neg), solved, build_s = real(program, solver, solver_opts)
        if len(calls) == 1:
            V, W, mu_pos, mu_neg = (np.zeros_like(a) for a in (V, W, mu_pos, mu_neg))
        return V, W, (mu_pos, mu_neg), solved, build_s

    monkeypatch.setattr(ce, "_solve_conic", first_misses)
    sol = solve_convex_relu_ce(M, Y, beta=beta, patterns=patterns, solver="CLARABEL")
    assert len(calls) >= 2 and calls[0] is None and calls[1]["tol_gap_rel"] == 1e-10
    assert "re-solved at tolerance 1e-10" in sol.report.solver_reason
    assert sol.report.certificate == "restricted" and abs(sol.report.gap_rel) <= 1e-6
    calls.clear()
    with pytest.warns(InaccurateSolutionWarning, match="without a certificate"):
        mine = solve_convex_relu_ce(M, Y, beta=beta, patterns=patterns, solver="CLARABEL", solver_opts={"max_iter": 200})
    assert calls == [{"max_iter": 200}] and mine.report.certificate == "none"
    assert "re-solved" not in mine.report.solver_reason


def test_exact_1d_patterns_are_one_vs_all_global():
    rng = np.random.default_rng(6)
    u = np.sort(rng.standard_normal(12))
    M = np.c_[u, np.ones(12)]
    Y = np.eye(2)[(np.abs(u) > 0.7).astype(int)]
    sol = solve_convex_relu_ce(M, Y, beta=0.2, patterns="exact")
    assert sol.report.certificate == "global_one_vs_all" and sol.report.scope["all_arrangements"]


def test_bad_inputs():
    M, Y, patterns, _ = make_ce()
    with pytest.raises(ValidationError, match="simplex"):
        solve_convex_relu_first_order(M, Y * 2, patterns, 1.0, loss="cross_entropy")
    with pytest.raises(ValidationError, match="simplex"):
        ce_dual_bound(M, Y, patterns, 1.0, Y - 2.0)
    with pytest.raises(ValidationError, match="loss"):
        solve_convex_relu_first_order(M, Y, patterns, 1.0, loss="hinge")
    with pytest.raises(ValidationError, match="offset"):
        solve_convex_relu_first_order(M, Y, patterns, 1.0, loss="cross_entropy", offset=np.zeros((3, 3)))
    bad = M.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValidationError, match="finite"):
        solve_convex_relu_ce(bad, Y, beta=1.0, patterns=patterns)
    with pytest.raises(ValidationError, match="q >= 2"):
        solve_convex_relu_ce(M, np.ones((M.shape[0], 1)), beta=1.0, patterns=patterns)
    with pytest.raises(ValidationError, match="shape"):
        solve_multinomial_logistic(M, Y[:-1])
    with pytest.raises(ValidationError, match="simplex"):
        solve_multinomial_logistic(M, -Y)
    with pytest.raises(ValidationError, match="ridge"):
        solve_multinomial_logistic(M, Y, ridge=-1.0)
    Ysoft = 0.5 * Y + 0.5 / 3  # soft labels in the simplex are fine
    _, rep = solve_multinomial_logistic(M, Ysoft)
    assert rep.status == "optimal"


def test_squared_loss_with_offset_is_shifted_targets():
    M, _, patterns, Z0 = make_ce(offset=True)
    Yr = np.random.default_rng(0).standard_normal(Z0.shape)
    a = solve_convex_relu_first_order(M, Yr, patterns, 1.0, offset=Z0, max_iter=300)
    b = solve_convex_relu_first_order(M, Yr - Z0, patterns, 1.0, max_iter=300)
    assert np.array_equal(a[0], b[0]) and a[2].objective == b[2].objective


# --------------------------------------------------------------------------- multinomial logistic
@pytest.mark.parametrize("ridge", [1e-4, 1e-1])
@pytest.mark.parametrize("with_offset", [False, True])
def test_mlr_agrees_with_cvxpy(ridge, with_offset):
    rng = np.random.default_rng(7)
    m, n, q = 60, 5, 3
    X = np.c_[rng.standard_normal((m, n - 1)), np.ones(m)]
    Y = np.eye(q)[rng.integers(0, q, m)]
    Z0 = rng.standard_normal((m, q)) if with_offset else None
    C, rep = solve_multinomial_logistic(X, Y, ridge=ridge, offset=Z0)
    prob, Cv = multinomial_logistic_program(X, Y, ridge, Z0)
    prob.solve(solver=cp.CLARABEL, **REF_OPTS)
    assert rep.status == "optimal" and rep.gap_rel <= 1e-8
    assert rep.objective == pytest.approx(prob.value, rel=1e-7)
    assert rep.bound <= prob.value + 1e-7
    np.testing.assert_allclose(C, Cv.value, atol=1e-4 * max(1.0, np.abs(C).max()))
    # the bound at any dual point is below the optimum; the gap identity ‖∇f‖²/(2r) holds at C
    lam = Y - softmax(rng.standard_normal((m, q)))
    assert multinomial_logistic_bound(X, Y, lam, ridge, Z0)[0] <= prob.value + 1e-7
    assert rep.gap_abs == pytest.approx(rep.extra["gap_identity"], rel=1e-3, abs=1e-9)


def test_mlr_ridge_zero_warns():
    rng = np.random.default_rng(8)
    X = np.c_[rng.standard_normal((30, 2)), np.ones(30)]
    Y = np.eye(2)[(X[:, 0] > 0).astype(int)]  # separable: no optimum without a ridge
    with pytest.warns(InaccurateSolutionWarning, match="ridge=0"):
        _, rep = solve_multinomial_logistic(X, Y, ridge=0.0, max_iter=100)
    assert rep.certificate == "none"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, rep = solve_multinomial_logistic(X, Y)  # the default ridge certifies
    assert rep.certificate != "none" and rep.gap_rel <= 1e-8


def test_logistic_value_and_gradient_match_an_independent_computation():
    """The samples-as-columns evaluation: soft labels (rows in the simplex), an offset, a ridge."""
    from scipy.special import logsumexp

    from cvximplicit.solvers.cross_entropy.logistic import _value_grad

    rng = np.random.default_rng(7)
    m, n, q, ridge = 50, 4, 3, 0.3
    X, Z0 = rng.standard_normal((m, n)), 5.0 * rng.standard_normal((m, q))
    Y = rng.dirichlet(np.ones(q), size=m)
    C = rng.standard_normal((q, n))

    def f(c):
        Z = X @ c.reshape(q, n).T + Z0
        return float(np.sum(logsumexp(Z, axis=1)) - np.sum(Y * Z)) + 0.5 * ridge * float(np.sum(c * c))

    value, grad = _value_grad(C.ravel(), np.ascontiguousarray(X.T), np.ascontiguousarray(Y.T),
                              np.ascontiguousarray(Z0.T), ridge, q, Y.sum(axis=1))
    assert value == pytest.approx(f(C.ravel()), rel=1e-12)
    step = 1e-6
    numeric = [(f(C.ravel() + step * e) - f(C.ravel() - step * e)) / (2 * step) for e in np.eye(q * n)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)
