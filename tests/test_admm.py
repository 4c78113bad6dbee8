"""Tests of the ADMM engine for program (12) against the conic reference (Clarabel through cvxpy)."""

from __future__ import annotations

import numpy as np
import pytest

from cvximplicit.exceptions import ValidationError
from cvximplicit.solvers import exact_patterns_1d, solve_convex_relu
from cvximplicit.solvers.engines.admm import ADMM_OPTIONS, clear_admm_cache
from cvximplicit.solvers.engines.admm import solve_convex_relu_admm as solve
from cvximplicit.solvers.relu import certificate as C

#: Engine and certificate tests: .ci/run runs them a second time with one BLAS thread.
pytestmark = pytest.mark.engine

#: Target relative gap of the engine in these tests.
ADMM_TOL = 1e-8
#: Agreement asked of the ADMM objective and bound with Clarabel's optimum (relative):
#: Clarabel's own gap tolerance is 1e-8, so 1e-6 leaves room for its accuracy only.
AGREE_REL = 1e-6


def make_problem(m, d, P, q, seed):
    """Gaussian inputs with a bias column, targets from a random ReLU net, Gaussian-gate patterns."""
    rng = np.random.default_rng(seed)
    M = np.c_[rng.standard_normal((m, d - 1)), np.ones(m)]
    A = rng.standard_normal((3, d))
    Y = np.maximum(M @ A.T, 0.0) @ rng.standard_normal((3, q)) + 0.1 * rng.standard_normal((m, q))
    patterns = M @ rng.standard_normal((d, P)) >= 0
    patterns = patterns[:, patterns.any(axis=0)]
    return M, Y, patterns


def beta_max(M, Y, patterns):
    """``max_{k,c} ‖Mᵀ D_k Y_c‖`` computed here independently of the package."""
    return max(float(np.linalg.norm(M.T @ (patterns[:, [k]] * Y[:, [c]]))) for k in range(patterns.shape[1])
               for c in range(Y.shape[1]))


def clarabel(M, Y, patterns, beta):
    sol = solve_convex_relu(M, Y, beta=beta, patterns=patterns, solver="CLARABEL", fallback=())
    return sol.report.objective, sol.report.bound


@pytest.fixture(scope="module", params=[(1, 0.3), (2, 0.1)], ids=["q1", "q2"])
def case(request):
    q, frac = request.param
    M, Y, patterns = make_problem(m=40, d=3, P=8, q=q, seed=20 + q)
    beta = frac * beta_max(M, Y, patterns)
    return M, Y, patterns, beta, clarabel(M, Y, patterns, beta)


def test_agrees_with_clarabel(case):
    M, Y, patterns, beta, (opt, _opt_bound) = case
    V, W, rep = solve(M, Y, patterns, beta, tol=ADMM_TOL, max_iter=20_000)
    assert rep.status == "optimal", rep.summary()
    assert rep.solver == "ADMM" and rep.problem == "convex_relu" and rep.certificate == "restricted"
    assert V.shape == W.shape == (patterns.shape[1], M.shape[1], Y.shape[1]) and V.dtype == np.float64
    assert abs(rep.objective - opt) <= AGREE_REL * opt
    assert abs(rep.bound - opt) <= AGREE_REL * opt
    assert rep.bound <= opt * (1 + 1e-8)  # a lower bound: never above the optimum (Clarabel's accuracy 1e-8)
    # the returned point is exactly feasible and its objective is recomputable
    assert C.constraint_violation(M, patterns, V, W) == 0.0 and rep.residual == 0.0
    assert rep.objective == pytest.approx(C.convex_objective(M, Y, patterns, V, W, beta), rel=1e-13)
    # the bound is recomputable from the returned point's residual and some μ ≥ 0: at least check it is
    # not above the feasible objective and that it solves the certified gap
    assert rep.bound <= rep.objective and rep.gap_rel <= ADMM_TOL
    assert rep.extra["n_active_groups"] > 0


#: On the exact 1-D block (all arrangements: many nearly equal adjacent patterns, a degenerate optimum)
#: the ADMM tail is slow and only the support polish closes the gap, so how far a given machine gets
#: is not what this test asserts: it asserts what the report claims (see the test).
EXACT_1D_TOL = 1e-6


def test_exact_1d_block_matches_clarabel():
    """Whatever the machine: a valid bound, an exactly feasible point, and a label that is earned.

    Guaranteed on any machine: ``bound ≤ p* ≤ objective`` (a dual bound from any ``(λ, μ ≥ 0)``, an
    exactly feasible point) and the report's claim matches its numbers (certified ⇔ gap ≤ tol, and then
    the objective is within tol of Clarabel's optimum). The engine is deterministic (no clock inside),
    so on a given machine the outcome is the same every run.
    """
    rng = np.random.default_rng(3)
    u = np.sort(rng.uniform(-2, 2, 25))
    y = np.sin(2 * u) + 0.05 * rng.standard_normal(u.size)
    M = np.c_[u, np.ones_like(u)]
    patterns = exact_patterns_1d(u)
    beta = 0.05 * beta_max(M, y[:, None], patterns)
    sol = solve_convex_relu(M, y, beta=beta, patterns="exact", solver="CLARABEL", fallback=())
    assert sol.report.certificate == "global"
    opt = sol.report.objective
    V, W, rep = solve(M, y, patterns, beta, tol=EXACT_1D_TOL, max_iter=5000)
    # exactly feasible: never below the optimum (up to Clarabel's own accuracy, 1e-8); the bound bounds
    assert C.constraint_violation(M, patterns, V, W) == 0.0
    assert opt * (1 - 1e-8) <= rep.objective and rep.bound <= opt * (1 + 1e-8)
    certified = rep.gap_rel is not None and rep.gap_rel <= EXACT_1D_TOL
    assert (rep.status == "optimal") == certified and (rep.certificate == "restricted") == certified, rep.summary()
    if certified:
        assert rep.objective <= opt * (1 + EXACT_1D_TOL + 1e-8)
        assert rep.extra["n_active_groups"] >= 2
    else:
        assert rep.certificate == "none" and rep.status == "max_iter"


def test_bound_is_below_optimum_even_when_stopped_early(case):
    M, Y, patterns, beta, (opt, _) = case
    V, W, rep = solve(M, Y, patterns, beta, tol=1e-14, max_iter=3, polish=False, cache=False)
    assert rep.status == "max_iter" and rep.gap_rel > 1e-14
    assert rep.certificate == "none"  # the one rule: a gap that misses its tolerance certifies nothing
    assert rep.bound <= opt * (1 + 1e-8)
    assert rep.objective >= opt * (1 - 1e-8)  # exactly feasible, so never below the optimum
    assert C.constraint_violation(M, patterns, V, W) == 0.0


def test_time_limit_status(case):
    M, Y, patterns, beta, _ = case
    _, _, rep = solve(M, Y, patterns, beta, tol=1e-14, max_iter=10**9, time_limit_s=0.05, polish=False)
    assert rep.status == "time_limit"
    assert rep.gap_rel > 1e-14


def test_unknown_option_names_the_valid_ones(case):
    M, Y, patterns, beta, _ = case
    with pytest.raises(ValidationError, match="unknown ADMM option.*'step_size'.*valid options are tol"):
        solve(M, Y, patterns, beta, step_size=1.0)
    assert set(ADMM_OPTIONS) >= {"tol", "max_iter", "time_limit_s", "rho", "dtype", "V0", "W0"}


@pytest.mark.parametrize("bad", [{"tol": 0.0}, {"max_iter": -1}, {"rho": -1.0}, {"dtype": "int32"},
                                 {"linear_solver": "lu"}, {"relax": 2.5}, {"polish": "yes"}])
def test_bad_option_values(case, bad):
    M, Y, patterns, beta, _ = case
    with pytest.raises(ValidationError, match=next(iter(bad))):
        solve(M, Y, patterns, beta, **bad)


def test_warm_start_reduces_iterations():
    M, Y, patterns = make_problem(m=60, d=4, P=10, q=1, seed=5)
    b0 = 0.2 * beta_max(M, Y, patterns)
    clear_admm_cache()
    V, W, rep0 = solve(M, Y, patterns, b0, tol=1e-6, max_iter=20_000)
    assert rep0.status == "optimal"
    _, _, warm = solve(M, Y, patterns, 0.95 * b0, tol=1e-6, max_iter=20_000, V0=V, W0=W)
    clear_admm_cache()
    _, _, cold = solve(M, Y, patterns, 0.95 * b0, tol=1e-6, max_iter=20_000)
    assert cold.status == warm.status == "optimal"
    assert warm.extra["warm_duals"] and warm.iterations < cold.iterations
    assert warm.objective == pytest.approx(cold.objective, rel=2e-6)


def test_factorisation_cache_is_reused_across_beta(case):
    M, Y, patterns, beta, _ = case
    clear_admm_cache()
    _, _, first = solve(M, Y, patterns, beta, tol=1e-6, max_iter=5000)
    _, _, second = solve(M, Y, patterns, 0.8 * beta, tol=1e-6, max_iter=5000)
    assert first.extra["cache_hit"] is False and second.extra["cache_hit"] is True
    assert second.extra["rho"] == first.extra["rho"]  # same penalty, same factor
    _, _, off = solve(M, Y, patterns, beta, tol=1e-6, max_iter=5000, cache=False)
    assert off.extra["cache_hit"] is False


@pytest.mark.parametrize("opts", [{"linear_solver": "cg", "cg_tol": 1e-10, "cg_max_iter": 200},
                                  {"dtype": "float32", "tol": 1e-5}], ids=["cg", "float32"])
def test_other_paths_certify(case, opts):
    M, Y, patterns, beta, (opt, _) = case
    kw = {"tol": 1e-7, "max_iter": 20_000}
    kw.update(opts)
    V, W, rep = solve(M, Y, patterns, beta, **kw)
    assert rep.status == "optimal", rep.summary()
    assert rep.bound <= opt * (1 + 1e-8) <= rep.objective * (1 + 2e-8)
    assert rep.gap_rel <= kw["tol"]
    assert C.constraint_violation(M, patterns, V, W) == 0.0


@pytest.mark.parametrize("seed,m,d,P,q", [(31, 60, 4, 12, 1), (32, 50, 3, 10, 3)])
def test_random_programs_agree_with_clarabel(seed, m, d, P, q):
    M, Y, patterns = make_problem(m=m, d=d, P=P, q=q, seed=seed)
    beta = 0.15 * beta_max(M, Y, patterns)
    opt, _ = clarabel(M, Y, patterns, beta)
    V, W, rep = solve(M, Y, patterns, beta, tol=ADMM_TOL, max_iter=20_000)
    assert rep.status == "optimal", rep.summary()
    assert abs(rep.objective - opt) <= AGREE_REL * opt and abs(rep.bound - opt) <= AGREE_REL * opt
    assert C.constraint_violation(M, patterns, V, W) == 0.0


def test_row_space_reduction_is_exact():
    """A zero column and a dependent column: solving on M Q (rank 4 of 5) gives the unreduced optimum."""
    M, Y, patterns = make_problem(m=50, d=4, P=10, q=2, seed=7)
    M = np.c_[M[:, :2], np.zeros(len(M)), M[:, 1] - M[:, 0], M[:, 2:]]
    beta = 0.1 * beta_max(M, Y, patterns)
    opt, _ = clarabel(M, Y, patterns, beta)
    clear_admm_cache()
    V, W, red = solve(M, Y, patterns, beta, tol=1e-9, max_iter=20_000)
    _, _, full = solve(M, Y, patterns, beta, tol=1e-9, max_iter=20_000, row_space=False)
    assert red.extra["row_space_rank"] == 4 and "row_space_rank" not in full.extra
    assert red.status == full.status == "optimal"
    assert red.objective == pytest.approx(full.objective, rel=1e-8) and red.bound == pytest.approx(full.bound, rel=1e-8)
    assert abs(red.objective - opt) <= AGREE_REL * opt and red.bound <= opt * (1 + 1e-8)
    # the report judges the original program: objective and feasibility recomputed on M itself
    assert C.constraint_violation(M, patterns, V, W) == 0.0
    assert red.objective == pytest.approx(C.convex_objective(M, Y, patterns, V, W, beta), rel=1e-13)
    # a β path on the same M reuses the reduction and the factorisation, and warm-starts in Q coordinates
    _, _, nxt = solve(M, Y, patterns, 0.8 * beta, tol=1e-9, max_iter=20_000, V0=V, W0=W)
    assert nxt.status == "optimal" and nxt.extra["cache_hit"] and nxt.extra["warm_duals"]


def test_time_limit_is_respected_by_polish_and_repair():
    M, Y, patterns = make_problem(m=600, d=12, P=60, q=2, seed=9)
    beta = 0.02 * beta_max(M, Y, patterns)
    limit = 0.4
    V, W, rep = solve(M, Y, patterns, beta, tol=1e-14, max_iter=10**9, time_limit_s=limit, check_every=5, cache=False)
    assert rep.status == "time_limit"
    # the limit holds from the end of the set-up (one m × m factorisation, before the first check of the clock);
    # 0.5 s covers the final bound and the granularity of the checks
    assert rep.solve_time_s <= limit + rep.extra["setup_time_s"] + 0.5, (rep.solve_time_s, rep.extra["setup_time_s"])
    assert C.constraint_violation(M, patterns, V, W) == 0.0 and rep.bound <= rep.objective
