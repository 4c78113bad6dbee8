"""Guided patterns, selection on every sample, and the reduced basis of wide block inputs."""

from __future__ import annotations

import numpy as np
import pytest

from cvximplicit.exceptions import ValidationError
from cvximplicit.solvers import exact_patterns_1d, guided_patterns, sample_patterns
from cvximplicit.solvers.relu.budget import fit_relu_pool, forward_select
from cvximplicit.training.alternating import AlternatingBlockSolver
from cvximplicit.training.reduction import principal_basis as _principal_basis
from cvximplicit.training.block import BlockProblem, block_loss


def _pattern_set(patterns):
    return {col.tobytes() for col in np.packbits(patterns, axis=0).T}


@pytest.mark.parametrize("seed", range(5))
def test_guided_patterns_are_arrangements_of_a_1d_input(seed):
    """With M = [u, 1] every arrangement is known (exact enumeration): guided ones must be among them."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(-3, 3, 60)
    M = np.c_[u, np.ones_like(u)]
    Y = np.c_[np.maximum(u - 0.5, 0) + 0.1 * rng.standard_normal(60), np.sin(u)]
    guided = guided_patterns(M, Y)
    assert guided.shape[0] == 60 and guided.dtype == bool and guided.any(axis=0).all()
    assert _pattern_set(guided) <= _pattern_set(exact_patterns_1d(u))
    # thresholds are used: more than the 2 q sign patterns of τ = 0
    assert guided.shape[1] > 2 * Y.shape[1]


def test_guided_patterns_realizable_in_higher_dimension():
    """Each pattern is 1[M h ≥ 0] for some gate h (checked by an independent LP, not the construction)."""
    from scipy.optimize import linprog

    rng = np.random.default_rng(1)
    X = rng.standard_normal((80, 4))
    M = np.c_[X, np.ones(80)]
    y = np.maximum(X @ [1.0, -2.0, 0.5, 0.0], 0.0)
    patterns = guided_patterns(M, y)
    assert patterns.shape[1] > 2
    for pattern in patterns.T:
        # LP over (h, t): max t s.t. s_i (M h)_i ≥ t, |h| ≤ 10, t ≤ 1, with s_i = ±1 from the pattern.
        # A positive margin t means a gate h strictly separates the pattern: it is an arrangement of M.
        # (The quantile thresholds fall between sample values here, so no sample lies on a gate.)
        signs = np.where(pattern, 1.0, -1.0)
        A_ub = np.c_[-(signs[:, None] * M), np.ones(80)]
        res = linprog(np.r_[np.zeros(5), -1.0], A_ub=A_ub, b_ub=np.zeros(80),
                      bounds=[(-10, 10)] * 5 + [(None, 1.0)], method="highs")
        assert res.status == 0 and -res.fun > 1e-6
        np.testing.assert_array_equal(M @ res.x[:5] >= 0, pattern)


def test_guided_patterns_without_constant_column_use_sign_only():
    rng = np.random.default_rng(2)
    M = rng.standard_normal((50, 3))
    Y = rng.standard_normal((50, 2))
    guided = guided_patterns(M, Y)
    assert guided.shape[1] <= 2 * Y.shape[1]
    G = np.linalg.lstsq(M, Y, rcond=None)[0]
    expected = np.column_stack([M @ G[:, 0] >= 0, M @ G[:, 0] <= 0, M @ G[:, 1] >= 0, M @ G[:, 1] <= 0])
    assert _pattern_set(guided) == _pattern_set(expected)


@pytest.mark.parametrize("kwargs, match", [
    ({"Y": np.ones((7, 1))}, "same number of rows"),
    ({"quantiles": (0.0, 0.5)}, "quantiles"),
    ({"quantiles": ()}, "quantiles"),
])
def test_guided_patterns_validation(kwargs, match):
    M = np.c_[np.arange(10.0), np.ones(10)]
    args = {"Y": np.arange(10.0), **kwargs}
    with pytest.raises(ValidationError, match=match):
        guided_patterns(M, args.pop("Y"), **args)


def test_pool_selection_on_other_data_minimises_that_least_squares():
    """select_on picks, among the convex solution's neurons, the forward-selection winners on the given data."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 3))
    M = np.c_[X, np.ones(400)]
    Y = np.c_[np.maximum(X[:, 0], 0) - np.maximum(X[:, 1] - 0.5, 0), np.abs(X[:, 2])]
    F = np.maximum(X[:, :1], 0)
    rows = np.arange(0, 400, 8)
    common = dict(n_patterns=40, beta_ratio=0.05, seed=0)
    on_sample = fit_relu_pool(M[rows], Y[rows], 2, F=F[rows], **common)
    on_all = fit_relu_pool(M[rows], Y[rows], 2, F=F[rows], select_on=(M, Y, F), **common)
    # same convex solve, different selection
    assert on_sample.report.objective == pytest.approx(on_all.report.objective, rel=1e-9)

    def ls_loss(fit):
        H = np.c_[F, np.maximum(M @ fit.W1.T, 0)]
        C = np.linalg.lstsq(H, Y, rcond=None)[0]
        return np.sum((Y - H @ C) ** 2)

    # independent computation: forward selection over the pool on all rows, by brute force over pairs
    W1_pool, _ = _pool_neurons(M[rows], Y[rows], common)
    H_pool = np.maximum(M @ W1_pool.T, 0)
    picked = forward_select(H_pool, Y, 2, F=F)
    assert ls_loss(on_all) == pytest.approx(
        np.sum((Y - np.c_[F, H_pool[:, picked]] @ np.linalg.lstsq(np.c_[F, H_pool[:, picked]], Y, rcond=None)[0])
               ** 2), rel=1e-9)
    assert ls_loss(on_all) <= ls_loss(on_sample) * (1 + 1e-9)
    with pytest.raises(ValidationError, match="columns"):
        fit_relu_pool(M[rows], Y[rows], 2, select_on=(M[:, :2], Y, F), **common)


def _pool_neurons(M, Y, common):
    from cvximplicit.solvers import solve_convex_relu
    from cvximplicit.solvers import beta_max
    from cvximplicit.solvers.relu.convex_relu import NEURON_TOL

    pats = sample_patterns(M, common["n_patterns"], seed=common["seed"])
    beta = beta_max(M, Y, pats) * common["beta_ratio"]
    for _ in range(4):
        sol = solve_convex_relu(M, Y, beta=beta, patterns=pats)
        if sol.report.extra["n_active_neurons"] >= 6:
            break
        beta /= 4
    return sol.neurons(tol=NEURON_TOL)


def test_principal_basis_is_orthonormal_and_keeps_the_bias():
    rng = np.random.default_rng(4)
    Z = rng.standard_normal((200, 3)) @ rng.standard_normal((3, 12)) + 5.0  # rank 3 + offset
    M = np.c_[Z + 0.01 * rng.standard_normal((200, 12)), np.zeros(200), np.ones(200), 2 * np.ones(200)]
    P = _principal_basis(M, 3)
    assert P.shape == (15, 4)  # 3 directions + one bias coordinate (not the zero column, not a second bias)
    np.testing.assert_allclose(P.T @ P, np.eye(4), atol=1e-12)
    # the constant column is representable: M P c = 1 for some c
    c = np.linalg.lstsq(M @ P, np.ones(200), rcond=None)[0]
    np.testing.assert_allclose(M @ P @ c, 1.0, atol=1e-9)
    # the centred data is well captured by the 3 principal directions
    centred = M - M.mean(axis=0)
    assert np.linalg.norm(centred - centred @ P @ P.T) < 0.05 * np.linalg.norm(centred)
    assert _principal_basis(M, None) is None and _principal_basis(M, 15) is None


@pytest.mark.parametrize("guided, select_on", [(False, "convex"), (True, "convex"), (True, "all")])
def test_wide_block_with_guided_patterns_and_full_selection(guided, select_on):
    """A wide block (reduced features and outputs): exactly n_i neurons, loss below the previous block's."""
    rng = np.random.default_rng(5)
    m, p = 600, 40
    U = np.vstack([rng.standard_normal((p, m)), np.ones((1, m))])
    labels = (U[0] + U[1] > 0).astype(int) + (U[2] > 0.5)
    Y = np.eye(3)[labels].T
    X_prev = np.maximum(rng.standard_normal((2, p + 1)) @ U, 0)
    problem = BlockProblem(U=U, X_prev=X_prev, Y=Y, n_i=2, block_index=2, loss="squared", activation="relu", seed=0)
    solver = AlternatingBlockSolver(max_rows=150, max_features=8, max_outputs=2, n_patterns=10, guided=guided,
                                    select_on=select_on)
    result = solver.solve(problem)
    assert result.A_row.shape == (2, 2) and result.B_row.shape == (2, p + 1)
    C_prev = np.linalg.lstsq(X_prev.T, Y.T, rcond=None)[0].T
    assert result.objective <= block_loss(Y, C_prev @ X_prev, "squared") * (1 + 1e-9)
    assert result.reports[1].certificate == "restricted"
    assert result.objective == pytest.approx(
        block_loss(Y, result.C @ np.vstack([X_prev, result.X_new]), "squared"), rel=1e-12)


def test_select_on_validation():
    with pytest.raises(ValidationError, match="select_on"):
        AlternatingBlockSolver(select_on="some")
