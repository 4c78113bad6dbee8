"""ImplicitModel.to_torch / from_torch: outputs equal predict, exact round trips, training, guards."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from cvximplicit.exceptions import ValidationError
from cvximplicit.model import ImplicitModel
from cvximplicit.nonstrict import check_self_loops, to_nonstrict

from .test_no_torch import HIDE_TORCH

torch = pytest.importorskip("torch", reason="ImplicitModel.to_torch needs torch (pip install 'cvximplicit[torch]')")

pytestmark = pytest.mark.torch

#: float64 outputs of the module vs ImplicitModel.predict (same arithmetic, different order of sums).
OUTPUT_ATOL = 1e-10
#: float64 round trip: the weights are copied, so they must agree to the last bit (1e-12 is the brief's bound).
ROUND_TRIP_ATOL = 1e-12


def strict_model(seed=0, sizes=(2, 3, 1, 2), p=3, q=2, activation="relu", input_bias=True):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    A = rng.standard_normal((n, n))
    start = 0
    for s in sizes:  # keep only the strictly lower blocks (computation order)
        A[start:start + s, start:] = 0.0
        start += s
    B = rng.standard_normal((n, p + int(input_bias)))
    C = rng.standard_normal((q, n))
    return ImplicitModel(A, B, C, activation=activation, block_sizes=list(sizes), input_bias=input_bias,
                         info={"trained_by": "test"})


def inputs(model, m=40, seed=1):
    return np.random.default_rng(seed).standard_normal((model.p, m))


def module_outputs(module, U):
    """The module on rows-as-samples inputs, returned in the maths orientation (columns are samples)."""
    with torch.no_grad():
        return module(torch.as_tensor(U.T)).numpy().T


def assert_round_trip(model, module):
    back = ImplicitModel.from_torch(module)
    for name in "ABCD":
        np.testing.assert_allclose(getattr(back, name), getattr(model, name), rtol=0, atol=ROUND_TRIP_ATOL)
    assert back.block_sizes == model.block_sizes and back.activation == model.activation
    assert back.input_bias == model.input_bias and back.info == model.info
    return back


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu"])
@pytest.mark.parametrize("input_bias", [True, False])
def test_strict_model_matches_predict_and_round_trips(activation, input_bias):
    model = strict_model(activation=activation, input_bias=input_bias)
    module = model.to_torch()
    assert module.mode == "forward"
    assert [name for name, _ in module.named_parameters()] == ["A", "B", "C", "D"]
    assert all(P.requires_grad and P.dtype == torch.float64 for P in module.parameters())
    U = inputs(model)
    np.testing.assert_allclose(module_outputs(module, U), model.predict(U), rtol=0, atol=OUTPUT_ATOL)
    with torch.no_grad():
        X = module.state(torch.as_tensor(U.T)).numpy().T
    np.testing.assert_allclose(X, model.state(U), rtol=0, atol=OUTPUT_ATOL)
    assert_round_trip(model, module)


def nonstrict_model():
    """A Theorem-2 model whose first block merges three strict blocks (upper-triangular self-loop block)."""
    strict = strict_model(seed=3, sizes=(1, 1, 1, 2, 2))
    model = to_nonstrict(strict, eps=np.linspace(0.3, 1.6, 7), block_sizes=[3, 2, 2])
    check_self_loops(model)
    assert np.any(np.triu(model.A[:3, :3], k=1)) and np.any(np.diag(model.A) < 0)
    return model


def test_nonstrict_model_matches_predict_and_round_trips():
    model = nonstrict_model()
    module = model.to_torch()
    assert module.mode == "self_loop"
    U = inputs(model, m=60)
    np.testing.assert_allclose(module_outputs(module, U), model.predict(U), rtol=0, atol=OUTPUT_ATOL)
    # and the fixed point itself: X = ReLU(A X + B U)
    with torch.no_grad():
        X = module.state(torch.as_tensor(U.T)).numpy().T
    np.testing.assert_allclose(X, np.maximum(model.A @ X + model.B @ model.prepare_inputs(U), 0), atol=1e-12)
    assert_round_trip(model, module)


def general_model(seed=5, n=6, p=2, q=2, norm=0.8, activation="tanh"):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    A *= norm / np.abs(A).sum(axis=1).max()
    return ImplicitModel(A, rng.standard_normal((n, p + 1)), rng.standard_normal((q, n)),
                         rng.standard_normal((q, p + 1)), activation=activation, input_bias=True)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_general_model_picard_matches_predict(activation):
    model = general_model(activation=activation)
    module = model.to_torch()
    assert module.mode == "picard"
    U = inputs(model)
    expected = model.predict(U, method="picard", tol=1e-15)
    np.testing.assert_allclose(module_outputs(module, U), expected, rtol=0, atol=OUTPUT_ATOL)
    assert_round_trip(model, module)
    with torch.no_grad():  # float32: the tolerance is raised to what float32 can reach
        out32 = module.float()(torch.as_tensor(U.T, dtype=torch.float32)).numpy().T
    np.testing.assert_allclose(out32, expected, rtol=0, atol=1e-4)


def test_picard_guard_rejects_ill_posed_A_and_accepts_pf_below_one():
    model = general_model()
    module = model.to_torch()
    U = torch.as_tensor(inputs(model).T)
    with torch.no_grad():
        module.A.copy_(torch.eye(6) * 1.01)  # λ_PF(|A|) = ‖A‖∞ = 1.01
    with pytest.raises(ValidationError, match=r"not well-posed .*λ_PF\(\|A\|\) = 1.01 ≥ 1"):
        module(U)
    # ‖A‖∞ = 1.5 but λ_PF(|A|) = 0.5 (triangular 2x2 block): the guard lets it through
    A = np.zeros((6, 6))
    A[0, 0], A[1, 1], A[1, 0] = 0.5, 0.5, 1.0
    with torch.no_grad():
        module.A.copy_(torch.as_tensor(A))
    other = ImplicitModel(A, model.B, model.C, model.D, activation="tanh", input_bias=True)
    np.testing.assert_allclose(module_outputs(module, U.numpy().T), other.predict(U.numpy().T, tol=1e-15),
                               atol=OUTPUT_ATOL)


def test_gradients_match_finite_differences_of_predict():
    """Autograd through forward/back substitution vs central differences of the numpy model."""
    for model in (strict_model(seed=7, activation="tanh"), nonstrict_model()):
        U = inputs(model, m=25, seed=2)
        W = np.random.default_rng(4).standard_normal((model.q, 25))
        module = model.to_torch()
        (module(torch.as_tensor(U.T)) * torch.as_tensor(W.T)).sum().backward()
        mask = module.structure.numpy()
        step = 1e-6
        for name in "AB":
            grad = getattr(module, name).grad.numpy()
            base = getattr(model, name)
            fd = np.zeros_like(base)
            for idx in zip(*np.nonzero(mask if name == "A" else np.ones_like(base, dtype=bool))):
                plus, minus = base.copy(), base.copy()
                plus[idx] += step
                minus[idx] -= step
                values = []
                for M in (plus, minus):
                    kw = {"A": model.A, "B": model.B, "C": model.C, "D": model.D, name: M}
                    probe = ImplicitModel(**kw, activation=model.activation, block_sizes=model.block_sizes,
                                          input_bias=model.input_bias)
                    values.append(float(np.sum(probe.predict(U) * W)))
                fd[idx] = (values[0] - values[1]) / (2 * step)
            np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6)
            if name == "A":
                assert np.all(grad[~mask] == 0.0)  # the entries outside the structure are never read


def test_fine_tuning_keeps_the_structure_and_from_torch_matches_module():
    model = strict_model(seed=2)
    U = inputs(model, m=80)
    Y = np.random.default_rng(9).standard_normal((model.q, 80))
    module = model.to_torch()
    optimizer = torch.optim.Adam(module.parameters(), lr=0.01)
    U_rows, Y_rows = torch.as_tensor(U.T), torch.as_tensor(Y.T)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = ((module(U_rows) - Y_rows) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0]
    tuned = ImplicitModel.from_torch(module)
    assert tuned.wellposedness().strictly_block_triangular  # still forward substitution
    assert not np.allclose(tuned.A, model.A) and np.any(tuned.D)  # A and D were trained
    np.testing.assert_allclose(tuned.predict(U), module_outputs(module, U), rtol=0, atol=OUTPUT_ATOL)
    assert tuned.info == {"trained_by": "torch", "before_torch": {"trained_by": "test"}}


def test_dtype_moves_and_pickling():
    model = strict_model(seed=4)
    U = inputs(model)
    module = model.to_torch().to(torch.float32)
    assert all(P.dtype == torch.float32 for P in module.parameters())
    assert module.structure.dtype == torch.bool
    out32 = module(torch.as_tensor(U.T, dtype=torch.float32))
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.detach().numpy().T, model.predict(U), rtol=1e-4, atol=1e-4)
    module = module.double()
    assert ImplicitModel.from_torch(module).info["trained_by"] == "torch"  # rounded to float32 on the way
    restored = pickle.loads(pickle.dumps(model.to_torch()))  # what torch.save(module) does
    np.testing.assert_allclose(module_outputs(restored, U), model.predict(U), atol=OUTPUT_ATOL)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_predict():
    model = nonstrict_model()
    U = inputs(model)
    module = model.to_torch().to("cuda")
    out = module(torch.as_tensor(U.T, device="cuda")).detach().cpu().numpy().T
    np.testing.assert_allclose(out, model.predict(U), rtol=0, atol=OUTPUT_ATOL)
    assert_round_trip(model, module)


def test_errors():
    model = strict_model()
    module = model.to_torch()
    with pytest.raises(ValidationError, match=r"input must have shape \(batch, p\) = \(batch, 3\); got \(3, 5\) "
                                              r"\(rows are samples; did you mean U.T\?\)"):
        module(torch.zeros(3, 5))
    with pytest.raises(ValidationError, match="mode must be one of"):
        model.to_torch(mode="newton")
    with pytest.raises(ValidationError, match="mode='forward' needs a strictly block lower-triangular A"):
        nonstrict_model().to_torch(mode="forward")
    with pytest.raises(ValidationError, match=r"A\[0, 1\] = .* lies in block A_\{1,2\} above the block diagonal"):
        general_model(activation="relu").to_torch(mode="self_loop")
    self_loop = nonstrict_model().to_torch()
    with torch.no_grad():
        self_loop.A[4, 4] = 1.0
    with pytest.raises(ValidationError, match=r"self-loop weight A\[4, 4\] = 1 left the interval \(-1, 1\)"):
        self_loop(torch.zeros(2, 3))
    with pytest.raises(ValidationError, match="module must be a cvximplicit.torch_bridge.ImplicitModule"):
        ImplicitModel.from_torch(torch.nn.Linear(2, 2))
    with torch.no_grad():
        module.A[0, 1] = 1.0  # above the block diagonal: never read by forward substitution
    with pytest.raises(ValidationError, match="A has nonzero entries outside the pattern of mode='forward'"):
        ImplicitModel.from_torch(module)


def test_to_torch_without_torch_raises_the_install_hint():
    script = HIDE_TORCH + (
        "import numpy as np\n"
        "from cvximplicit import ImplicitModel\n"
        "from cvximplicit.exceptions import MissingDependencyError\n"
        "import cvximplicit.torch_bridge\n"
        "try:\n"
        "    ImplicitModel(np.zeros((1, 1)), np.ones((1, 1)), np.ones((1, 1))).to_torch()\n"
        "except MissingDependencyError as exc:\n"
        "    print(exc)\n"
        "assert 'torch' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "torch is needed for ImplicitModel.to_torch" in proc.stdout and "pip install" in proc.stdout
