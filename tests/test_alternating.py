"""Algorithm 2 (alternating LS ↔ Ergen–Pilanci) inside Algorithm 1, on small problems."""

from __future__ import annotations

import numpy as np
import pytest

from cvximplicit import ImplicitRegressor, ValidationError, partition, train_greedy
from cvximplicit.datasets import make_smooth
from cvximplicit.training.alternating import AlternatingBlockSolver
from cvximplicit.training.block import BlockProblem, block_loss

# The reduced LS problem is solved by an interior-point method at its default tolerance (~1e-8 relative), so the
# normal-equation residual on the full data is of that order, not machine precision.
LS_RESIDUAL_TOL = 1e-6


@pytest.fixture(scope="module")
def smooth_run():
    data = make_smooth(n_train=80, seed=3)
    U, Y = data.inputs_train.T, data.targets_train[None, :]
    result = train_greedy(U, Y, block_sizes=partition(6, 3), block_solver="alternating",
                          block_solver_options={"T": 2, "n_patterns": 20}, verbose=0)
    return U, Y, result


def test_loss_decreases_block_to_block_and_matches_model(smooth_run):
    U, Y, result = smooth_run
    losses = [b["objective"] for b in result.blocks]
    assert all(b <= a * (1 + 1e-9) for a, b in zip(losses, losses[1:])), losses
    # The least-squares step makes block 1's loss at most the best constant/linear-free fit: ‖Y‖²/m.
    assert losses[0] < np.mean(Y**2)
    assert block_loss(Y, result.model.predict(U), "squared") == pytest.approx(losses[-1], rel=1e-8)


def test_certificates_reported(smooth_run):
    _, _, result = smooth_run
    first = result.blocks[0]["reports"]
    kinds = {r["certificate"] for r in first}
    # block 1 sees a 1-D input plus bias: exact arrangements, a global certificate; LS: normal equations
    assert kinds == {"global", "normal_equations"}
    assert {r["certificate"] for r in result.blocks[1]["reports"]} == {"restricted", "normal_equations"}
    for block in result.blocks:
        for r in block["reports"]:
            if r["certificate"] == "normal_equations":
                assert r["residual"] < LS_RESIDUAL_TOL
            else:
                assert r["bound"] <= r["objective"] + 1e-9 * max(1, abs(r["objective"]))


def test_block_gets_exactly_n_i_neurons(smooth_run):
    _, _, result = smooth_run
    model = result.model
    assert model.block_sizes == [2, 2, 2]
    assert model.A.shape == (6, 6) and model.B.shape == (6, 2)


def test_alternating_rejects_what_it_cannot_solve():
    rng = np.random.default_rng(0)
    U, Y = rng.standard_normal((2, 10)), rng.standard_normal((1, 10))
    solver = AlternatingBlockSolver()
    with pytest.raises(ValidationError, match="probability vectors"):
        solver.solve(BlockProblem(U, np.zeros((0, 10)), Y, 2, loss="cross_entropy"))
    with pytest.raises(ValidationError, match="exact for ReLU only"):
        solver.solve(BlockProblem(U, np.zeros((0, 10)), Y, 2, activation="tanh"))
    with pytest.raises(ValidationError, match=r"AlternatingBlockSolver: T must be an integer >= 1; got T="):
        AlternatingBlockSolver(T=0)


def test_regressor_fits_better_than_mean():
    data = make_smooth(n_train=120, seed=1)
    reg = ImplicitRegressor(n=6, L=2, T=1, n_patterns=20).fit(data.inputs_train, data.targets_train)
    assert reg.score(data.inputs_test, data.targets_test) > 0.2
