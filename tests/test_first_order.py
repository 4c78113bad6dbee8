"""Tests of the first-order engine for program (12) against the conic reference (cvxpy/Clarabel)."""

from __future__ import annotations

import numpy as np
import pytest

from cvximplicit.exceptions import ValidationError
from cvximplicit.solvers.engines.first_order import solve_convex_relu_first_order as solve
from cvximplicit.solvers.relu import certificate as C
from tests.test_certificate import CONIC_REL_ACC, beta_max, conic_reference, make_problem

#: Engine and certificate tests: .ci/run runs them a second time with one BLAS thread.
pytestmark = pytest.mark.engine

#: The engine's target gap in these tests and the agreement asked of its objective.
FO_TOL = 1e-6
#: Objective agreement with Clarabel (the brief asks ~1e-5 relative).
AGREE_REL = 1e-5


@pytest.fixture(scope="module", params=[(1, 0.3), (2, 0.2)], ids=["q1", "q2"])
def case(request):
    q, frac = request.param
    M, Y, patterns = make_problem(m=40, d=3, P=8, q=q, seed=10 + q)
    beta = frac * beta_max(M, Y, patterns)
    opt = conic_reference(M, Y, patterns, beta)[0]
    return M, Y, patterns, beta, opt


def test_agrees_with_conic_reference(case):
    M, Y, patterns, beta, opt = case
    V, W, rep = solve(M, Y, patterns, beta, tol=FO_TOL, max_iter=50_000)
    assert rep.status == "optimal", rep.summary()
    assert rep.problem == "convex_relu" and rep.solver == "FISTA" and rep.certificate == "restricted"
    assert V.shape == W.shape == (patterns.shape[1], M.shape[1], Y.shape[1])
    assert V.dtype == W.dtype == np.float64
    assert abs(rep.objective - opt) / opt <= AGREE_REL
    assert rep.bound <= opt * (1 + CONIC_REL_ACC)  # the certificate is a true lower bound
    assert rep.gap_rel <= FO_TOL
    assert rep.residual <= rep.extra["feas_tol"]
    # the reported numbers are recomputable from the returned point
    assert rep.objective == pytest.approx(C.convex_objective(M, Y, patterns, V, W, beta), rel=1e-12)
    floor = np.linalg.norm(Y) / np.linalg.norm(M)  # groups are measured against at least ‖Y‖/‖M‖
    assert rep.residual == pytest.approx(C.constraint_violation(M, patterns, V, W, group_floor=floor), rel=1e-9,
                                         abs=1e-15)
    # the decoded network reproduces the objective up to the (tiny) violation
    assert rep.extra["network_objective"] == pytest.approx(rep.objective, rel=1e-4)


def test_gap_decreases_with_iterations(case):
    M, Y, patterns, beta, opt = case
    gaps, bounds = [], []
    for it in (20, 200, 2000):
        _, _, rep = solve(M, Y, patterns, beta, tol=1e-12, max_iter=it, feas_tol=1e-15)
        assert rep.status == "max_iter" and rep.iterations == it
        assert rep.certificate == ("restricted" if abs(rep.gap_rel) <= 1e-12 and rep.residual <= 1e-6 else "none")
        assert rep.bound <= opt * (1 + CONIC_REL_ACC)
        gaps.append(abs(rep.gap_rel))
        bounds.append(rep.bound)
        # an exactly feasible point's objective brackets the optimum with the bound
        assert rep.extra["feasible_objective"] >= opt * (1 - CONIC_REL_ACC)
        assert rep.extra["certified_gap_rel"] >= -CONIC_REL_ACC
    assert gaps[2] < gaps[0]
    assert bounds[0] <= bounds[1] <= bounds[2]  # the best bound over a longer (identical-prefix) run


def test_time_limit_respected():
    M, Y, patterns = make_problem(m=400, d=5, P=30, q=2, seed=3)
    beta = 0.05 * beta_max(M, Y, patterns)
    V, W, rep = solve(M, Y, patterns, beta, tol=1e-12, time_limit_s=0.2)
    assert rep.status == "time_limit"
    assert rep.solve_time_s < 0.2 + 2.0  # one iteration plus the final float64 certificate
    assert np.isfinite(rep.bound) and rep.bound <= rep.extra["network_objective"]


def test_max_iter_zero_certifies_the_start():
    M, Y, patterns = make_problem(q=2)
    V, W, rep = solve(M, Y, patterns, 1.0, max_iter=0)
    assert rep.status == "max_iter" and rep.iterations == 0
    assert not V.any() and not W.any()
    assert rep.objective == pytest.approx(0.5 * np.sum(Y**2))
    # λ = Y with the multipliers polished from μ = 0: at least the μ = 0 bound, at most the objective
    assert C.dual_bound(M, Y, patterns, 1.0, Y)[0] <= rep.bound <= rep.objective


def test_float32_path(case):
    M, Y, patterns, beta, opt = case
    V, W, rep = solve(M, Y, patterns, beta, tol=1e-4, max_iter=20_000, dtype=np.float32)
    assert V.dtype == W.dtype == np.float64
    assert rep.extra["dtype"] == "float32"
    assert rep.bound <= opt * (1 + CONIC_REL_ACC)  # certified in float64 whatever the iterate
    assert rep.gap_rel <= 1e-3
    assert abs(rep.objective - opt) / opt <= 1e-3


def test_one_dimensional_and_column_targets_agree():
    M, Y, patterns = make_problem(q=1, seed=4)
    beta = 0.3 * beta_max(M, Y, patterns)
    V1, W1, r1 = solve(M, Y[:, 0], patterns, beta, tol=1e-6, max_iter=3000)
    V2, W2, r2 = solve(M, Y, patterns, beta, tol=1e-6, max_iter=3000)
    assert V1.shape == (patterns.shape[1], M.shape[1], 1)
    np.testing.assert_array_equal(V1, V2)
    assert r1.objective == r2.objective and r1.bound == r2.bound


def test_zero_solution_above_beta_max():
    M, Y, patterns = make_problem(q=2, seed=6)
    beta = 1.01 * beta_max(M, Y, patterns)
    V, W, rep = solve(M, Y, patterns, beta)
    assert rep.status == "optimal" and rep.iterations <= 1
    assert np.abs(V).max() == 0 and np.abs(W).max() == 0
    assert rep.gap_abs == pytest.approx(0.0, abs=1e-9)


def test_warm_start_from_solution_is_fast(case):
    M, Y, patterns, beta, opt = case
    V, W, rep = solve(M, Y, patterns, beta, tol=1e-5, max_iter=50_000)
    V2, W2, rep2 = solve(M, Y, patterns, beta, tol=1e-4, max_iter=50_000, V0=V, W0=W)
    assert rep2.status == "optimal"
    assert rep2.iterations <= rep.iterations


@pytest.mark.parametrize(
    "change, match",
    [
        ({"Y": np.zeros(39)}, r"Y must have shape \(m, q\) or \(m,\) with m = M.shape\[0\] = 40"),
        ({"M": np.full((40, 3), np.nan)}, "M must be finite"),
        ({"Y": np.full(40, np.inf)}, "Y must be finite"),
        ({"beta": 0.0}, "beta must be a positive finite float; got beta=0.0"),
        ({"beta": -1.0}, "beta must be a positive finite float"),
        ({"patterns": np.ones((40, 8), dtype=int)}, "patterns must be a bool array"),
        ({"patterns": np.ones((40,), dtype=bool)}, r"patterns must have shape \(m, P\)"),
        ({"patterns": np.ones((41, 8), dtype=bool)}, r"patterns must have shape \(m, P\) with m = M.shape\[0\] = 40"),
        ({"tol": 0.0}, "FISTA: tol must be a finite number > 0.0; got tol=0.0"),
        ({"max_iter": -1}, "FISTA: max_iter must be an integer >= 0; got max_iter=-1"),
        ({"time_limit_s": 0}, "FISTA: time_limit_s must be None or a finite number > 0.0"),
        ({"dtype": np.int64}, "dtype must be 'float64' or 'float32'"),
        ({"V0": np.zeros((8, 3, 2))}, r"V0 must have shape \(P, d, q\) = \(8, 3, 1\)"),
        ({"rho": -1.0}, "FISTA: rho must be None or a finite number > 0.0; got rho=-1.0"),
        ({"check_every": 0}, "FISTA: check_every must be an integer >= 1"),
        ({"step_size": 0.1}, r"unknown FISTA option\(s\) \['step_size'\]; valid options are tol, max_iter"),
    ],
)
def test_bad_inputs_raise_validation_error(change, match):
    M, Y, patterns = make_problem()
    args = {"M": M, "Y": Y, "patterns": patterns, "beta": 1.0}
    kwargs = {}
    for key, value in change.items():
        (args if key in args else kwargs)[key] = value
    with pytest.raises(ValidationError, match=match):
        solve(args["M"], args["Y"], args["patterns"], args["beta"], **kwargs)


@pytest.mark.slow
def test_medium_instance_against_clarabel():
    M, Y, patterns = make_problem(m=300, d=5, P=20, q=2, seed=0)
    beta = 0.3 * beta_max(M, Y, patterns)
    opt = conic_reference(M, Y, patterns, beta)[0]
    V, W, rep = solve(M, Y, patterns, beta, tol=1e-6, max_iter=100_000)
    assert rep.bound <= opt * (1 + CONIC_REL_ACC)
    assert abs(rep.objective - opt) / opt <= AGREE_REL
