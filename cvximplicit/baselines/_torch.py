"""Private torch engine shared by the baselines: lazy import, validation, Adam loop.

torch is imported only inside :func:`require_torch`, so importing this module
(and every baseline module) works without torch installed.

Orientation: columns are samples (``U`` is ``p × m``, ``Y`` is ``q × m``), as in
the maths core; mini-batches select columns.
"""

from __future__ import annotations

import contextlib
import numbers
import time
from typing import Callable

import numpy as np

from .._params import Int, check_params
from .._validation import as_finite_matrix
from ..exceptions import MissingDependencyError, ValidationError
from ..training.block import LOSSES

#: Install hint used in every "torch is missing" error.
INSTALL_HINT = (
    "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu (the tested CPU build; "
    "plain pip install 'cvximplicit[torch]' may pull the multi-GB CUDA build: see the README)"
)
#: Adam step sizes of the paper (Section V): regression / classification.
DEFAULT_LR = {"squared": 0.01, "cross_entropy": 0.001}
#: Above this many samples, ``batch_size=None`` means mini-batches of :data:`AUTO_BATCH_SIZE`.
FULL_BATCH_MAX_M = 4096
AUTO_BATCH_SIZE = 256
DTYPES = ("float64", "float32")
#: Length cap of the short loss traces stored in reports.
TRACE_POINTS = 50


#: Epochs when ``epochs=None``, for every gradient baseline: full-batch steps on the 500-sample
#: regression tasks; the paper's 200 epochs for classification (MNIST-size, mini-batches).
DEFAULT_EPOCHS = {"squared": 2000, "cross_entropy": 200}


def uniform_init(torch, generator, shape, fan_in: int):
    """Uniform ``±1/√fan_in`` float64 weights (torch ``Linear``'s default), drawn from ``generator``."""
    return (torch.rand(shape, generator=generator, dtype=torch.float64) * 2.0 - 1.0) / np.sqrt(max(fan_in, 1))


def require_torch(purpose: str):
    """Import and return the ``torch`` module, or raise :class:`MissingDependencyError`.

    Parameters
    ----------
    purpose : str
        What torch is needed for; it starts the error message
        ("torch is needed for <purpose>: pip install ...").
    """
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError(f"torch is needed for {purpose}: {INSTALL_HINT}") from exc
    return torch


# ------------------------------------------------------------------ validation
def check_data(U, Y, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``U`` (``p × m``) and ``Y`` (``q × m``), columns are samples; return float64 copies."""
    if loss not in LOSSES:
        raise ValidationError(f"loss must be one of {LOSSES}; got {loss!r}")
    U = as_finite_matrix("U", U, layout="features × samples")
    Y = as_finite_matrix("Y", Y, layout="outputs × samples")
    if U.shape[1] != Y.shape[1]:
        raise ValidationError(
            f"U and Y must have the same number m of columns (samples); got U{U.shape} and Y{Y.shape} "
            "(columns are samples; did you pass rows?)"
        )
    if U.shape[1] < 1:
        raise ValidationError("U and Y must hold at least one sample (column)")
    if loss == "cross_entropy" and (np.any(Y < 0) or not np.allclose(Y.sum(axis=0), 1.0)):
        raise ValidationError(
            "Y must hold one-hot (or probability) columns for loss='cross_entropy': nonnegative entries "
            "summing to 1 in every column"
        )
    return U, Y


def check_positive_int(name: str, value, *, allow_none: bool = False):
    """``value`` as an int ``>= 1`` (None passes when ``allow_none``), else the :func:`check_params` error."""
    check_params("", {name: value}, {name: [Int(1)] + ([None] if allow_none else [])})
    return None if value is None else int(value)


def check_positive_float(name: str, value, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = "≥ 0" if allow_zero else "> 0"
        raise ValidationError(f"{name} must be a finite number {bound}; got {value!r}")
    return float(value)


def resolve_lr(lr, loss: str) -> float:
    """``lr`` or the paper's default (0.01 squared loss, 0.001 cross-entropy)."""
    return DEFAULT_LR[loss] if lr is None else check_positive_float("lr", lr)


def resolve_batch_size(batch_size, m: int) -> int | None:
    """``None`` → full batch when ``m ≤ FULL_BATCH_MAX_M``, else mini-batches of ``AUTO_BATCH_SIZE``.

    Returns ``None`` for full-batch training.
    """
    if batch_size is None:
        return None if m <= FULL_BATCH_MAX_M else AUTO_BATCH_SIZE
    batch_size = check_positive_int("batch_size", batch_size)
    return None if batch_size >= m else batch_size


def resolve_device(torch, device):
    """A ``torch.device`` for ``"cpu"``, ``"cuda"``, ``"cuda:k"``; CUDA must be available."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValidationError(f"device must be 'cpu' or 'cuda' (or 'cuda:k'); got {device!r}") from exc
    if dev.type not in ("cpu", "cuda"):
        raise ValidationError(f"device must be 'cpu' or 'cuda' (or 'cuda:k'); got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValidationError(f"device={device!r} was requested but torch.cuda.is_available() is False")
    return dev


def resolve_dtype(torch, dtype):
    if dtype not in DTYPES:
        raise ValidationError(f"dtype must be one of {DTYPES}; got {dtype!r}")
    return getattr(torch, dtype)


# --------------------------------------------------------------- torch pieces
def torch_activation(torch, name: str) -> Callable:
    """The torch version of :func:`cvximplicit.activations.get_activation`."""
    from ..activations import LEAKY_RELU_SLOPE, check_activation

    name = check_activation(name)
    F = torch.nn.functional
    return {
        "relu": torch.relu,
        "leaky_relu": lambda z: F.leaky_relu(z, LEAKY_RELU_SLOPE),
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
    }[name]


def torch_activation_derivative(torch, name: str) -> Callable:
    """``φ'(z)`` elementwise (``φ'(0) = 0`` for ReLU, the subgradient autograd also uses)."""
    from ..activations import LEAKY_RELU_SLOPE, check_activation

    name = check_activation(name)

    def relu(z):
        return (z > 0).to(z.dtype)

    def leaky(z):
        return torch.where(z >= 0, torch.ones_like(z), torch.full_like(z, LEAKY_RELU_SLOPE))

    def tanh(z):
        return 1.0 - torch.tanh(z) ** 2

    def sigmoid(z):
        s = torch.sigmoid(z)
        return s * (1.0 - s)

    return {"relu": relu, "leaky_relu": leaky, "tanh": tanh, "sigmoid": sigmoid}[name]


def torch_loss(torch, Y_rows, Y_hat_rows, loss: str):
    """Mean loss over the samples: squared (8) ``‖Y − Ŷ‖_F²/m`` or softmax cross-entropy (9).

    Internal layout: **rows are samples** here (``m × q``), so that mini-batches
    are contiguous row gathers; the value equals
    :func:`cvximplicit.training.block.block_loss` on the transposes.
    """
    m = Y_rows.shape[0]
    if loss == "squared":
        return ((Y_rows - Y_hat_rows) ** 2).sum() / m
    return -(Y_rows * torch.log_softmax(Y_hat_rows, dim=1)).sum() / m


def as_rows(torch, M: np.ndarray, *, dtype, device):
    """A ``features × samples`` numpy matrix as a contiguous ``samples × features`` tensor."""
    return torch.as_tensor(np.ascontiguousarray(M.T), dtype=dtype, device=device)


@contextlib.contextmanager
def threads(torch, work: float):
    """Run with 1 intra-op thread for small problems (``work`` = entries per step), torch's setting otherwise.

    Small full-batch problems (the 500-sample regression tasks) are dominated
    by per-op overhead, where extra threads only add synchronisation (measured
    on the shared 2-core machine: FFN 500 epochs 1.3 s with 1 thread vs 50 s
    with 2); MNIST-size steps keep torch's own thread count.
    The previous setting is restored on exit.
    """
    before = torch.get_num_threads()
    if work < 200_000:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def short_trace(values: list[float], points: int = TRACE_POINTS) -> list[float]:
    """At most ``points`` evenly spaced entries of ``values`` (first and last kept)."""
    if len(values) <= points:
        return [float(v) for v in values]
    idx = np.unique(np.linspace(0, len(values) - 1, points).round().astype(int))
    return [float(values[i]) for i in idx]


def adam_loop(torch, params, batch_loss, *, m, lr, epochs, batch_size, weight_decay=0.0, seed=0, tol=0.0,
              after_step=None, verbose=False, label="adam") -> dict:
    """Minimise ``batch_loss`` with Adam over ``epochs`` passes of the ``m`` columns.

    Parameters
    ----------
    params : list of torch.Tensor
        Leaf tensors with ``requires_grad=True``.
    batch_loss : callable
        ``batch_loss(idx)`` returns the mean loss over the columns ``idx`` (a
        ``torch.LongTensor``), or over all columns when ``idx is None``.
    batch_size : int or None
        ``None`` for full-batch steps; otherwise a random permutation of the
        columns (seeded) is cut into batches every epoch.
    after_step : callable, optional
        Called with no arguments after every optimizer step (e.g. a projection).
    tol : float
        Stop early when the epoch loss changes by less than ``tol · max(1, loss)``
        relative to the previous epoch (``0`` never stops early).

    Returns
    -------
    dict
        ``history`` (per epoch: ``epoch``, ``loss`` — the mean of the epoch's
        pre-step batch losses, weighted by batch size — and cumulative
        ``time``), ``steps``, ``epochs_run``, ``status`` (``"converged"`` or
        ``"max_iter"``), ``time_s`` (the optimisation loop's wall time; the
        one-time setup — torch's lazy imports when the first optimizer is
        built, about 1.5 s per process here — is excluded).
    """
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(int(seed))
    history: list[dict] = []
    steps, status, previous = 0, "max_iter", None
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        if batch_size is None:
            batches = [None]
        else:
            batches = torch.randperm(m, generator=generator).split(batch_size)
        total = 0.0  # a tensor after the first batch: no host-device sync per step on CUDA
        for idx in batches:
            optimizer.zero_grad(set_to_none=True)
            value = batch_loss(idx)
            value.backward()
            optimizer.step()
            if after_step is not None:
                with torch.no_grad():
                    after_step()
            steps += 1
            total = total + value.detach() * (m if idx is None else len(idx))
        epoch_loss = float(total) / m
        if not np.isfinite(epoch_loss):
            from ..exceptions import ConvergenceError

            raise ConvergenceError(
                f"{label}: the training loss became {epoch_loss} at epoch {epoch}; lower lr (got lr={lr})"
            )
        history.append({"epoch": epoch, "loss": epoch_loss, "time": time.perf_counter() - start})
        if verbose and (epoch == 1 or epoch == epochs or epoch % max(1, epochs // 10) == 0):
            print(f"[{label}] epoch {epoch}/{epochs} loss={epoch_loss:.6g} t={history[-1]['time']:.2f}s")
        if tol > 0 and previous is not None and abs(previous - epoch_loss) <= tol * max(1.0, abs(epoch_loss)):
            status = "converged"
            break
        previous = epoch_loss
    return {"history": history, "steps": steps, "epochs_run": len(history), "status": status,
            "time_s": time.perf_counter() - start}
