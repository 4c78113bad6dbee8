"""The cross-entropy variant of Algorithm 2: whitened logistic output step, polish step, block solver."""

import numpy as np
import pytest

from cvximplicit.exceptions import ValidationError
from cvximplicit.training import AlternatingBlockSolver, BlockProblem, block_loss, train_greedy
from cvximplicit.training.output_step import whitened_logistic
from cvximplicit.training.polish import polish_block


def _classification(m=240, p=3, q=3, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((p, m))
    labels = np.argmax(np.vstack([U[0] + U[1] ** 2 - 1, -U[0], U[2] * U[1]]), axis=0)
    return U, np.eye(q)[labels].T


def _ce(Z, Y):
    Z = Z - Z.max(axis=0)
    return float(np.mean(np.log(np.exp(Z).sum(axis=0)) - np.sum(Y * Z, axis=0)))


def test_whitened_logistic_logits_do_not_depend_on_the_state_basis():
    # Whitening removes any invertible linear map of the states: the same program, the same logits.
    rng = np.random.default_rng(1)
    X = np.maximum(rng.standard_normal((5, 300)), 0.0)
    _, Y = _classification(m=300)
    A = rng.standard_normal((5, 5)) + 3 * np.eye(5)
    C1, r1 = whitened_logistic(X, Y, 1.0)
    C2, r2 = whitened_logistic(A @ X, Y, 1.0)
    assert r1.certificate != "none" and r2.certificate != "none"
    assert np.abs(C1 @ X - C2 @ (A @ X)).max() < 1e-4
    assert abs(r1.objective - r2.objective) <= 1e-6 * abs(r1.objective)


def test_whitened_logistic_drops_dead_states_and_warm_starts():
    rng = np.random.default_rng(2)
    X = np.maximum(rng.standard_normal((4, 200)), 0.0)
    X[2] = 0.0  # a dead ReLU state
    _, Y = _classification(m=200)
    C, report = whitened_logistic(X, Y, 1.0)
    assert np.all(C[:, 2] == 0.0) or np.abs(C[:, 2]).max() < 1e-12
    C_warm, report_warm = whitened_logistic(X, Y, 1.0, C0=C[:, :3])
    assert report_warm.iterations <= report.iterations
    assert np.abs(C_warm @ X - C @ X).max() < 1e-3


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_polish_gradient_matches_finite_differences_and_never_increases_the_loss(loss):
    U, Y = _classification(m=120)
    rng = np.random.default_rng(3)
    X_prev = np.maximum(rng.standard_normal((2, 4)) @ np.vstack([U, np.ones((1, 120))]), 0.0)
    features = np.vstack([X_prev, U, np.ones((1, 120))])
    W1 = rng.standard_normal((2, features.shape[0]))
    C = rng.standard_normal((3, 4)) * 0.3

    def objective(W):
        Z = C @ np.vstack([X_prev, np.maximum(W @ features, 0.0)])
        return block_loss(Y, Z, loss)

    one_step = polish_block(features, X_prev, Y, W1, C, loss=loss, max_iter=0)
    assert one_step.loss_before == pytest.approx(objective(W1), rel=1e-12)
    result = polish_block(features, X_prev, Y, W1, C, loss=loss, max_iter=30)
    assert result.loss_after <= result.loss_before
    Z = result.C @ np.vstack([X_prev, np.maximum(result.W1 @ features, 0.0)])
    assert block_loss(Y, Z, loss) == pytest.approx(result.loss_after, rel=1e-9)
    assert result.summary()["certified"] is False


def test_alternating_cross_entropy_block_is_certified_and_improves_on_the_previous_block():
    U, Y = _classification()
    Ub = np.vstack([U, np.ones((1, U.shape[1]))])
    solver = AlternatingBlockSolver(n_patterns=10, max_rows=80, polish=10)
    first = solver.solve(BlockProblem(U=Ub, X_prev=np.zeros((0, U.shape[1])), Y=Y, n_i=3, loss="cross_entropy"))
    problems = [r.problem for r in first.reports]
    assert "multinomial_logistic" in problems
    assert all(r.certificate != "none" for r in first.reports)
    assert first.info["loss"] == "cross_entropy" and first.info["polish"]["step"] == "polish"
    assert first.objective == pytest.approx(_ce(first.C @ first.X_new, Y), rel=1e-9)
    assert first.objective < np.log(3)  # better than the zero network (uniform probabilities)
    second = solver.solve(BlockProblem(U=Ub, X_prev=first.X_new, Y=Y, n_i=3, block_index=2, loss="cross_entropy",
                                       C_prev=first.C, seed=2))
    assert second.objective <= first.objective + 1e-6


def test_train_greedy_cross_entropy_runs_and_rejects_cross_entropy_regression():
    U, Y = _classification()
    result = train_greedy(U, Y, block_sizes=[2, 2], block_solver_options={"n_patterns": 8, "max_rows": 60},
                          loss="cross_entropy", verbose=0)
    Z = result.model.predict(U)
    assert np.mean(np.argmax(Z, axis=0) == np.argmax(Y, axis=0)) > 0.6

    from cvximplicit.experiments import load_task, run_experiment

    with pytest.raises(ValidationError, match="classification"):
        run_experiment(load_task("smooth", n_train=50), n=2, L=1, loss="cross_entropy", verbose=0)
    with pytest.raises(ValidationError, match="loss must be one of"):
        run_experiment(load_task("smooth", n_train=50), n=2, L=1, loss="hinge", verbose=0)


def test_estimators_take_the_loss_and_refuse_cross_entropy_regression():
    from cvximplicit import ImplicitClassifier, ImplicitRegressor

    U, Y = _classification(m=150)
    labels = np.argmax(Y, axis=0)
    clf = ImplicitClassifier(n=4, L=2, n_patterns=8, max_rows=60).fit(U.T, labels)
    assert any(r.problem == "multinomial_logistic" for r in clf.reports_)  # "auto": the cross-entropy
    squared = ImplicitClassifier(n=4, L=2, n_patterns=8, max_rows=60, loss="squared").fit(U.T, labels)
    assert not any(r.problem == "multinomial_logistic" for r in squared.reports_)
    assert clf.score(U.T, labels) > 0.6
    with pytest.raises(ValidationError, match="loss must be 'auto' or 'squared' for regression"):
        ImplicitRegressor(n=2, L=1, loss="cross_entropy").fit(U.T, U[0])
    with pytest.raises(ValidationError, match="loss must be one of"):
        ImplicitClassifier(n=2, L=1, loss="hinge").fit(U.T, labels)


def test_exact_cross_entropy_convex_step_is_certified_and_strictly_optioned():
    U, Y = _classification(m=120)
    Ub = np.vstack([U, np.ones((1, U.shape[1]))])
    solver = AlternatingBlockSolver(n_patterns=6, max_rows=40, convex_step="cross_entropy")
    first = solver.solve(BlockProblem(U=Ub, X_prev=np.zeros((0, 120)), Y=Y, n_i=2, loss="cross_entropy"))
    second = solver.solve(BlockProblem(U=Ub, X_prev=first.X_new, Y=Y, n_i=2, block_index=2, loss="cross_entropy",
                                       C_prev=first.C, seed=2))
    relu = [r for r in second.reports if r.problem == "convex_relu_ce"]
    assert relu and all(r.certificate == "restricted" and r.scope["offset"] for r in relu)
    assert not any("pseudo-residual" in x for x in second.info["reductions"])  # the CE program itself
    assert second.objective <= first.objective + 1e-6
    with pytest.raises(ValidationError, match="max_outputs=None"):
        AlternatingBlockSolver(convex_step="cross_entropy", max_outputs=2)
    with pytest.raises(ValidationError, match="convex_step must be one of"):
        AlternatingBlockSolver(convex_step="exact")


def test_cross_entropy_pseudo_residual_is_the_negative_gradient_over_classes():
    # Independent reference: the gradient of Σ_i logsumexp(z_i) − y_iᵀz_i by central differences, columns = samples.
    from cvximplicit.training.alternating import _pseudo_residual

    rng = np.random.default_rng(4)
    Z, (_, Y) = rng.standard_normal((3, 5)), _classification(m=5)
    R = _pseudo_residual(Y, Z, "cross_entropy")
    np.testing.assert_allclose(R.sum(axis=0), 0.0, atol=1e-12)  # per sample, over the classes

    def loss(Z):
        return float(np.sum(np.log(np.exp(Z).sum(axis=0)) - np.sum(Y * Z, axis=0)))

    grad = np.zeros_like(Z)
    for idx in np.ndindex(Z.shape):
        E = np.zeros_like(Z)
        E[idx] = 1e-6
        grad[idx] = (loss(Z + E) - loss(Z - E)) / 2e-6
    np.testing.assert_allclose(R, -grad, atol=1e-7)


@pytest.mark.parametrize("loss", ["cross_entropy", "squared"])
def test_a_classification_row_reports_its_training_fit_whatever_the_loss(loss):
    """run_experiment's row: the training cross-entropy (9) of the outputs and the training accuracy, computed here
    independently from the model's predictions; under the squared loss ``train_loss`` is the other measure."""
    from cvximplicit.datasets import Dataset
    from cvximplicit.experiments import run_experiment

    U, Y = _classification(m=160)
    labels = np.argmax(Y, axis=0)
    data = Dataset("toy", "classification", U.T[:120], labels[:120], U.T[120:], labels[120:], n_classes=3)
    result = run_experiment(data, n=4, L=2, loss=loss, seed=0, verbose=0, finetune=None,
                            block_solver_options={"n_patterns": 8, "max_rows": 60})
    Z = result.model.predict(U[:, :120])
    row = result.row
    assert row["train_cross_entropy"] == pytest.approx(_ce(Z, Y[:, :120]), rel=1e-10)
    assert row["train_accuracy"] == np.mean(np.argmax(Z, axis=0) == labels[:120])
    squared = float(np.sum((Z - Y[:, :120]) ** 2) / 120)
    assert row["train_loss"] == pytest.approx(row["train_cross_entropy"] if loss == "cross_entropy" else squared,
                                              rel=1e-10)
