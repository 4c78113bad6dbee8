"""Certificate labels claim no more than they prove (kinds in ``cvximplicit.solvers.core.report.CERTIFIED_CLASS``).

Every reference here is written in the test, independent of the package's helpers: the
nonconvex network objective and its gradient, a multi-start L-BFGS trainer, and a naive
cvxpy program over brute-force arrangements.
"""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
import pytest
import scipy.optimize
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvximplicit.exceptions import InaccurateSolutionWarning, SolverFailedError, ValidationError
from cvximplicit.solvers import fit_relu_pool, solve_convex_relu
from cvximplicit.solvers.core.report import CERTIFICATE_KINDS, CERTIFIED_CLASS
from cvximplicit.training import AlternatingBlockSolver, BlockProblem

#: Engine and certificate tests: .ci/run runs them a second time with one BLAS thread.
pytestmark = pytest.mark.engine

#: Clarabel (tolerances 1e-8) objective accuracy, relative.
CLARABEL_RTOL = 1e-6
#: How far below a bound a locally trained network may land from round-off alone (relative).
LBFGS_SLACK = 1e-6


# --------------------------------------------------------------------------- independent references
def network_objective_and_grad(theta, M, Y, width, beta):
    """½‖relu(M W1ᵀ) W2ᵀ − Y‖² + β/2 (‖W1‖² + ‖W2‖²) and its gradient; W2 is dense (q, width)."""
    m, d = M.shape
    q = Y.shape[1]
    W1 = theta[: width * d].reshape(width, d)
    W2 = theta[width * d:].reshape(q, width)
    Z = M @ W1.T
    H = np.maximum(Z, 0.0)
    R = H @ W2.T - Y
    f = 0.5 * np.sum(R**2) + 0.5 * beta * (np.sum(W1**2) + np.sum(W2**2))
    gW2 = R.T @ H + beta * W2
    gW1 = ((R @ W2) * (Z > 0)).T @ M + beta * W1
    return f, np.concatenate([gW1.ravel(), gW2.ravel()])


def best_local_network(M, Y, beta, *, width=8, starts=4, seed=0, one_vs_all=False):
    """Lowest objective over multi-start L-BFGS; ``one_vs_all`` trains one scalar network per output."""
    Y = Y.reshape(M.shape[0], -1)
    if one_vs_all:
        return sum(best_local_network(M, Y[:, [c]], beta, width=width, starts=starts, seed=seed + c)
                   for c in range(Y.shape[1]))
    rng = np.random.default_rng(seed)
    best = np.inf
    n = width * M.shape[1] + Y.shape[1] * width
    for _ in range(starts):
        theta0 = rng.standard_normal(n) * 0.5
        res = scipy.optimize.minimize(network_objective_and_grad, theta0, args=(M, Y, width, beta), jac=True,
                                      method="L-BFGS-B", options={"maxiter": 2000, "gtol": 1e-9})
        best = min(best, float(res.fun))
    return best


def one_d_block(m=30, seed=0):
    rng = np.random.default_rng(seed)
    u = np.sort(rng.uniform(-2.0, 2.0, m))
    y = np.sin(2.0 * u) + 0.1 * rng.standard_normal(m)
    return np.c_[u, np.ones(m)], y


# --------------------------------------------------------------------------- the labels table
def test_every_kind_documents_its_class():
    assert set(CERTIFIED_CLASS) == set(CERTIFICATE_KINDS)
    assert all(cls and cond for cls, cond in CERTIFIED_CLASS.values())


# --------------------------------------------------------------------------- defect 1: vector outputs
def test_scalar_global_bound_is_never_beaten_by_local_training():
    M, y = one_d_block()
    sol = solve_convex_relu(M, y, beta=0.5, patterns="exact", solver="CLARABEL")
    assert sol.report.certificate == "global" and sol.report.reductions == ()
    best = best_local_network(M, y[:, None], 0.5)
    assert best >= sol.report.bound * (1 - LBFGS_SLACK)
    assert best == pytest.approx(sol.report.objective, rel=1e-3)  # and local search reaches it here


def test_vector_outputs_are_only_one_vs_all_global():
    """The issue's case: Y = [y, y], β = 2 — a dense-output network goes below the one-vs-all bound."""
    M, y = one_d_block(40, seed=1)
    Y = np.c_[y, y]
    sol = solve_convex_relu(M, Y, beta=2.0, patterns="exact", solver="CLARABEL")
    assert sol.report.certificate == "global_one_vs_all"
    assert "ONE output" in sol.report.scope["network_class"]
    dense = best_local_network(M, Y, 2.0)
    one_vs_all = best_local_network(M, Y, 2.0, one_vs_all=True)
    assert dense < sol.report.bound * (1 - 0.01)  # why "global" would overclaim (here ~5 % below)
    assert one_vs_all >= sol.report.bound * (1 - LBFGS_SLACK)  # the class it does certify


def test_naive_program_over_brute_force_arrangements_matches():
    """Program (12) as a plain cvxpy problem over arrangements found by brute force over gate angles."""
    M, y = one_d_block(12, seed=2)
    angles = np.linspace(0.0, 2.0 * np.pi, 20001)
    gates = np.c_[np.cos(angles), np.sin(angles) * 5.0]  # (g_u, g_b): every line through the data is swept
    pats = {tuple(col) for col in (M @ gates.T >= 0).T.astype(int) if col.any()}
    D = np.array(sorted(pats), dtype=float).T  # (m, P)
    beta = 0.3
    V = cp.Variable((2, D.shape[1]))
    W = cp.Variable((2, D.shape[1]))
    fit = cp.sum(cp.multiply(D, M @ (V - W)), axis=1)
    sign = 2 * D - 1
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(fit - y) + beta * (cp.sum(cp.norm(V, 2, axis=0))
                                                                          + cp.sum(cp.norm(W, 2, axis=0)))),
                      [cp.multiply(sign, M @ V) >= 0, cp.multiply(sign, M @ W) >= 0])
    prob.solve(solver="CLARABEL")
    sol = solve_convex_relu(M, y, beta=beta, patterns="exact", solver="CLARABEL")
    assert sol.patterns.shape[1] == D.shape[1]  # the enumeration finds every arrangement, no more
    assert sol.report.objective == pytest.approx(prob.value, rel=CLARABEL_RTOL)


# --------------------------------------------------------------------------- defect 2: reductions
def _three_d_block(m=60, seed=3):
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((3, m))
    y = np.maximum(U[0] - U[1], 0.0) - np.maximum(U[2], 0.0) + 0.05 * rng.standard_normal(m)
    return np.vstack([U, np.ones((1, m))]), y


@pytest.mark.parametrize("options, listed", [
    ({"max_features": 1}, "features 2/4"),
    ({"max_rows": 20}, "rows 20/60"),
    ({"input_basis": 1}, "inputs 2/4"),
])
def test_reduced_programs_are_restricted_and_list_the_reduction(options, listed):
    U, y = _three_d_block()
    solver = AlternatingBlockSolver(solver="CLARABEL", **{"max_rows": None, **options})
    result = solver.solve(BlockProblem(U=U, X_prev=np.zeros((0, U.shape[1])), Y=y[None, :], n_i=3))
    relu = [r for r in result.reports if r.problem == "convex_relu"]
    assert relu and all(r.certificate == "restricted" for r in relu)
    assert all(any(listed in item for item in r.reductions) for r in relu)
    assert result.info["certificate"] == "restricted" and any(listed in item for item in result.info["reductions"])


def test_feature_reduced_bound_is_beaten_on_the_real_input():
    """Why a reduced program cannot be "global": a network on the block's real 3-D input goes below it."""
    U, y = _three_d_block()
    M = U.T
    Q, _ = np.linalg.qr(np.c_[np.eye(4)[:, 3], np.linalg.svd(M - M.mean(0), full_matrices=False)[2][0]])
    reduced = solve_convex_relu(M @ Q, y, beta=1.0, patterns="exact", solver="CLARABEL",
                                reductions=("features 2/4 (principal basis with bias)",))
    assert reduced.report.certificate == "restricted"
    assert best_local_network(M, y[:, None], 1.0) < reduced.report.bound * (1 - 0.05)


def test_output_reduction_is_restricted():
    U, y = _three_d_block()
    Y = np.vstack([y, -y, 2 * y])
    solver = AlternatingBlockSolver(solver="CLARABEL", max_rows=None, max_outputs=1)
    result = solver.solve(BlockProblem(U=U, X_prev=np.zeros((0, U.shape[1])), Y=Y, n_i=2))
    assert result.info["certificate"] == "restricted"
    assert any(item.startswith("outputs 1/3") for item in result.info["reductions"])


def test_one_d_regressor_with_vector_output_is_not_global():
    from cvximplicit import ImplicitRegressor

    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (80, 1))
    Y = np.c_[np.sin(X[:, 0]), np.cos(X[:, 0]), X[:, 0] ** 2]
    reg = ImplicitRegressor(n=4, L=2, solver="CLARABEL").fit(X, Y)
    kinds = {r["certificate"] for r in reg.blocks_[0]["reports"] if r["problem"] == "convex_relu"}
    assert kinds == {"global_one_vs_all"}


# --------------------------------------------------------------------------- defect 3: pool β
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 1000), n_neurons=st.sampled_from([3, 5]), max_solves=st.integers(1, 4))
def test_pool_reports_beta_objective_and_bound_of_one_solve(seed, n_neurons, max_solves):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((120, 3))
    M = np.c_[x, np.ones(120)]
    y = np.maximum(x @ np.array([1.0, -1.0, 0.5]), 0.0)  # single-ReLU data: few active neurons
    fit = fit_relu_pool(M, y, n_neurons, solver="CLARABEL", n_patterns=30, max_solves=max_solves, seed=seed)
    assert fit.beta == fit.report.extra["beta"] == fit.path[-1]["beta"]
    assert fit.convex_bound == fit.report.bound
    f, _ = network_objective_and_grad(np.concatenate([fit.W1.ravel(), fit.W2.ravel()]), M, y[:, None],
                                      n_neurons, fit.beta)
    assert fit.objective == pytest.approx(f, rel=1e-12)
    assert fit.gap_rel >= -fit.report.scope["gap_tol"]


# --------------------------------------------------------------------------- gaps and tolerances
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), q=st.sampled_from([1, 2]), d=st.sampled_from([2, 4]),
       beta_ratio=st.sampled_from([0.01, 0.1, 0.5, 1.5]))
def test_every_report_gap_is_within_tolerance(seed, q, d, beta_ratio):
    rng = np.random.default_rng(seed)
    m = 25
    M = np.c_[rng.standard_normal((m, d - 1)), np.ones(m)]
    Y = rng.standard_normal((m, q))
    top = max(np.linalg.norm(M.T @ (Y[:, c] * (M @ rng.standard_normal(d) >= 0))) for c in range(q))
    sol = solve_convex_relu(M, Y, beta=beta_ratio * top + 1e-3, patterns="auto", n_patterns=15, seed=seed,
                            solver="CLARABEL")
    rep = sol.report
    tol = rep.scope["gap_tol"]
    assert rep.certificate in CERTIFICATE_KINDS
    if rep.gap_rel is not None:
        assert rep.gap_rel >= -tol
    if rep.certificate != "none":
        assert rep.gap_rel is not None and abs(rep.gap_rel) <= tol
    assert rep.certificate != "global" or (q == 1 and rep.scope["all_arrangements"])


def test_engine_stopped_at_a_limit_certifies_nothing():
    M, y = one_d_block()
    with pytest.warns(InaccurateSolutionWarning, match="without a certificate"):
        sol = solve_convex_relu(M, y, beta=0.5, patterns="exact", solver="FISTA", solver_opts={"max_iter": 5})
    assert sol.report.status == "max_iter" and sol.report.certificate == "none"


def test_inaccurate_solver_status_is_not_certified_without_its_gap():
    rng = np.random.default_rng(0)
    M = np.c_[rng.standard_normal((40, 3)), np.ones(40)]
    with pytest.warns(InaccurateSolutionWarning):
        sol = solve_convex_relu(M, rng.standard_normal(40), beta=0.5, n_patterns=10, solver="SCS",
                                solver_opts={"max_iters": 2})
    assert sol.report.solver == "SCS" and sol.report.certificate == "none"


def test_certified_solve_does_not_warn():
    M, y = one_d_block()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sol = solve_convex_relu(M, y, beta=0.5, solver="auto")
    assert sol.report.certificate == "global" and sol.report.solver_reason.startswith("auto: exact 1-D")


# --------------------------------------------------------------------------- defect 4: strict options
@pytest.mark.parametrize("solver", ["CLARABEL", "SCS", "ECOS", "FISTA", "auto"])
def test_unknown_solver_option_raises_naming_it(solver):
    M, y = one_d_block()
    with pytest.raises(ValidationError, match="bogus_opt"):
        solve_convex_relu(M, y, beta=0.5, solver=solver, solver_opts={"bogus_opt": 5})


def test_unknown_engine_option_lists_valid_ones():
    M, y = one_d_block()
    with pytest.raises(ValidationError, match=r"for engine 'FISTA'; valid options are \[.*'max_iter'"):
        solve_convex_relu(M, y, beta=0.5, solver="FISTA", solver_opts={"max_iters": 5})


def test_named_solver_failure_raises_and_never_switches():
    M, y = one_d_block()
    with pytest.raises(SolverFailedError, match="CLARABEL: user_limit") as info:
        solve_convex_relu(M, y, beta=0.5, solver="CLARABEL", solver_opts={"max_iter": 1})
    assert info.value.solver == "CLARABEL"


def test_cli_typo_in_solver_opts_fails_instead_of_switching_solver(capsys):
    from cvximplicit.cli import main

    code = main(["train", "--task", "smooth", "--n-train", "60", "--n", "4", "--L", "2", "--solver", "CLARABEL",
                 "--solver-opts", '{"bogus_opt": 5}', "--quiet"])
    assert code != 0 and "bogus_opt" in capsys.readouterr().err


def _first_conic_solve_misses(monkeypatch):
    """Make the first conic solve of the next calls miss its certificate by arithmetic, whatever the machine.

    The stub returns that solve's point replaced by the zero network and no multipliers: at ``λ = y`` with ``μ = 0``
    the bound is at most ``(β/β_max)‖y‖²`` against the objective ``½‖y‖²``, a relative gap near 1 for ``β ≪ β_max``.
    Every later solve is Clarabel's own. Returns the list of the options each solve ran with.
    """
    from cvximplicit.solvers.relu import conic

    real, calls = conic.solve_conic, []

    def first_misses(program, **kw):
        calls.append(kw["solver_opts"])
        sol = real(program, **kw)
        if len(calls) > 1:
            return sol
        return sol._replace(V=np.zeros_like(sol.V), W=np.zeros_like(sol.W), multipliers=None)

    monkeypatch.setattr(conic, "solve_conic", first_misses)
    return calls


def test_missed_conic_certificate_is_refined_not_relabelled(monkeypatch):
    """A Clarabel solve whose independent bound misses its tolerance is re-solved cold (the ladder) until one
    certifies; with the caller's own options it is not re-solved, and the miss is reported as such."""
    from cvximplicit.solvers.relu.conic import CLARABEL_REFINE_LADDER

    M, y = one_d_block()
    calls = _first_conic_solve_misses(monkeypatch)
    sol = solve_convex_relu(M, y, beta=0.5, patterns="exact", solver="CLARABEL")
    assert calls[0] is None and calls[1] == CLARABEL_REFINE_LADDER[0]  # the first rung, cold, after the miss
    assert sol.report.certificate == "global" and abs(sol.report.gap_rel) <= 1e-6
    assert f"re-solved cold (1/{len(CLARABEL_REFINE_LADDER)} of the refinement ladder)" in sol.report.solver_reason
    assert len(calls) == 2  # the first rung certified: no further rung ran
    calls.clear()
    with pytest.warns(InaccurateSolutionWarning, match="without a certificate"):
        mine = solve_convex_relu(M, y, beta=0.5, patterns="exact", solver="CLARABEL",
                                 solver_opts={"warm_start": False})
    assert len(calls) == 1 and calls[0] == {"warm_start": False}
    assert mine.report.certificate == "none" and mine.report.gap_rel > 0.1
    assert "refinement" not in mine.report.solver_reason
