"""End-to-end implicit training: implicit gradients, projection, well-posedness of the result."""

from __future__ import annotations

import numpy as np
import pytest

from cvximplicit.exceptions import ValidationError

torch = pytest.importorskip("torch", reason="the end-to-end baseline needs torch (pip install 'cvximplicit[torch]')")

from cvximplicit.baselines import fit_end_to_end, implicit_fixed_point
from cvximplicit.model import ImplicitModel

pytestmark = pytest.mark.torch

#: Relative agreement of the implicit gradient with unrolled autograd / central
#: differences, in float64 with both fixed points solved to 1e-14.
GRAD_RTOL = 1e-6
FD_STEP = 1e-6


def small_problem(seed=0, n=5, m=7):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    A *= 0.6 / np.abs(A).sum(axis=1).max()  # ‖A‖∞ = 0.6: Picard contracts by 0.6 per step
    BU = rng.standard_normal((m, n)) * 2.0
    W = rng.standard_normal((m, n))  # the loss is <W, X>² / 2 + <W, X> (a nonlinear function of X)
    return (torch.tensor(A, dtype=torch.float64), torch.tensor(BU, dtype=torch.float64),
            torch.tensor(W, dtype=torch.float64))


def objective(X, W):
    s = (W * X).sum()
    return 0.5 * s**2 + s


def implicit_grads(A, BU, W, activation, **options):
    A, BU = A.clone().requires_grad_(True), BU.clone().requires_grad_(True)
    stats = {}
    X = implicit_fixed_point(A, BU, activation=activation, tol=1e-14, max_iter=500, stats=stats, **options)
    objective(X, W).backward()
    return A.grad, BU.grad, stats


def unrolled_grads(A, BU, W, activation, iterations=200):
    """Autograd through 200 Picard iterations (0.6^200 ≈ 1e-44: the unrolled map is the fixed point)."""
    phi = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
           "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01)}[activation]
    A, BU = A.clone().requires_grad_(True), BU.clone().requires_grad_(True)
    X = torch.zeros_like(BU)
    for _ in range(iterations):
        X = phi(X @ A.T + BU)
    objective(X, W).backward()
    return A.grad, BU.grad


def rel_err(a, b):
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_implicit_gradient_matches_unrolled_autograd(activation, seed):
    A, BU, W = small_problem(seed)
    gA, gBU, stats = implicit_grads(A, BU, W, activation)
    uA, uBU = unrolled_grads(A, BU, W, activation)
    assert rel_err(gA, uA) < GRAD_RTOL and rel_err(gBU, uBU) < GRAD_RTOL
    assert stats.get("forward_capped", 0) == 0 and stats.get("adjoint_capped", 0) == 0
    assert 0 < stats["forward_max_iter"] < 500 and 0 < stats["adjoint_max_iter"] < 500


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu"])
@pytest.mark.parametrize("options", [{"solver": "anderson"}, {"adjoint": "direct"},
                                     {"solver": "anderson", "adjoint": "direct"}])
def test_faster_solvers_give_the_unrolled_gradient(activation, options):
    """Anderson acceleration and the direct per-sample adjoint solve: same gradient as unrolled autograd."""
    for seed in (0, 1):
        A, BU, W = small_problem(seed)
        gA, gBU, stats = implicit_grads(A, BU, W, activation, **options)
        uA, uBU = unrolled_grads(A, BU, W, activation)
        assert rel_err(gA, uA) < GRAD_RTOL and rel_err(gBU, uBU) < GRAD_RTOL
        assert stats.get("forward_capped", 0) == 0 and stats.get("adjoint_capped", 0) == 0
        if options.get("adjoint") == "direct":
            assert stats["adjoint_direct"] == 1 and "adjoint_max_iter" not in stats
        if options.get("solver") == "anderson":
            # fewer iterations than Picard's on the same problem (contraction 0.6 per Picard step)
            _, _, picard = implicit_grads(A, BU, W, activation)
            assert stats["forward_max_iter"] < picard["forward_max_iter"]


def test_direct_adjoint_solves_each_sample_system():
    """H from the direct path satisfies (I − diag(J_s) Aᵀ) h_s = J_s ⊙ g_s, checked with numpy per sample."""
    A, BU, _ = small_problem(5, n=6, m=9)
    G = torch.as_tensor(np.random.default_rng(1).standard_normal((9, 6)))
    A_, BU_ = A.clone().requires_grad_(True), BU.clone().requires_grad_(True)
    X = implicit_fixed_point(A_, BU_, activation="tanh", tol=1e-14, max_iter=500, adjoint="direct")
    (X * G).sum().backward()
    X_np, A_np = X.detach().numpy(), A.numpy()
    J = 1.0 - np.tanh(X_np @ A_np.T + BU.numpy()) ** 2
    for s in range(9):
        h = np.linalg.solve(np.eye(6) - np.diag(J[s]) @ A_np.T, J[s] * G[s].numpy())
        np.testing.assert_allclose(BU_.grad[s].numpy(), h, rtol=1e-12, atol=1e-12)


def test_solver_options_are_checked():
    A, BU, _ = small_problem(0)
    with pytest.raises(ValidationError, match=r"solver must be one of \('picard', 'anderson'\); got 'newton'"):
        implicit_fixed_point(A, BU, solver="newton")
    with pytest.raises(ValidationError, match=r"adjoint must be one of \('auto', 'iterate', 'direct'\); got 'exact'"):
        implicit_fixed_point(A, BU, adjoint="exact")


def test_fit_with_anderson_and_direct_adjoint_matches_picard():
    """Same training data and seed: the solvers agree to their tolerance, so the trained models nearly agree."""
    U, Y = regression_data(m=60)
    results = [fit_end_to_end(U, Y, n=5, epochs=20, seed=0, picard_tol=1e-12, **options)
               for options in ({}, {"solver": "anderson"}, {"adjoint": "direct"})]
    for other in results[1:]:
        np.testing.assert_allclose(other.model.A, results[0].model.A, atol=1e-7)
        assert other.info["final_loss"] == pytest.approx(results[0].info["final_loss"], rel=1e-7)
    assert results[1].info["solver"] == "anderson" and results[2].info["adjoint"] == "direct"
    assert results[0].info["adjoint"] == "auto"


def test_auto_adjoint_iterates_on_cpu():
    A, BU, W = small_problem(0)
    _, _, stats = implicit_grads(A, BU, W, "relu", adjoint="auto")
    assert "adjoint_direct" not in stats and stats["adjoint_max_iter"] > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_auto_adjoint_is_direct_on_cuda_and_matches_unrolled():
    A, BU, W = small_problem(1)
    gA, gBU, stats = implicit_grads(A.cuda(), BU.cuda(), W.cuda(), "tanh")
    uA, uBU = unrolled_grads(A, BU, W, "tanh")
    assert stats["adjoint_direct"] == 1
    assert rel_err(gA.cpu(), uA) < GRAD_RTOL and rel_err(gBU.cpu(), uBU) < GRAD_RTOL


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_implicit_gradient_matches_finite_differences(activation):
    A, BU, W = small_problem(3)
    gA, gBU, _ = implicit_grads(A, BU, W, activation)

    def value(A_, BU_):
        with torch.no_grad():
            return float(objective(implicit_fixed_point(A_, BU_, activation=activation, tol=1e-15, max_iter=1000), W))

    fdA = torch.zeros_like(A)
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            E = torch.zeros_like(A)
            E[i, j] = FD_STEP
            fdA[i, j] = (value(A + E, BU) - value(A - E, BU)) / (2 * FD_STEP)
    fdBU = torch.zeros_like(BU)
    for i in range(BU.shape[0]):
        for j in range(BU.shape[1]):
            E = torch.zeros_like(BU)
            E[i, j] = FD_STEP
            fdBU[i, j] = (value(A, BU + E) - value(A, BU - E)) / (2 * FD_STEP)
    assert rel_err(gA, fdA) < GRAD_RTOL
    assert rel_err(gBU, fdBU) < GRAD_RTOL


def test_fixed_point_matches_numpy_model():
    A, BU, _ = small_problem(4)
    X = implicit_fixed_point(A, BU, tol=1e-13, max_iter=500)
    # ImplicitModel with B = I and U = (BU)ᵀ solves the same fixed point by its own Picard iteration.
    model = ImplicitModel(A.numpy(), np.eye(5), np.eye(5))
    np.testing.assert_allclose(X.numpy().T, model.state(BU.numpy().T, method="picard", tol=1e-14), atol=1e-11)


def regression_data(m=120, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.uniform(-3, 3, m)
    return u[None, :], (np.sin(u) + 0.1 * rng.standard_normal(m))[None, :]


def test_fit_is_wellposed_and_decreases_the_loss():
    U, Y = regression_data()
    kappa = 0.9
    result = fit_end_to_end(U, Y, n=8, kappa=kappa, epochs=150, seed=1)
    model = result.model
    assert isinstance(model, ImplicitModel) and model.A.shape == (8, 8) and model.B.shape == (8, 2)
    wp = model.wellposedness()
    assert wp.well_posed and not wp.strictly_block_triangular
    assert wp.inf_norm <= kappa + 1e-9 and result.info["inf_norm"] <= kappa + 1e-9
    assert np.count_nonzero(model.A) > 8  # dense, not triangular
    assert result.info["final_loss"] < 0.5 * result.history[0]["loss"]
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert len(result.history) == 150 and result.method == "end_to_end"
    assert result.n_params == 8 * 8 + 8 * 2 + 8 + 2
    assert model.predict(U).shape == (1, 120)
    # the returned final loss is the numpy model's loss
    assert result.info["final_loss"] == pytest.approx(float(np.mean((model.predict(U) - Y) ** 2)), rel=1e-12)


def test_fit_minibatch_cross_entropy():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 150)
    centers = np.array([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.0]])
    U = (centers[labels] + 0.5 * rng.standard_normal((150, 2))).T
    Y = np.eye(3)[labels].T
    result = fit_end_to_end(U, Y, n=6, loss="cross_entropy", lr=0.02, epochs=30, batch_size=32, seed=0)
    assert result.info["batch_size"] == 32 and result.info["steps"] == 30 * 5
    accuracy = np.mean(np.argmax(result.model.predict(U), axis=0) == labels)
    assert accuracy > 0.9
    assert result.model.wellposedness().inf_norm <= 0.95 + 1e-9


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"kappa": 1.0}, "kappa must be < 1"),
        ({"n": 0}, "n must be an integer >= 1; got n=0"),
        ({"loss": "hinge"}, "loss must be one of"),
        ({"lr": -1.0}, "lr must be a finite number > 0; got -1.0"),
        ({"activation": "gelu"}, "activation must be one of"),
        ({"device": "tpu"}, "device must be 'cpu' or 'cuda'"),
        ({"input_bias": 1}, "input_bias must be True or False"),
    ],
)
def test_validation_errors(kwargs, match):
    U, Y = regression_data(m=10)
    options = {"n": 3, "epochs": 1, **kwargs}
    with pytest.raises(ValidationError, match=match):
        fit_end_to_end(U, Y, **options)


def test_shape_mismatch_names_the_orientation():
    U, Y = regression_data(m=10)
    with pytest.raises(ValidationError, match="columns"):
        fit_end_to_end(U.T, Y, n=3, epochs=1)


@pytest.mark.slow
def test_paper_regression_task():
    """Table I task (f1, n = 30): the paper's end-to-end model reaches RMSE 1.72.

    Measured here (seeds 0-4, default 2000 full-batch epochs, κ = 0.95): RMSE 0.40-0.91.
    """
    from cvximplicit.datasets import make_smooth

    data = make_smooth(seed=0)
    result = fit_end_to_end(data.inputs_train.T, data.targets_train[None, :], n=30, seed=0)
    rmse = np.sqrt(np.mean((result.model.predict(data.inputs_test.T)[0] - data.targets_test) ** 2))
    assert rmse < 1.72
    assert result.model.wellposedness().inf_norm <= 0.95 + 1e-9
