"""Local-search block solver (Remark 2): shapes, the block map, loss decrease, warm start, registry."""

from __future__ import annotations

import numpy as np
import pytest

from cvximplicit.activations import get_activation
from cvximplicit.exceptions import ValidationError
from cvximplicit.training.block import BlockProblem, BlockResult, block_loss, get_block_solver

torch = pytest.importorskip("torch", reason="the local-search block solver needs torch")

from cvximplicit.baselines.local_search import LocalSearchBlockSolver  # noqa: E402

pytestmark = pytest.mark.torch


def regression_block(m=150, n_prev=4, seed=0, with_C_prev=True, activation="relu"):
    """Block 2 of a 1-D regression: X_prev from a fixed random first block, C_prev its least-squares fit."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(-3, 3, m)
    U = np.vstack([u, np.ones(m)])
    X_prev = get_activation(activation)(rng.standard_normal((n_prev, 2)) @ U)
    Y = (np.sin(2 * u) + 0.05 * rng.standard_normal(m))[None, :]
    C_prev = np.linalg.lstsq(X_prev.T, Y.T, rcond=None)[0].T if with_C_prev else None
    return BlockProblem(U=U, X_prev=X_prev, Y=Y, n_i=3, block_index=2, loss="squared", activation=activation,
                        seed=seed, C_prev=C_prev)


def classification_block(m=120, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, m)
    centers = np.array([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.0]])
    U = np.vstack([(centers[labels] + 0.7 * rng.standard_normal((m, 2))).T, np.ones(m)])
    return BlockProblem(U=U, X_prev=np.zeros((0, m)), Y=np.eye(3)[labels].T, n_i=4, block_index=1,
                        loss="cross_entropy", seed=seed), labels


def check_block_result(problem: BlockProblem, result: BlockResult):
    n_prev, n_i, m, p, q = problem.n_prev, problem.n_i, problem.m, problem.U.shape[0], problem.Y.shape[0]
    assert result.A_row.shape == (n_i, n_prev) and result.B_row.shape == (n_i, p)
    assert result.C.shape == (q, n_prev + n_i) and result.X_new.shape == (n_i, m)
    phi = get_activation(problem.activation)
    np.testing.assert_allclose(result.X_new, phi(result.A_row @ problem.X_prev + result.B_row @ problem.U),
                               rtol=0, atol=1e-12)
    Y_hat = result.C @ np.vstack([problem.X_prev, result.X_new])
    assert result.objective == pytest.approx(block_loss(problem.Y, Y_hat, problem.loss), rel=1e-12)
    report = result.reports[0]
    assert report.solver == "ADAM" and report.certificate == "none" and report.problem == "local_search"
    assert report.objective == result.objective and report.iterations >= 1
    assert 1 <= len(report.extra["loss_trace"]) <= 50


def test_squared_loss_block_decreases_from_the_warm_start():
    problem = regression_block()
    result = LocalSearchBlockSolver(epochs=300).solve(problem)
    check_block_result(problem, result)
    # C_new starts at 0, so the initial objective is the previous block's least-squares fit
    warm = block_loss(problem.Y, problem.C_prev @ problem.X_prev, "squared")
    assert result.info["initial_objective"] == pytest.approx(warm, rel=1e-12)
    assert result.objective < 0.8 * warm
    assert result.reports[0].status == "max_iter" and result.reports[0].iterations == 300
    assert result.reports[0].extra["lr"] == 0.01  # the paper's regression step size


def test_cross_entropy_block_decreases_and_classifies():
    problem, labels = classification_block()
    result = LocalSearchBlockSolver(epochs=200, lr=0.02).solve(problem)
    check_block_result(problem, result)
    assert result.objective < 0.5 * result.info["initial_objective"]
    accuracy = np.mean(np.argmax(result.C @ result.X_new, axis=0) == labels)
    assert accuracy > 0.9
    assert LocalSearchBlockSolver(epochs=1).solve(problem).reports[0].extra["lr"] == 0.001  # paper default


def test_minibatches_tanh_and_no_warm_start():
    problem = regression_block(with_C_prev=False, activation="tanh")
    result = LocalSearchBlockSolver(epochs=40, batch_size=32).solve(problem)
    check_block_result(problem, result)
    assert result.info["initial_objective"] == pytest.approx(float(np.mean(problem.Y**2)), rel=1e-12)  # C = 0
    assert result.objective < result.info["initial_objective"]
    assert result.reports[0].iterations == 40 * 5 and result.info["batch_size"] == 32


def test_seeded_and_early_stopping():
    problem = regression_block(seed=3)
    a = LocalSearchBlockSolver(epochs=50).solve(problem)
    b = LocalSearchBlockSolver(epochs=50).solve(problem)
    assert np.array_equal(a.C, b.C) and np.array_equal(a.B_row, b.B_row)
    stopped = LocalSearchBlockSolver(epochs=5000, tol=1e-3).solve(problem)
    assert stopped.reports[0].status == "converged" and stopped.reports[0].iterations < 5000


def test_registry_and_greedy_training():
    from cvximplicit import partition, train_greedy

    solver = get_block_solver("local_search", epochs=20)
    assert isinstance(solver, LocalSearchBlockSolver) and solver.name == "local_search"
    problem = regression_block()
    U, Y = problem.U[:1], problem.Y
    result = train_greedy(U, Y, block_sizes=partition(6, 3), block_solver="local_search",
                          block_solver_options={"epochs": 200}, loss="squared", seed=0)
    objectives = [b["objective"] for b in result.blocks]
    assert result.model.wellposedness().strictly_block_triangular
    assert objectives[-1] < objectives[0]
    np.testing.assert_allclose(block_loss(Y, result.model.predict(U), "squared"), objectives[-1], rtol=1e-9)


@pytest.mark.parametrize(
    "options,match",
    [
        ({"epochs": 0}, "epochs must be an integer >= 1; got epochs=0"),
        ({"lr": 0.0}, "lr must be a finite number > 0; got 0.0"),
        ({"batch_size": -4}, "batch_size must be an integer >= 1; got batch_size=-4"),
        ({"weight_decay": -1.0}, "weight_decay must be a finite number ≥ 0"),
        ({"device": "tpu"}, "device must be 'cpu' or 'cuda'"),
        ({"dtype": "float16"}, r"dtype must be one of \('float64', 'float32'\)"),
    ],
)
def test_validation_errors(options, match):
    with pytest.raises(ValidationError, match=match):
        LocalSearchBlockSolver(**options).solve(regression_block(m=20))


def test_bad_C_prev_shape():
    problem = regression_block(m=20)
    bad = BlockProblem(U=problem.U, X_prev=problem.X_prev, Y=problem.Y, n_i=2, C_prev=np.zeros((1, 3)))
    with pytest.raises(ValidationError, match=r"C_prev must have shape \(q, n_prev\) = \(1, 4\); got \(1, 3\)"):
        LocalSearchBlockSolver(epochs=1).solve(bad)


@pytest.mark.slow
def test_paper_regression_task():
    """Table I task (f1, n = 30, L = 10): the paper's blockwise local search reaches RMSE 0.29.

    Measured here (seeds 0-4, default 2000 full-batch epochs per block): RMSE 0.22-0.53.
    """
    from cvximplicit import partition, train_greedy
    from cvximplicit.datasets import make_smooth

    data = make_smooth(seed=0)
    result = train_greedy(data.inputs_train.T, data.targets_train[None, :], block_sizes=partition(30, 10),
                          block_solver="local_search", loss="squared", seed=0, verbose=0)
    rmse = np.sqrt(np.mean((result.model.predict(data.inputs_test.T)[0] - data.targets_test) ** 2))
    assert rmse < 0.4
