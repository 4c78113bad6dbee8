r"""Joint fine-tune of a strictly block-triangular model: Adam on every block at once (a local step).

Algorithm 1 fits each block once, with the earlier blocks frozen. Because ``A`` is strictly
block lower triangular, the trained model is an explicit deep network — forward substitution (5)

.. math::

    X_i = \phi\Big(\sum_{j<i} A_{i,j} X_j + B_i U\Big), \qquad \hat Y = C X + D U,

so all blocks can then be refined together by gradient steps on the whole training loss, squared (8)
or softmax cross-entropy (9), averaged over the samples,

.. math::

    \min_{A_{i,j}\,(j<i),\; B,\; C}\; \frac1m \sum_{s=1}^m \ell\big(\hat y_s, y_s\big),

with the weights shrunk by decoupled weight decay (AdamW: ``θ ← (1 − η_t λ) θ`` at every step, the
generalisation lever on small networks). This is non-convex and **certifies nothing**: it is reported as a
local step beside the blocks' certificates, which stay those of the programs the greedy pass solved. Only
the strictly lower blocks of ``A`` move (the model stays well-posed by construction), ``D`` is kept, and
the activation is ReLU.

Mini-batch Adam (Kingma & Ba) with decoupled weight decay ``λ`` (Loshchilov & Hutter) and a cosine step
size ``lr · ½(1 + cos(π t / T))`` over the ``T`` steps of the run; batches follow a seeded
permutation per epoch, so the same call does the same steps. The products run in float32 on one
BLAS thread (they have ``n ≤`` a few dozen rows: threads cost more than they save); the losses
reported are recomputed in float64. Cost per epoch: ``O(m · n · (p + n))``.

Orientation: ``U`` is ``(p, m)`` and ``Y`` ``(q, m)`` (columns are samples), as in
:func:`~cvximplicit.training.greedy.train_greedy`; internally samples are rows, so a
mini-batch is a contiguous gather.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .._params import Int, Options, Real, check_params
from ..exceptions import ValidationError
from ..partition import block_slices
from ..solvers.core._threads import one_blas_thread
from .block import LOSSES, block_loss

__all__ = ["FinetuneResult", "finetune_model"]

_OPTIONS = {"loss": [Options(LOSSES)], "epochs": [Int(0)], "batch_size": [Int(1)],
            "lr": [Real(0.0, closed="neither")], "weight_decay": [Real(0.0)], "seed": [Int(0)]}

_ADAM_BETAS = (0.9, 0.999)  # Kingma & Ba's defaults, as in torch.optim.Adam
_ADAM_EPS = 1e-8  # likewise
_WARMUP = 0.05  # the step size rises linearly over this fraction of the steps (Adam's first steps are its largest)
_BALANCE_SWEEPS = 10  # coordinate sweeps of the balancing rescale (its relative change is < 1e-6 by then here)


@dataclass
class FinetuneResult:
    """What :func:`finetune_model` did: the new weights and the loss before and after (float64)."""

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    loss_before: float
    loss_after: float
    epochs: int
    steps: int
    time_s: float
    options: dict = field(default_factory=dict)
    history: list = field(default_factory=list)

    def summary(self) -> dict:
        """JSON-ready record: ``step="finetune"``, ``certified=False``, losses, epochs, time, options."""
        return {"step": "finetune", "certified": False, "loss_before": float(self.loss_before),
                "loss_after": float(self.loss_after), "epochs": int(self.epochs), "steps": int(self.steps),
                "time_s": float(self.time_s), "options": dict(self.options),
                "epoch_losses": [float(v) for v in self.history]}


class _Network:
    """The model's trainable weights in row layout (samples as rows), float32, and their Adam state."""

    def __init__(self, model):
        f32 = np.float32
        self.slices = block_slices(model.block_sizes)
        self.A = [np.array(model.A[s, : s.start], dtype=f32) for s in self.slices]  # A_{i,<i}, (n_i, start_i)
        self.B = np.array(model.B, dtype=f32)
        self.C = np.array(model.C, dtype=f32)
        self.params = [*self.A, self.B, self.C]
        self.moments = [(np.zeros_like(p), np.zeros_like(p)) for p in self.params]

    def balance(self, sweeps=_BALANCE_SWEEPS):
        """Rescale every state so its incoming and outgoing weights have the least total squared norm.

        ReLU is positively homogeneous: ``x_j → s_j x_j`` (row ``j`` of ``[A, B]`` times ``s_j``, column
        ``j`` of ``A`` and ``C`` over ``s_j``) leaves every output unchanged. Coordinate descent on
        ``Σ (s_j/s_i)² A_ji² + Σ s_j² ‖B_j‖² + Σ ‖C_:j‖²/s_j²`` (convex in ``log s``; each ``s_j`` in
        closed form) gives the balanced representative, the one weight decay prefers.
        """
        n = self.B.shape[0]
        A = np.zeros((n, n))
        for s, block in zip(self.slices, self.A):
            A[s, : s.start] = block
        A2, B2, C2 = A**2, np.sum(self.B.astype(float) ** 2, axis=1), np.sum(self.C.astype(float) ** 2, axis=0)
        scale = np.ones(n)
        for _ in range(sweeps):
            for j in range(n):
                incoming = B2[j] + np.sum(A2[j] / scale**2)
                outgoing = C2[j] + np.sum(A2[:, j] * scale**2)
                if incoming > 0 and outgoing > 0:
                    scale[j] = (outgoing / incoming) ** 0.25
        f32 = np.float32
        for s, block in zip(self.slices, self.A):
            block *= (scale[s, None] / scale[None, : s.start]).astype(f32)
        self.B *= scale[:, None].astype(f32)
        self.C /= scale[None, :].astype(f32)

    def forward(self, Ub):
        """Pre-activations ``H`` and states ``X`` ``(b, n)`` by forward substitution (5)."""
        H = Ub @ self.B.T
        X = np.empty_like(H)
        for s, A in zip(self.slices, self.A):
            if s.start:
                H[:, s] += X[:, : s.start] @ A.T
            np.maximum(H[:, s], 0.0, out=X[:, s])
        return H, X

    def gradients(self, Ub, H, X, G):
        """Gradients of the batch loss for ``G = ∂loss/∂Ŷ`` ``(b, q)``, back through the blocks in reverse."""
        dX = G @ self.C
        dH = np.empty_like(H)
        dA = [None] * len(self.A)
        for k in range(len(self.slices) - 1, -1, -1):
            s = self.slices[k]
            dH[:, s] = dX[:, s] * (H[:, s] > 0)
            dA[k] = dH[:, s].T @ X[:, : s.start]
            if s.start:
                dX[:, : s.start] += dH[:, s] @ self.A[k]
        return [*dA, dH.T @ Ub, G.T @ X]

    def adam_step(self, grads, step, lr, weight_decay):
        b1, b2 = _ADAM_BETAS
        c1, c2 = 1.0 - b1**step, 1.0 - b2**step
        for p, g, (m1, m2) in zip(self.params, grads, self.moments):
            m1 *= b1
            m1 += (1.0 - b1) * g
            m2 *= b2
            m2 += (1.0 - b2) * (g * g)
            if weight_decay:
                p *= 1.0 - lr * weight_decay
            p -= (lr / c1) * m1 / (np.sqrt(m2 / c2) + _ADAM_EPS)


def _batch_gradient(Z, Yb, loss):
    """Summed loss of a batch of outputs ``Z`` ``(b, q)`` and its gradient in ``Z`` (divided by ``b`` by the caller)."""
    if loss == "squared":
        R = Z - Yb
        return float(np.vdot(R, R)), 2.0 * R
    Zs = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Zs)
    S = E.sum(axis=1, keepdims=True)
    value = float(np.sum(np.log(S)) - np.vdot(Yb, Zs))
    return value, E / S - Yb


def finetune_model(model, U, Y, *, loss="squared", epochs=10, batch_size=256, lr=2e-3, weight_decay=0.0,
                   seed=0) -> FinetuneResult:
    """Adam on all blocks of a strictly block-triangular ReLU model (see the module docstring).

    Parameters
    ----------
    model : ImplicitModel
        Strictly block lower-triangular (as :func:`~cvximplicit.training.greedy.train_greedy`
        returns it), ReLU activation.
    U : ndarray, shape (p, m)
        Training inputs, columns are samples, without the bias row (the model adds it).
    Y : ndarray, shape (q, m)
        Targets (one-hot columns for the cross-entropy).
    loss : {"squared", "cross_entropy"}
    epochs : int
        Passes over the samples (0 returns the model's weights unchanged).
    batch_size : int
        Samples per Adam step (at most ``m``).
    lr : float
        Adam's step size at the start of the cosine decay.
    weight_decay : float
        Decoupled weight decay ``λ`` (0: none).
    seed : int
        Seeds the batch order.

    Returns
    -------
    FinetuneResult
        The new ``A`` (strictly block lower triangular), ``B`` and ``C`` (float64) and what the run did.
        The caller builds the model from them.

    Raises
    ------
    ValidationError
        For an option out of range, a model that is not strictly block lower triangular or not ReLU,
        or data of the wrong shape.
    """
    check_params("finetune_model", locals(), _OPTIONS)
    _check_model(model, U, Y)
    start = time.perf_counter()
    U_eff = np.vstack([U, np.ones((1, U.shape[1]))]) if model.input_bias else np.asarray(U, dtype=float)
    offset = model.D @ U_eff  # D U: kept as it is
    before = block_loss(Y, model.C @ model.state(U, layout="columns") + offset, loss)
    options = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay, "seed": seed}
    net = _Network(model)
    rows = np.ascontiguousarray(U_eff.T, dtype=np.float32)
    # Squared loss: fit the targets in units of their root mean square s (C / s, then C s back): AdamW's decay
    # bounds the weights whatever the targets' units, so unscaled targets of size 5 could not be fitted.
    scale = _rms(Y - offset) if loss == "squared" else 1.0
    net.C /= np.float32(scale)
    net.balance()
    targets = np.ascontiguousarray((Y - offset).T / scale if loss == "squared" else Y.T, dtype=np.float32)
    shift = None if loss == "squared" or not np.any(offset) else np.ascontiguousarray(offset.T, dtype=np.float32)
    m = rows.shape[0]
    batch_size = min(batch_size, m)
    n_batches = -(-m // batch_size)
    total, step, history = epochs * n_batches, 0, []
    rng = np.random.default_rng(seed)
    with one_blas_thread():
        for _ in range(epochs):
            order = rng.permutation(m)
            epoch_loss = 0.0
            for k in range(n_batches):
                idx = order[k * batch_size:(k + 1) * batch_size]
                Ub = rows[idx]
                H, X = net.forward(Ub)
                Z = X @ net.C.T
                if shift is not None:
                    Z += shift[idx]
                value, G = _batch_gradient(Z, targets[idx], loss)
                epoch_loss += value
                G /= np.float32(len(idx))
                step += 1
                step_size = 0.5 * lr * (1.0 + math.cos(math.pi * step / total)) * min(1.0, step / (_WARMUP * total))
                net.adam_step(net.gradients(Ub, H, X, G), step, step_size, weight_decay)
            history.append(epoch_loss * scale**2 / m)
    A = np.zeros_like(model.A)
    for s, block in zip(net.slices, net.A):
        A[s, : s.start] = block
    B = net.B.astype(float)
    C = net.C.astype(float) * scale
    after = block_loss(Y, C @ _states(A, B, U_eff, net.slices) + offset, loss)
    return FinetuneResult(A, B, C, before, after, epochs, step, time.perf_counter() - start, options, history)


def _rms(R) -> float:
    """Root mean square of the entries of ``R`` (1 for an all-zero ``R``)."""
    value = float(np.sqrt(np.mean(np.square(R))))
    return value if value > 0 else 1.0


def _states(A, B, U_eff, slices):
    """Forward substitution (5) in float64, columns are samples."""
    X = np.zeros((A.shape[0], U_eff.shape[1]))
    BU = B @ U_eff
    for s in slices:
        X[s] = np.maximum(A[s, : s.start] @ X[: s.start] + BU[s], 0.0)
    return X


def _check_model(model, U, Y):
    if model.activation != "relu":
        raise ValidationError(f"finetune_model trains ReLU models; got activation={model.activation!r}")
    slices = block_slices(model.block_sizes)
    upper = np.concatenate([model.A[s, s.start:].ravel() for s in slices]) if slices else np.zeros(0)
    if np.any(upper != 0):
        raise ValidationError("finetune_model needs a strictly block lower-triangular A (as train_greedy returns); "
                              "this model has entries on or above the block diagonal")
    if U.ndim != 2 or Y.ndim != 2 or U.shape[0] != model.p or Y.shape[0] != model.q or U.shape[1] != Y.shape[1]:
        raise ValidationError(f"U must be (p, m) = ({model.p}, m) and Y (q, m) = ({model.q}, m), columns are "
                              f"samples; got U{U.shape}, Y{Y.shape}")
