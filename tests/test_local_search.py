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
        ({"init": "normal"}, r"init must be one of \('uniform', 'uniform_split'\); got init='normal'"),
        ({"C_init": "last"}, r"C_init must be one of \('previous', 'zero', 'uniform'\); got C_init='last'"),
        ({"train_C_prev": "no"}, "train_C_prev must be True or False; got train_C_prev='no'"),
        ({"train_C_prev": False, "C_init": "zero"},
         "train_C_prev=False holds C_<i at block i-1's values, so it needs C_init='previous'; got C_init='zero'"),
    ],
)
def test_validation_errors(options, match):
    with pytest.raises(ValidationError, match=match):
        LocalSearchBlockSolver(**options).solve(regression_block(m=20))


def test_frozen_C_prev_needs_C_prev():
    problem = regression_block(m=20, with_C_prev=False)
    with pytest.raises(ValidationError, match="train_C_prev=False holds C_<i at problem.C_prev, but this block has "
                                              "n_prev=4 earlier states and C_prev=None"):
        LocalSearchBlockSolver(epochs=1, train_C_prev=False).solve(problem)


def test_bad_C_prev_shape():
    problem = regression_block(m=20)
    bad = BlockProblem(U=problem.U, X_prev=problem.X_prev, Y=problem.Y, n_i=2, C_prev=np.zeros((1, 3)))
    with pytest.raises(ValidationError, match=r"C_prev must have shape \(q, n_prev\) = \(1, 4\); got \(1, 3\)"):
        LocalSearchBlockSolver(epochs=1).solve(bad)


# ------------------------------------------------ init, C_init, train_C_prev (the Table III ablation's options)
#: An Adam step moves a weight by lr·|g|/(|g| + eps) ≤ lr; with lr = 1e-15 the returned weights are the initial
#: ones to this tolerance.
INIT_ATOL = 1e-13


def wide_block(seed=0):
    """Block 2 with p = 40 inputs and n_prev = 4 states: the fan-ins of the two inits differ (1/√44 vs 1/√4, 1/√40)."""
    rng = np.random.default_rng(seed)
    m, p = 60, 40
    U = rng.standard_normal((p, m))
    X_prev = np.maximum(rng.standard_normal((4, p)) @ U / np.sqrt(p), 0.0)
    Y = rng.standard_normal((2, m))
    C_prev = np.linalg.lstsq(X_prev.T, Y.T, rcond=None)[0].T
    return BlockProblem(U=U, X_prev=X_prev, Y=Y, n_i=3, block_index=2, loss="squared", seed=seed, C_prev=C_prev)


def initial_weights(problem, **options):
    """The solver's initial ``(A_row, B_row, C)``: one Adam step of size 1e-15 (see INIT_ATOL)."""
    result = LocalSearchBlockSolver(epochs=1, lr=1e-15, **options).solve(problem)
    return result.A_row, result.B_row, result.C, result


def test_init_fan_ins():
    problem = wide_block()
    n_prev, p = problem.n_prev, problem.U.shape[0]
    A, B, _, _ = initial_weights(problem)  # default: one fan-in over [X_prev; U]
    assert np.abs(np.hstack([A, B])).max() <= 1 / np.sqrt(n_prev + p) + INIT_ATOL
    A, B, _, result = initial_weights(problem, init="uniform_split")  # a fan-in per input
    assert np.abs(A).max() <= 1 / np.sqrt(n_prev) + INIT_ATOL and np.abs(B).max() <= 1 / np.sqrt(p) + INIT_ATOL
    assert np.abs(A).max() > 1 / np.sqrt(n_prev + p)  # wider than the joint fan-in allows (seeded draw)
    assert result.info["init"] == "uniform_split" and result.reports[0].extra["init"] == "uniform_split"
    # The default draws exactly what the solver drew before the option existed: [A_row, B_row] first, one fan-in.
    generator = torch.Generator().manual_seed(problem.seed)
    expected = (torch.rand((3, n_prev + p), generator=generator, dtype=torch.float64) * 2 - 1) / np.sqrt(n_prev + p)
    np.testing.assert_allclose(np.hstack(initial_weights(problem)[:2]), expected.numpy(), rtol=0, atol=INIT_ATOL)


def test_C_init_starts():
    problem = wide_block()
    n_prev, n_i, q = problem.n_prev, problem.n_i, problem.Y.shape[0]
    _, _, C, result = initial_weights(problem)  # "previous": [C_prev, 0], the previous block's objective
    np.testing.assert_allclose(C, np.hstack([problem.C_prev, np.zeros((q, n_i))]), rtol=0, atol=INIT_ATOL)
    assert result.info["initial_objective"] == pytest.approx(
        block_loss(problem.Y, problem.C_prev @ problem.X_prev, "squared"), rel=1e-12)
    _, _, C, result = initial_weights(problem, C_init="zero")  # Ŷ = 0: the loss is mean ‖y‖²
    np.testing.assert_allclose(C, 0.0, rtol=0, atol=INIT_ATOL)
    assert result.info["initial_objective"] == pytest.approx(np.sum(problem.Y**2) / problem.m, rel=1e-12)
    _, _, C, result = initial_weights(problem, C_init="uniform")  # a fresh output layer
    assert np.abs(C).max() <= 1 / np.sqrt(n_prev + n_i) + INIT_ATOL and np.abs(C[:, :n_prev]).min() > 0
    assert result.info["C_init"] == "uniform"


@pytest.mark.parametrize("train_C_prev", [True, False])
def test_first_adam_step_moves_each_trained_weight_against_its_gradient(train_C_prev):
    """One full-batch Adam step moves every trained weight by lr·sign(gradient), the gradient computed in numpy.

    The gradient of (8) in C is ``−(2/m)(Y − C S) Sᵀ`` with ``S = [X_prev; φ(A X_prev + B U)]``; with
    ``train_C_prev=False`` the columns of ``C_<i`` do not move at all.
    """
    problem, lr = wide_block(seed=2), 1e-3
    A0, B0, C0, _ = initial_weights(problem)
    S = np.vstack([problem.X_prev, np.maximum(A0 @ problem.X_prev + B0 @ problem.U, 0.0)])
    grad = -2.0 / problem.m * (problem.Y - C0 @ S) @ S.T
    result = LocalSearchBlockSolver(epochs=1, lr=lr, train_C_prev=train_C_prev).solve(problem)
    step = result.C - C0
    n_prev = problem.n_prev
    trained = slice(0, None) if train_C_prev else slice(n_prev, None)
    big = np.abs(grad[:, trained]) > 1e-6  # Adam's eps (1e-8) is negligible beside these gradients
    assert big.sum() >= 4
    np.testing.assert_allclose(step[:, trained][big], -lr * np.sign(grad[:, trained][big]), rtol=1e-3)
    if not train_C_prev:
        assert np.array_equal(result.C[:, :n_prev], problem.C_prev)
    assert result.info["train_C_prev"] is train_C_prev


def test_frozen_C_prev_in_greedy_training_keeps_every_earlier_column():
    from cvximplicit import partition, train_greedy

    problem = regression_block()
    U, Y = problem.U[:1], problem.Y
    seen = []

    class Spy(LocalSearchBlockSolver):
        def solve(self, p):
            result = super().solve(p)
            seen.append((p.C_prev, result.C))
            return result

    result = train_greedy(U, Y, block_sizes=partition(6, 3), block_solver=Spy(epochs=50, train_C_prev=False),
                          loss="squared", seed=0)
    for C_prev, C in seen[1:]:
        assert np.array_equal(C[:, :C_prev.shape[1]], C_prev)
    assert result.blocks[-1].objective < result.blocks[0].objective


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
