"""Tests of cvximplicit.solvers.relu.certificate against an independent conic solution of program (12).

The reference ``conic_reference`` poses the Ergen–Pilanci program directly in cvxpy
(one output at a time, Clarabel at tight tolerances) and returns its optimum, the
solution and the cone-constraint duals; it is also used by ``test_first_order.py``.
"""

from __future__ import annotations

import math

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvximplicit.exceptions import ValidationError
from cvximplicit.solvers.relu import certificate as C

#: Engine and certificate tests: .ci/run runs them a second time with one BLAS thread.
pytestmark = pytest.mark.engine

#: Clarabel at 1e-10 gap/feasibility tolerances reaches ~1e-9 relative accuracy on these tiny programs.
CONIC_OPTS = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}
#: Relative slack for "bound ≤ optimum" comparisons: the conic optimum itself is accurate to ~1e-9.
CONIC_REL_ACC = 1e-8


def make_problem(m=40, d=3, P=8, q=1, seed=0, noise=0.1):
    """Gaussian ``M`` (last column = bias 1), targets from a random 3-neuron ReLU net + noise, gate patterns."""
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((m, d))
    M[:, -1] = 1.0
    A = rng.standard_normal((3, d))
    B = rng.standard_normal((q, 3))
    Y = np.maximum(M @ A.T, 0.0) @ B.T + noise * rng.standard_normal((m, q))
    patterns = (M @ rng.standard_normal((d, P))) >= 0
    return M, Y, patterns


def beta_max(M, Y, patterns):
    """``max_{k,c} ‖Mᵀ D_k Y_c‖``: for β above it the zero solution is optimal (λ = Y, μ = 0 is feasible)."""
    return max(
        float(np.linalg.norm(M.T @ (patterns[:, k] * Y[:, c])))
        for k in range(patterns.shape[1]) for c in range(Y.shape[1])
    )


def conic_reference(M, Y, patterns, beta):
    """Plain cvxpy/Clarabel solution of program (12): ``(optimum, V, W, mu_pos, mu_neg)``; arrays ``(P, ·, q)``."""
    Y = Y.reshape(Y.shape[0], -1)
    m, d = M.shape
    P = patterns.shape[1]
    q = Y.shape[1]
    Dm = patterns.astype(float)
    S = 2.0 * Dm - 1.0
    V = np.zeros((P, d, q))
    W = np.zeros((P, d, q))
    mu_pos = np.zeros((P, m, q))
    mu_neg = np.zeros((P, m, q))
    total = 0.0
    for c in range(q):
        Vc, Wc = cp.Variable((P, d)), cp.Variable((P, d))
        fit = cp.sum(cp.multiply(Dm, M @ (Vc - Wc).T), axis=1)
        cv = cp.multiply(S, M @ Vc.T) >= 0
        cw = cp.multiply(S, M @ Wc.T) >= 0
        obj = 0.5 * cp.sum_squares(fit - Y[:, c]) + beta * (
            cp.sum(cp.norm(Vc, 2, axis=1)) + cp.sum(cp.norm(Wc, 2, axis=1)))
        prob = cp.Problem(cp.Minimize(obj), [cv, cw])
        prob.solve(solver="CLARABEL", **CONIC_OPTS)
        assert prob.status == "optimal", prob.status
        total += float(prob.value)
        V[:, :, c], W[:, :, c] = Vc.value, Wc.value
        mu_pos[:, :, c] = np.maximum(cv.dual_value, 0.0).T
        mu_neg[:, :, c] = np.maximum(cw.dual_value, 0.0).T
    return total, V, W, mu_pos, mu_neg


def decode(V, W):
    """Inline decoding: each non-zero group → neuron ``z/√‖z‖`` with output ``±√‖z‖`` on its output."""
    P, d, q = V.shape
    rows, outs = [], []
    for Z, sign in ((V, 1.0), (W, -1.0)):
        for k in range(P):
            for c in range(q):
                r = np.linalg.norm(Z[k, :, c])
                if r > 0:
                    rows.append(Z[k, :, c] / math.sqrt(r))
                    col = np.zeros(q)
                    col[c] = sign * math.sqrt(r)
                    outs.append(col)
    return np.array(rows).reshape(-1, d), np.array(outs).T.reshape(q, -1)


@pytest.fixture(scope="module", params=[1, 2], ids=["q1", "q2"])
def solved(request):
    q = request.param
    M, Y, patterns = make_problem(q=q, seed=q)
    beta = 0.2 * beta_max(M, Y, patterns)
    opt, V, W, mu_pos, mu_neg = conic_reference(M, Y, patterns, beta)
    return M, Y, patterns, beta, opt, V, W, mu_pos, mu_neg


# --------------------------------------------------------------------------- objectives
def test_convex_objective_matches_explicit_loop(solved):
    M, Y, patterns, beta, opt, V, W, *_ = solved
    total = 0.0
    for c in range(Y.shape[1]):
        fit = sum(np.diag(patterns[:, k].astype(float)) @ M @ (V[k, :, c] - W[k, :, c])
                  for k in range(patterns.shape[1]))
        total += 0.5 * np.sum((fit - Y[:, c]) ** 2)
        total += beta * sum(np.linalg.norm(V[k, :, c]) + np.linalg.norm(W[k, :, c]) for k in range(V.shape[0]))
    assert C.convex_objective(M, Y, patterns, V, W, beta) == pytest.approx(total, rel=1e-12)
    assert C.convex_objective(M, Y, patterns, V, W, beta) == pytest.approx(opt, rel=1e-7)


def test_network_objective_equals_convex_objective_at_decoded_neurons(solved):
    M, Y, patterns, beta, opt, V, W, *_ = solved
    assert C.constraint_violation(M, patterns, V, W) < 1e-7
    W1, W2 = decode(V, W)
    net = C.relu_network_objective(M, Y, W1, W2, beta)
    assert net == pytest.approx(C.convex_objective(M, Y, patterns, V, W, beta), rel=1e-6)


def test_network_objective_hand_computed():
    M = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([1.0, 0.0, 2.0])
    W1 = np.array([[1.0, -1.0]])
    W2 = np.array([[2.0]])
    # relu(M W1ᵀ) = [1, 0, 0] → pred [2, 0, 0]; residual² = 1 + 0 + 4; decay (2 + 4)/2 · β
    assert C.relu_network_objective(M, y, W1, W2, 0.5) == pytest.approx(0.5 * 5 + 0.25 * 6)
    assert C.relu_network_objective(M, y, np.zeros((0, 2)), np.zeros((1, 0)), 0.5) == pytest.approx(2.5)


def test_constraint_violation_zero_for_gate_and_one_for_its_negative():
    rng = np.random.default_rng(3)
    M = rng.standard_normal((30, 3))
    h = rng.standard_normal((3, 4))
    patterns = (M @ h) >= 0
    V = h.T[:, :, None]  # the gate itself satisfies (2D_k − I) M h_k = |M h_k| ≥ 0
    assert C.constraint_violation(M, patterns, V, np.zeros_like(V)) == 0.0
    viol = C.constraint_violation(M, patterns, np.zeros_like(V), -V)
    row = np.sqrt((M**2).sum(1)).max()
    expected = np.max(np.abs(M @ h)) / (row * np.linalg.norm(h, axis=0).max())
    assert viol == pytest.approx(expected)
    assert 0 < viol <= 1


# --------------------------------------------------------------------------- dual bound
def _brute_rho(M, patterns, lam, mu_pos, mu_neg):
    P, q = patterns.shape[1], lam.shape[1]
    rho = np.zeros(q)
    for c in range(q):
        for k in range(P):
            D = np.diag(patterns[:, k].astype(float))
            for s, mu in ((1.0, mu_pos), (-1.0, mu_neg)):
                v = M.T @ D @ (s * lam[:, c]) + M.T @ (2 * D - np.eye(len(D))) @ mu[k, :, c]
                rho[c] = max(rho[c], np.linalg.norm(v))
    return rho


def test_dual_bound_tight_at_conic_optimum(solved):
    M, Y, patterns, beta, opt, V, W, mu_pos, mu_neg = solved
    lam = Y - C.pattern_fit(M, patterns, V - W)
    bound, det = C.dual_bound(M, Y, patterns, beta, lam, mu_pos=mu_pos, mu_neg=mu_neg)
    assert bound <= opt * (1 + CONIC_REL_ACC)
    assert (opt - bound) / max(1.0, opt) <= 1e-6
    assert det["rho"] == pytest.approx(beta, rel=1e-5)
    assert np.allclose(det["t_per_output"], 1.0, atol=1e-5)
    assert det["rho_per_output"] == pytest.approx(_brute_rho(M, patterns, lam, mu_pos, mu_neg), rel=1e-10)


def test_dual_bound_without_multipliers_is_valid_but_loose(solved):
    M, Y, patterns, beta, opt, V, W, *_ = solved
    lam = Y - C.pattern_fit(M, patterns, V - W)
    bound, det = C.dual_bound(M, Y, patterns, beta, lam)
    assert bound <= opt * (1 + CONIC_REL_ACC)
    zeros = np.zeros((patterns.shape[1],) + Y.shape)
    assert det["rho_per_output"] == pytest.approx(_brute_rho(M, patterns, lam, zeros, zeros), rel=1e-10)


def test_dual_bound_formula_by_hand(solved):
    M, Y, patterns, beta, opt, *_ = solved
    rng = np.random.default_rng(0)
    lam = rng.standard_normal(Y.shape)
    mu_p = rng.random((patterns.shape[1],) + Y.shape)
    mu_n = rng.random((patterns.shape[1],) + Y.shape)
    bound, det = C.dual_bound(M, Y, patterns, beta, lam, mu_p, mu_n)
    rho = _brute_rho(M, patterns, lam, mu_p, mu_n)
    expected = 0.0
    for c in range(Y.shape[1]):
        t = np.clip(lam[:, c] @ Y[:, c] / (lam[:, c] @ lam[:, c]), 0.0, beta / rho[c])
        expected += t * lam[:, c] @ Y[:, c] - 0.5 * t**2 * lam[:, c] @ lam[:, c]
    assert bound == pytest.approx(expected, rel=1e-10)
    assert bound <= opt * (1 + CONIC_REL_ACC)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1), lam_scale=st.floats(0.01, 100.0), mu_scale=st.floats(0.0, 10.0),
       around_optimum=st.booleans())
def test_dual_bound_below_optimum_for_any_lambda_and_mu(solved, seed, lam_scale, mu_scale, around_optimum):
    M, Y, patterns, beta, opt, V, W, mu_pos, mu_neg = solved
    rng = np.random.default_rng(seed)
    lam = lam_scale * rng.standard_normal(Y.shape)
    mu_p = mu_scale * rng.random(mu_pos.shape)
    mu_n = mu_scale * rng.random(mu_neg.shape)
    if around_optimum:  # perturbations of the optimal pair probe the tight regime
        lam = Y - C.pattern_fit(M, patterns, V - W) + lam * 1e-3
        mu_p, mu_n = mu_pos + 1e-3 * mu_p, mu_neg + 1e-3 * mu_n
    bound, det = C.dual_bound(M, Y, patterns, beta, lam, mu_pos=mu_p, mu_neg=mu_n)
    assert bound <= opt * (1 + CONIC_REL_ACC)
    assert np.all(det["t_per_output"] * det["rho_per_output"] <= beta * (1 + 1e-12))


def test_zero_residual_gives_zero_bound():
    M, Y, patterns = make_problem()
    bound, det = C.dual_bound(M, Y, patterns, 1.0, np.zeros_like(Y))
    assert bound == 0.0 and det["t"] == 0.0


def test_zero_solution_certified_above_beta_max():
    M, Y, patterns = make_problem(q=2, seed=5)
    beta = 1.01 * beta_max(M, Y, patterns)
    bound, det = C.dual_bound(M, Y, patterns, beta, Y)  # λ = Y, the residual of V = W = 0
    assert det["feasible"]
    assert bound == pytest.approx(0.5 * np.sum(Y**2), rel=1e-12)


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"beta": 0.0}, "beta must be a positive"),
        ({"beta": float("nan")}, "beta must be a positive"),
        ({"residual": np.zeros((5, 1))}, "residual must have shape"),
        ({"mu_pos": -np.ones((8, 40, 1))}, "mu_pos must be >= 0"),
        ({"mu_neg": np.ones((8, 41, 1))}, r"mu_neg must have shape \(P, m, q\)"),
        ({"patterns": np.ones((40, 8))}, "patterns must be a bool array"),
        ({"patterns": np.ones((39, 8), dtype=bool)}, r"patterns must have shape \(m, P\)"),
        ({"Y": np.zeros(39)}, r"Y must have shape \(m, q\) or \(m,\)"),
        ({"M": np.full((40, 3), np.nan)}, "M must be finite"),
    ],
)
def test_dual_bound_validation(kwargs, match):
    M, Y, patterns = make_problem()
    args = {"M": M, "Y": Y, "patterns": patterns, "beta": 1.0, "residual": Y}
    args.update(kwargs)
    with pytest.raises(ValidationError, match=match):
        C.dual_bound(args["M"], args["Y"], args["patterns"], args["beta"], args["residual"],
                     mu_pos=args.get("mu_pos"), mu_neg=args.get("mu_neg"))


def test_objective_validation_messages():
    M, Y, patterns = make_problem()
    V = np.zeros((8, 3, 1))
    with pytest.raises(ValidationError, match=r"V must have shape \(P, d, q\) = \(8, 3, 1\)"):
        C.convex_objective(M, Y, patterns, np.zeros((8, 2, 1)), V, 1.0)
    with pytest.raises(ValidationError, match=r"W2 must have shape \(q, k\)"):
        C.relu_network_objective(M, Y, np.zeros((2, 3)), np.zeros((1, 3)), 1.0)
    with pytest.raises(ValidationError, match="W1 must have shape"):
        C.relu_network_objective(M, Y, np.zeros((2, 4)), np.zeros((1, 2)), 1.0)
