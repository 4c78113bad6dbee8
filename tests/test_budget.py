"""Budget: β path/bisection and selection give exactly n_i neurons, with a certified gap."""

from __future__ import annotations

import numpy as np
import pytest

from cvximplicit.exceptions import ValidationError
from cvximplicit.solvers import beta_max, exact_patterns_1d, fit_relu_budget, solve_convex_relu
from cvximplicit.solvers.relu.budget import select_neurons

from .test_convex_relu import network_objective, smooth_block

#: Interior-point (Clarabel, tolerances 1e-8) relative accuracy of objective values.
CLARABEL_OBJ_RTOL = 1e-6


@pytest.mark.parametrize("n_neurons", [1, 3, 8])
def test_path_gives_exactly_n_neurons_with_certified_gap(n_neurons):
    M, y = smooth_block(120)
    fit = fit_relu_budget(M, y, n_neurons)
    assert fit.W1.shape == (n_neurons, 2) and fit.W2.shape == (1, n_neurons)
    assert fit.n_active >= n_neurons  # exactly n_i, or just above and truncated to the top n_i
    assert np.count_nonzero(np.linalg.norm(fit.W1, axis=1)) == n_neurons  # real neurons, no padding
    assert fit.report.certificate == "global"
    assert fit.objective == pytest.approx(network_objective(M, y, fit.W1, fit.W2, fit.beta), rel=1e-12)
    assert fit.convex_bound == pytest.approx(fit.report.bound)
    assert fit.gap_abs == pytest.approx(fit.objective - fit.convex_bound)
    assert fit.gap_abs >= -CLARABEL_OBJ_RTOL * abs(fit.objective)  # the bound is a lower bound
    # Bisection bracket: a solve with more than n_neurons at a smaller β (or the chosen one).
    assert any(p["n_active"] > n_neurons and p["beta"] <= fit.beta for p in fit.path) or fit.n_active == n_neurons
    # exactly n_i, or the lower end of the final bracket (more than n_i active; active counts need not be
    # monotone in β near a degenerate optimum, so that end is not always the smallest count seen)
    chosen = [p for p in fit.path if p["beta"] == fit.beta]
    assert chosen and chosen[-1]["n_active"] == fit.n_active and fit.n_active >= n_neurons
    assert len(fit.reports) == len(fit.path)


def test_selection_keeps_largest_contributions():
    W1 = np.array([[1.0, 0.0], [0.0, 3.0], [2.0, 2.0]])
    W2 = np.array([[1.0, -1.0, 0.1], [0.0, 0.0, 0.0]])
    out1, out2 = select_neurons(W1, W2, 2)  # scores: 1, 3, 0.283
    np.testing.assert_array_equal(out1, W1[:2])
    np.testing.assert_array_equal(out2, W2[:, :2])
    pad1, pad2 = select_neurons(W1, W2, 5)
    assert pad1.shape == (5, 2) and pad2.shape == (2, 5)
    assert np.all(pad1[3:] == 0) and np.all(pad2[:, 3:] == 0)


def test_fixed_beta_truncates_to_budget():
    M, y = smooth_block(80)
    sol = solve_convex_relu(M, y, beta=0.05)
    n_conv = sol.report.extra["n_active_neurons"]
    assert n_conv > 4
    fit = fit_relu_budget(M, y, 4, beta=0.05)
    assert fit.W1.shape == (4, 2) and fit.beta == 0.05 and len(fit.reports) == 1
    W1_all, W2_all = sol.neurons()
    contrib = np.sort(np.linalg.norm(W1_all, axis=1) * np.abs(W2_all[0]))[::-1][:4]
    # The convex optimum is unique in value, not in its neurons (weight can shift between
    # neighbouring patterns), so two solves agree on the neurons only to ~1e-4.
    np.testing.assert_allclose(np.sort(np.linalg.norm(fit.W1, axis=1) * np.abs(fit.W2[0]))[::-1], contrib,
                               rtol=1e-3)
    # Truncation can only raise the objective above the certified bound.
    assert fit.objective >= fit.convex_bound


def test_padding_when_fewer_neurons_are_active():
    M, y = smooth_block(30)
    fit = fit_relu_budget(M, y, 500)  # more than any solution has
    assert fit.W1.shape == (500, 2)
    assert np.count_nonzero(np.linalg.norm(fit.W1, axis=1)) == fit.n_active < 500
    assert len(fit.path) == 1  # the smallest β of the bracket already fits


def test_beta_max_is_the_zero_threshold():
    M, y = smooth_block(50)
    pats = exact_patterns_1d(M[:, 0])
    b = beta_max(M, y, pats)
    expected = max(np.linalg.norm(M.T @ (p * y)) for p in pats.T.astype(float))
    assert b == pytest.approx(expected)
    assert solve_convex_relu(M, y, beta=b * 1.001).report.extra["n_active_neurons"] == 0
    assert solve_convex_relu(M, y, beta=b * 0.01).report.extra["n_active_neurons"] > 0


def test_zero_targets_give_zero_network():
    M, _ = smooth_block(20)
    fit = fit_relu_budget(M, np.zeros(20), 3)
    assert np.all(fit.W1 == 0) and fit.objective == 0.0


def test_vector_output_budget():
    M, y = smooth_block(60)
    Y = np.c_[y, np.abs(y)]
    fit = fit_relu_budget(M, Y, 4)
    assert fit.W1.shape == (4, 2) and fit.W2.shape == (2, 4)
    assert fit.objective == pytest.approx(network_objective(M, Y, fit.W1, fit.W2, fit.beta), rel=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_neurons": 0}, "n_neurons must be an integer >= 1; got n_neurons=0"),
        ({"n_neurons": 2.5}, "n_neurons must be an integer >= 1; got n_neurons=2.5"),
        ({"n_neurons": 2, "beta": "grid"}, "beta must be 'path' or a positive float"),
        ({"n_neurons": 2, "beta": -1.0}, "beta must be a positive"),
        ({"n_neurons": 2, "max_bisection": 0}, "max_bisection must be an integer >= 1"),
    ],
)
def test_validation(kwargs, match):
    M, y = smooth_block(10)
    n = kwargs.pop("n_neurons")
    with pytest.raises(ValidationError, match=match):
        fit_relu_budget(M, y, n, **kwargs)


# --------------------------------------------------------------------------- the "pool" rule


def _ls_sse(F, Y):
    C = np.linalg.lstsq(F, Y, rcond=None)[0]
    return float(np.sum((Y - F @ C) ** 2))


def test_forward_select_matches_brute_force_greedy():
    from cvximplicit.solvers.relu.budget import forward_select

    rng = np.random.default_rng(4)
    m, K = 60, 12
    F = rng.standard_normal((m, 3))
    H = rng.standard_normal((m, K))
    Y = rng.standard_normal((m, 2))
    picked = forward_select(H, Y, 4, F=F)
    # independent greedy: at each step try every remaining column with numpy's lstsq
    chosen = []
    for _ in range(4):
        rest = [j for j in range(K) if j not in chosen]
        chosen.append(min(rest, key=lambda j: _ls_sse(np.hstack([F, H[:, chosen + [j]]]), Y)))
    assert picked == chosen


def test_forward_select_skips_dependent_columns():
    from cvximplicit.solvers.relu.budget import forward_select

    h = np.arange(10.0)[:, None]
    H = np.hstack([h, 2 * h, -h])  # all in one direction
    assert len(forward_select(H, h[:, 0] ** 2, 3)) == 1


def test_forward_select_skips_near_duplicates_and_keeps_the_output_step_certified():
    """Two ReLUs with neighbouring thresholds differ on the samples by a step of tiny height (here 1e-8 of their
    norm): a direction the output step could use only with ~1e8 coefficients. It is not picked; the three picked
    states stay well conditioned and least squares (11) certifies on them."""
    from cvximplicit.solvers import solve_least_squares
    from cvximplicit.solvers.relu.budget import forward_select

    u = np.linspace(-1.0, 1.0, 201)
    ramp = np.maximum(u - 0.1, 0.0)
    twin = ramp + 1e-8 * np.linalg.norm(ramp) * (u > 0.5) / np.sqrt(np.sum(u > 0.5))  # + a tiny step
    H = np.c_[ramp, twin, np.maximum(0.3 - u, 0.0), np.maximum(u + 0.6, 0.0)]
    y = 3.0 * (u > 0.5) + 0.1 * u  # a step the twins' difference could fit, at a huge coefficient
    picked = forward_select(H, y, 3)
    assert not {0, 1} <= set(picked), picked
    X = H[:, picked].T
    assert np.linalg.cond(X) < 1e4
    _, report = solve_least_squares(X, y[None, :])
    assert report.certificate == "normal_equations"


@pytest.mark.parametrize("n_neurons", [1, 3])
def test_pool_rule_gives_exactly_n_neurons_and_beats_path_on_ls(n_neurons):
    from cvximplicit.solvers.relu.budget import fit_relu_pool

    rng = np.random.default_rng(0)
    u = np.sort(rng.uniform(-5, 5, 150))
    y = 5 * np.cos(np.pi * u) * np.exp(-np.abs(u) / 2) + rng.uniform(-1, 1, u.size)
    M = np.c_[u, np.ones_like(u)]
    pool = fit_relu_pool(M, y, n_neurons)
    assert pool.W1.shape == (n_neurons, 2) and pool.W2.shape == (1, n_neurons)
    assert pool.report.certificate == "global"
    assert pool.convex_bound <= pool.objective + 1e-9 * abs(pool.objective)
    path = fit_relu_budget(M, y, n_neurons)
    ls = [_ls_sse(np.maximum(M @ f.W1.T, 0), y) for f in (pool, path)]
    assert ls[0] <= ls[1] * (1 + 1e-9)
