"""Ergen–Pilanci program (12): arrangements, reduced vs plain form, decoding, certificate, dispatch."""

from __future__ import annotations

import importlib.util
import time
import warnings

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

import cvximplicit.solvers.relu.conic as conic
import cvximplicit.solvers.relu.convex_relu
from cvximplicit.exceptions import InaccurateSolutionWarning, SolverUnavailableError, ValidationError
from cvximplicit.solvers import exact_patterns_1d, sample_patterns, solve_convex_relu

#: Engine and certificate tests: .ci/run runs them a second time with one BLAS thread.
pytestmark = pytest.mark.engine

#: Clarabel with CLARABEL_RELU_OPTS (gap/feasibility tolerances 1e-8): optimal values
#: of two formulations of the same program agree to ~1e-8 relative; 1e-6 leaves room.
CLARABEL_OBJ_RTOL = 1e-6
#: The issue's certified-gap target for the exact 1-D block.
GAP_REL_TARGET = 1e-6
#: Constraint violation of an interior-point solution (feasibility tolerance 1e-8, scaled).
CLARABEL_FEAS_ATOL = 1e-6
#: The first-order engine is asked for tol=1e-6; its objective may differ by ~1e-4 relative.
FISTA_OBJ_RTOL = 1e-3

HAS_FIRST_ORDER = importlib.util.find_spec("cvximplicit.solvers.engines.first_order") is not None
needs_first_order = pytest.mark.skipif(
    not HAS_FIRST_ORDER, reason="cvximplicit.solvers.engines.first_order (the FISTA engine) is not in the tree yet"
)


# --------------------------------------------------------------------------- independent references
def network_objective(M, Y, W1, W2, beta):
    """½‖relu(M W1ᵀ) W2ᵀ − Y‖² + β/2 (‖W1‖² + ‖W2‖²), written out in numpy."""
    Y = Y.reshape(M.shape[0], -1)
    pred = np.maximum(M @ W1.T, 0.0) @ W2.T
    return 0.5 * np.sum((pred - Y) ** 2) + 0.5 * beta * (np.sum(W1**2) + np.sum(W2**2))


def plain_program_value(M, Y, patterns, beta):
    """Program (12) written pattern by pattern, as in the paper (no reduction, no DPP)."""
    Y = Y.reshape(M.shape[0], -1)
    total = 0.0
    for c in range(Y.shape[1]):
        fit, reg, cons = 0, 0, []
        for k in range(patterns.shape[1]):
            D = patterns[:, k].astype(float)
            v, w = cp.Variable(M.shape[1]), cp.Variable(M.shape[1])
            fit = fit + cp.multiply(D, M @ (v - w))
            reg = reg + cp.norm(v, 2) + cp.norm(w, 2)
            cons += [cp.multiply(2 * D - 1, M @ v) >= 0, cp.multiply(2 * D - 1, M @ w) >= 0]
        prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(fit - Y[:, c]) + beta * reg), cons)
        prob.solve(solver="CLARABEL")
        assert prob.status == "optimal"
        total += prob.value
    return total


def smooth_block(m, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.uniform(-5, 5, m)
    f = 5 * np.cos(np.pi * u) * np.exp(-np.abs(u) / 2)
    return np.c_[u, np.ones(m)], rng.uniform(f - 1, f + 1)


# --------------------------------------------------------------------------- arrangements
@pytest.mark.parametrize("seed, ties", [(0, False), (1, True), (2, True)])
def test_exact_patterns_1d_equals_brute_force(seed, ties):
    rng = np.random.default_rng(seed)
    u = rng.uniform(-3, 3, 25)
    if ties:
        u = np.round(u)  # many tied values
    M = np.c_[u, np.ones_like(u)]
    exact = exact_patterns_1d(u)
    as_set = {tuple(col) for col in exact.T}
    assert len(as_set) == exact.shape[1]  # no duplicates
    assert exact.any(axis=0).all()  # no all-zero pattern
    assert exact.shape[1] == 2 * np.unique(u).size - 1
    # Brute force 1: 50k random gates never produce a pattern outside the set.
    G = rng.standard_normal((2, 50_000)) * np.array([[1.0], [3.0]])
    brute = M @ G >= 0
    brute = brute[:, brute.any(axis=0)]
    assert {tuple(col) for col in np.unique(brute, axis=1).T} <= as_set
    # Brute force 2: gates through every gap between sorted values (and beyond the ends), both
    # orientations, reach every pattern of the set.
    t = np.unique(u)
    cuts = np.concatenate([[t[0] - 1], (t[:-1] + t[1:]) / 2, [t[-1] + 1]])
    gates = [np.array([s, -s * c]) for s in (1.0, -1.0) for c in cuts] + [np.array([0.0, 1.0])]
    reached = {tuple(M @ g >= 0) for g in gates}
    reached.discard(tuple(np.zeros(u.size, bool)))
    assert reached == as_set


def test_sample_patterns_seeded_and_deduplicated():
    rng = np.random.default_rng(0)
    M = np.c_[rng.standard_normal((300, 4)), np.ones(300)]
    a = sample_patterns(M, 60, seed=3)
    np.testing.assert_array_equal(a, sample_patterns(M, 60, seed=3))
    assert not np.array_equal(a, sample_patterns(M, 60, seed=4))
    assert a.dtype == bool and a.shape[0] == 300 and 0 < a.shape[1] <= 60
    assert len({tuple(c) for c in a.T}) == a.shape[1] and a.any(axis=0).all()
    # Exactly the thresholded gates of the seeded generator, in first-draw order.
    G = np.random.default_rng(3).standard_normal((5, 60))
    expected = []
    for col in (M @ G >= 0).T:
        if col.any() and not any(np.array_equal(col, e) for e in expected):
            expected.append(col)
    np.testing.assert_array_equal(a, np.array(expected).T)
    # Duplicates are removed: a 1-D input has few distinct arrangements.
    one_d = sample_patterns(np.c_[np.linspace(-1, 1, 50), np.ones(50)], 500, seed=0)
    assert one_d.shape[1] < 100


# --------------------------------------------------------------------------- reduced vs plain
@pytest.mark.parametrize("layout", ["u_then_bias", "bias_then_u_negative_constant"])
def test_reduced_1d_equals_plain_formulation(layout):
    rng = np.random.default_rng(1)
    m = 14
    u = np.round(rng.uniform(-2, 2, m), 1)
    u[3] = u[7]  # a guaranteed tie
    Y = np.c_[np.sin(2 * u) + 0.1 * rng.standard_normal(m), u**2 - 1]
    M = np.c_[u, np.ones(m)] if layout == "u_then_bias" else np.c_[-2.0 * np.ones(m), u]
    sol = solve_convex_relu(M, Y, beta=0.3, patterns="exact", solver="CLARABEL")
    assert sol.report.extra["formulation"].startswith("reduced_1d")
    assert sol.report.certificate == "global_one_vs_all"  # q = 2: global for one-vs-all networks only
    reference = plain_program_value(M, Y, sol.patterns, 0.3)
    assert sol.report.objective == pytest.approx(reference, rel=CLARABEL_OBJ_RTOL)
    # The cvxpy-level plain formulation of the module agrees too (sampled patterns force it).
    pats = sample_patterns(np.c_[rng.standard_normal((m, 2)), np.ones(m)], 10, seed=0)
    plain = solve_convex_relu(M, Y, beta=0.3, patterns=pats, solver="CLARABEL")
    assert plain.report.extra["formulation"].startswith("plain")
    assert plain.report.objective == pytest.approx(plain_program_value(M, Y, pats, 0.3), rel=CLARABEL_OBJ_RTOL)


@given(m=st.integers(2, 9), seed=st.integers(0, 1000), log_beta=st.floats(-2.0, 1.0), ties=st.booleans())
@settings(max_examples=8, deadline=None)
def test_reduced_1d_equals_plain_property(m, seed, log_beta, ties):
    rng = np.random.default_rng(seed)
    u = rng.uniform(-2, 2, m)
    if ties:
        u = np.round(u)
    if np.unique(u).size < 2:
        u[0] = u.max() + 1.0  # a 1-D input needs two distinct values
    M, y, beta = np.c_[u, np.ones(m)], rng.standard_normal(m), 10.0**log_beta
    sol = solve_convex_relu(M, y, beta=beta, patterns="exact")
    assert sol.report.extra["formulation"].startswith("reduced_1d")
    reference = plain_program_value(M, y, sol.patterns, beta)
    assert sol.report.objective == pytest.approx(reference, rel=CLARABEL_OBJ_RTOL, abs=1e-8)
    assert sol.report.bound <= reference + 1e-8


# --------------------------------------------------------------------------- decoding and certificate
@pytest.mark.parametrize("patterns", ["exact", "sampled"])
def test_convex_optimum_equals_decoded_network_objective(patterns):
    M, y = smooth_block(60)
    if patterns == "sampled":
        M = np.c_[M[:, :1], np.sin(M[:, :1]), np.ones((60, 1))]
    sol = solve_convex_relu(M, y, beta=0.5, patterns=patterns, n_patterns=30, solver="CLARABEL")
    W1, W2 = sol.neurons(tol=0.0)
    assert W1.shape[1] == M.shape[1] and W2.shape == (1, W1.shape[0])
    assert sol.report.extra["constraint_violation"] <= CLARABEL_FEAS_ATOL
    assert network_objective(M, y, W1, W2, 0.5) == pytest.approx(sol.report.objective, rel=CLARABEL_OBJ_RTOL)
    np.testing.assert_allclose(sol.predict(M), np.maximum(M @ W1.T, 0) @ W2.T)
    # The default tolerance drops only negligible neurons.
    W1t, W2t = sol.neurons()
    assert W1t.shape[0] == sol.report.extra["n_active_neurons"] <= W1.shape[0]
    assert network_objective(M, y, W1t, W2t, 0.5) == pytest.approx(sol.report.objective, rel=1e-5)
    assert sol.report.certificate == ("global" if patterns == "exact" else "restricted")
    assert sol.report.gap_rel <= GAP_REL_TARGET


def test_closed_form_single_sample():
    """m = 1: the only arrangement is {1}; optimum is soft-thresholding of y at β/‖x‖."""
    x, y, beta = np.array([[3.0, 4.0]]), np.array([2.0]), 2.5  # ‖x‖ = 5
    sol = solve_convex_relu(x, y, beta=beta, patterns=np.array([[True]]), solver="CLARABEL")
    z = np.sign(y[0]) * max(abs(y[0]) - beta / 5.0, 0.0)
    optimum = 0.5 * (y[0] - z) ** 2 + beta * abs(z) / 5.0
    assert sol.report.objective == pytest.approx(optimum, rel=CLARABEL_OBJ_RTOL)
    assert sol.report.bound == pytest.approx(optimum, rel=CLARABEL_OBJ_RTOL)
    assert sol.predict(x)[0, 0] == pytest.approx(z, rel=1e-6)


def test_global_certificate_against_local_search_and_random_networks():
    """The bound is below every network; multi-start local search reaches it (tiny m)."""
    rng = np.random.default_rng(5)
    m, beta = 7, 0.2
    u = np.sort(rng.uniform(-2, 2, m))
    M, y = np.c_[u, np.ones(m)], np.sin(2 * u)
    sol = solve_convex_relu(M, y, beta=beta, patterns="exact")
    bound, opt = sol.report.bound, sol.report.objective
    assert sol.report.certificate == "global" and bound <= opt + 1e-9
    for width in (1, 3, 10):
        for _ in range(50):
            W1, W2 = rng.standard_normal((width, 2)), rng.standard_normal((1, width))
            assert network_objective(M, y, W1, W2, beta) >= bound
    width, best = 8, np.inf

    def f(theta):  # objective and gradient of the width-8 network
        W1, W2 = theta[: 2 * width].reshape(width, 2), theta[2 * width :].reshape(1, width)
        Z = M @ W1.T
        H = np.maximum(Z, 0.0)
        r = H @ W2.T - y[:, None]
        g1 = ((r @ W2) * (Z > 0)).T @ M + beta * W1
        g2 = r.T @ H + beta * W2
        return network_objective(M, y, W1, W2, beta), np.concatenate([g1.ravel(), g2.ravel()])

    for _ in range(4):
        res = minimize(f, rng.standard_normal(3 * width), jac=True, method="L-BFGS-B",
                       options={"maxiter": 2_000, "ftol": 1e-14, "gtol": 1e-10})
        best = min(best, res.fun)
    assert best >= bound - 1e-9
    assert best == pytest.approx(opt, rel=1e-4)  # local search finds the certified global optimum


def test_zero_solution_above_beta_max():
    M, y = smooth_block(40)
    beta_max = max(np.linalg.norm(M.T @ (p * y)) for p in exact_patterns_1d(M[:, 0]).T.astype(float))
    sol = solve_convex_relu(M, y, beta=1.01 * beta_max)
    assert sol.report.extra["n_active_neurons"] == 0
    assert sol.report.objective == pytest.approx(0.5 * np.sum(y**2), rel=1e-7)
    assert sol.report.bound == pytest.approx(0.5 * np.sum(y**2), rel=1e-7)


def test_dpp_cache_resolves_without_recompiling_and_matches_fresh_solve():
    M, y = smooth_block(80, seed=3)
    first = solve_convex_relu(M, y, beta=0.7)
    again = solve_convex_relu(M, 2 * y, beta=0.4)
    assert "(cached)" in again.report.extra["formulation"]
    conic._CACHE.clear()
    fresh = solve_convex_relu(M, 2 * y, beta=0.4)
    assert "(cached)" not in fresh.report.extra["formulation"]
    assert again.report.objective == pytest.approx(fresh.report.objective, rel=CLARABEL_OBJ_RTOL)
    assert first.report.gap_rel <= GAP_REL_TARGET and again.report.gap_rel <= GAP_REL_TARGET


def test_report_contents_vector_output():
    M, y = smooth_block(50)
    Y = np.c_[y, -y, np.abs(y)]
    sol = solve_convex_relu(M, Y, beta=1.0)
    P = sol.patterns.shape[1]
    assert sol.V.shape == sol.W.shape == (P, 2, 3)
    extra = sol.report.extra
    assert (extra["n_patterns"], extra["beta"], extra["m"], extra["d"], extra["q"]) == (P, 1.0, 50, 2, 3)
    assert sol.report.problem == "convex_relu" and sol.report.solver == "CLARABEL"
    assert sol.report.gap_abs == pytest.approx(sol.report.objective - sol.report.bound)
    # One-vs-all: the vector problem is the sum of the scalar ones.
    parts = sum(solve_convex_relu(M, Y[:, c], beta=1.0).report.objective for c in range(3))
    assert sol.report.objective == pytest.approx(parts, rel=CLARABEL_OBJ_RTOL)
    W1, W2 = sol.neurons()
    assert np.all(np.count_nonzero(W2, axis=0) == 1)  # each neuron feeds exactly one output


# --------------------------------------------------------------------------- dispatch and validation
def test_auto_uses_conic_for_small_and_the_working_set_engine_for_large(monkeypatch):
    rng = np.random.default_rng(0)
    M, y = np.c_[rng.standard_normal((40, 3)), np.ones(40)], rng.standard_normal(40)
    monkeypatch.setattr(cvximplicit.solvers.relu.convex_relu, "ACTIVE_SET_AUTO_MIN_NNZ", 10**6)
    small = solve_convex_relu(M, y, beta=0.5, n_patterns=10)
    assert small.report.solver == "CLARABEL" and small.report.certificate == "restricted"
    assert small.report.solver_reason.startswith("auto: plain conic form with")
    monkeypatch.undo()  # the default: the engine first for every plain program
    large = solve_convex_relu(M, y, beta=0.5, n_patterns=10)
    assert large.report.solver == "ACTIVE_SET" and large.report.solver_reason.startswith("auto: plain program")
    assert "fell back" not in large.report.solver_reason
    assert large.report.bound <= small.report.objective * (1 + CLARABEL_OBJ_RTOL)  # a valid bound either way
    assert large.report.certificate == "restricted"  # certified: the same optimum as Clarabel's
    assert large.report.objective == pytest.approx(small.report.objective, rel=1e-6)


@pytest.mark.parametrize("limit, expected", [(10**9, "CLARABEL"), (0, "ADMM")])
def test_auto_falls_back_when_the_working_set_engine_does_not_certify(monkeypatch, limit, expected):
    """Under "auto" only: an uncertified ACTIVE_SET solve is followed by the size rule's choice, and said so."""
    rng = np.random.default_rng(0)
    M, y = np.c_[rng.standard_normal((40, 3)), np.ones(40)], rng.standard_normal(40)
    monkeypatch.setattr(cvximplicit.solvers.relu.convex_relu, "ACTIVE_SET_AUTO_MIN_NNZ", 0)
    monkeypatch.setattr(cvximplicit.solvers.relu.convex_relu, "CONIC_AUTO_MAX_NNZ", limit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InaccurateSolutionWarning)
        sol = solve_convex_relu(M, y, beta=0.5, n_patterns=10, solver_opts={"max_newton": 1, "tol": 1e-12})
    assert sol.report.solver == expected
    assert "ACTIVE_SET stopped uncertified" in sol.report.solver_reason and "fell back to" in sol.report.solver_reason
    # a named engine never becomes another
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InaccurateSolutionWarning)
        named = solve_convex_relu(M, y, beta=0.5, n_patterns=10, solver="ACTIVE_SET",
                                  solver_opts={"max_newton": 1, "tol": 1e-12})
    assert named.report.solver == "ACTIVE_SET" and named.report.certificate == "none"


@needs_first_order
@pytest.mark.filterwarnings("ignore::cvximplicit.exceptions.InaccurateSolutionWarning")
@pytest.mark.parametrize("patterns", ["exact", "sampled"])
def test_fista_dispatch_is_certified_against_conic(patterns):
    """Whatever FISTA's convergence, its certified interval contains the conic optimum."""
    M, y = smooth_block(60)
    if patterns == "sampled":
        M = np.c_[M[:, :1], np.sin(M[:, :1]), np.ones((60, 1))]
    conic = solve_convex_relu(M, y, beta=0.5, patterns=patterns, n_patterns=20, solver="CLARABEL")
    fista = solve_convex_relu(M, y, beta=0.5, patterns=patterns, n_patterns=20, solver="FISTA",
                              solver_opts={"max_iter": 3000})
    rep = fista.report
    assert rep.solver == "FISTA"
    # A certificate only when FISTA's gap met its tolerance (1e-6), else "none" — never the conic kind for free.
    met = rep.gap_rel is not None and abs(rep.gap_rel) <= 1e-6 and rep.residual <= 1e-6
    assert rep.certificate == (conic.report.certificate if met else "none")
    np.testing.assert_array_equal(fista.patterns, conic.patterns)
    optimum = conic.report.objective
    assert rep.bound <= optimum * (1 + CLARABEL_OBJ_RTOL)  # weak duality, independent of FISTA's accuracy
    assert rep.extra["network_objective"] >= conic.report.bound * (1 - CLARABEL_OBJ_RTOL)  # a real network
    if rep.gap_abs is None:  # the iterate violates the cone constraints: its objective bounds nothing
        assert rep.residual > 1e-6 and rep.certificate == "none"
    else:
        assert rep.gap_abs == pytest.approx(rep.objective - rep.bound)
        assert abs(rep.objective - optimum) <= rep.gap_abs + FISTA_OBJ_RTOL * optimum


@needs_first_order
def test_fista_non_optimal_status_warns_with_numbers():
    M, y = smooth_block(60)
    with pytest.warns(InaccurateSolutionWarning, match=r"FISTA stopped with status 'max_iter'.*gap_rel="):
        sol = solve_convex_relu(M, y, beta=0.5, solver="FISTA", solver_opts={"max_iter": 5})
    assert sol.report.status == "max_iter" and sol.report.bound <= sol.report.objective


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"beta": 0.0}, ValidationError, "beta must be a positive"),
        ({"beta": 1.0, "patterns": "all"}, ValidationError, "patterns must be one of"),
        ({"beta": 1.0, "patterns": np.ones((3, 2), bool)}, ValidationError, r"shape \(m, P\)"),
        ({"beta": 1.0, "solver": "NOPE"}, SolverUnavailableError, "unknown solver"),
    ],
)
def test_validation(kwargs, error, match):
    M, y = smooth_block(10)
    with pytest.raises(error, match=match):
        solve_convex_relu(M, y, **kwargs)


def test_exact_needs_one_dimensional_input():
    M = np.c_[np.random.default_rng(0).standard_normal((10, 2)), np.ones(10)]
    with pytest.raises(ValidationError, match="patterns='exact'.*shape \\(10, 3\\)"):
        solve_convex_relu(M, np.ones(10), beta=1.0, patterns="exact")
    with pytest.raises(ValidationError, match="Y must have shape"):
        solve_convex_relu(M, np.ones(9), beta=1.0)


@pytest.mark.slow
def test_exact_block_m500_within_two_seconds():
    M, y = smooth_block(500)
    conic._CACHE.clear()
    start = time.perf_counter()
    sol = solve_convex_relu(M, y, beta=1.0)
    elapsed = time.perf_counter() - start
    assert sol.report.certificate == "global" and sol.report.gap_rel <= GAP_REL_TARGET
    assert sol.patterns.shape[1] == 999
    assert elapsed <= 2.0


def test_report_round_trips_through_json():
    import json

    from cvximplicit.solvers.core.report import SolveReport

    rng = np.random.default_rng(0)
    u = rng.uniform(-1, 1, 40)
    rep = solve_convex_relu(np.c_[u, np.ones(40)], np.abs(u), beta=0.05).report
    assert SolveReport.from_dict(rep.to_dict()) == rep
    back = SolveReport.from_dict(json.loads(json.dumps(rep.to_dict())))
    assert back.to_dict() == json.loads(json.dumps(rep.to_dict()))
    assert (back.certificate, back.reductions, back["gap_rel"], back.get("nope", 1)) == \
        (rep.certificate, rep.reductions, rep.gap_rel, 1)
    assert SolveReport.from_dict({"problem": "p", "solver": "s", "status": "optimal", "objective": 1.0,
                                  "total_time_s": 0.0, "future_field": 3}) == SolveReport("p", "s", "optimal", 1.0)
    with pytest.raises(ValueError, match=r"needs the field\(s\) \['objective'\]"):
        SolveReport.from_dict({"problem": "p", "solver": "s", "status": "optimal"})
