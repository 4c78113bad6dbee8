"""End-to-end implicit training (El Ghaoui et al. 2021), the baseline of Section V.

All of ``A`` (dense, ``n × n``), ``B``, ``C``, ``D`` of the implicit model (2)–(3)

.. math::

    \\hat Y = C X + D U, \\qquad X = \\phi(A X + B U)

are trained jointly by projected Adam on the squared loss (8) or the softmax
cross-entropy (9):

- **forward**: Picard iteration ``X_{k+1} = φ(A X_k + B U)`` from ``X_0 = 0``
  (or the previous step's fixed point for full-batch training), run without
  autograd until ``‖X_{k+1} − X_k‖_F ≤ tol · max(1, ‖X_{k+1}‖_F)``;
- **backward**: implicit differentiation.  With ``Z = A X + B U``,
  ``J = φ'(Z)`` and ``G = ∂𝓛/∂X``, differentiating the fixed point gives
  ``dX = J ⊙ (dA X + A dX + d(BU))``, so the adjoint ``H`` solves the fixed point

  .. math::

      H = J \\odot (G + A^\\top H),

  (it contracts because ``|J| ≤ 1`` and ``λ_PF(|A|) ≤ ‖A‖∞ ≤ κ < 1``);
  then ``∂𝓛/∂A = H Xᵀ`` and ``∂𝓛/∂(BU) = H``.  The unrolled iterations are
  never back-propagated;
- **fixed-point solvers**: both fixed points run on the transposes (columns
  are samples, ``Xᵀ`` is ``n × m``), where the product ``A Xᵀ`` with the long
  sample axis last is faster on a CPU than ``X Aᵀ`` (1.6× for 500 × 30 in
  float64).  ``solver="picard"`` (default): Picard iteration.
  ``solver="anderson"``: Anderson acceleration (type II, memory
  :data:`ANDERSON_MEMORY`, one set of mixing weights for the whole batch); it
  needs about half the iterations near ``‖A‖∞ = κ`` but each costs ``O(memory)``
  extra passes over the batch, which for ``n ≈ 30`` is more than the product
  itself — measured about 2× slower per training step on a CPU and 1.6× on an
  H200 for the paper's tasks; an option for larger ``n`` (not measured).  ``adjoint="direct"`` solves the adjoint exactly, one ``n × n``
  system per sample, ``(I − diag(J_s) Aᵀ) h_s = J_s ⊙ g_s`` (batched LU;
  nonsingular since ``ρ(diag(J_s) Aᵀ) ≤ λ_PF(|A|) < 1``): on a CPU a batched
  LU of 500 systems of size 30 costs about as much as 100 Picard iterations,
  while on a GPU it is one kernel call where each Picard iteration costs a
  few launches and a synchronisation.  ``adjoint="auto"`` (default) therefore
  solves directly on CUDA when ``n ≤`` :data:`DIRECT_MAX_N` and iterates
  otherwise (measured on an H200, smooth task, 300 full-batch steps: 1.85 s
  direct vs 3.32 s Picard; Anderson 5.46 s);
- **projection**: after every optimizer step ``A ← Π(A)``, the Frobenius
  projection onto ``{‖A‖∞ ≤ κ}`` (:mod:`cvximplicit.baselines.projection`), so the
  model is well-posed at every iterate (Theorem 1).

Timing against torchidl 0.0.4 (the El Ghaoui group's package; same data, same
number of Adam steps, same process, one thread each, medians of 3 on 2 CPU
cores shared with other jobs, 2026-11-27): ours/torchidl = 0.92 on the smooth
task (2000 full-batch steps, float64; 0.79 in float32) and 0.79 on MNIST
(10 epochs, mini-batches of 256; test accuracy 96.0–96.3 % vs 95.9–96.2 %).

Orientation: public arrays have samples as columns (``U`` is ``p × m``);
internally the tensors are transposed (samples as rows, ``X`` is ``m × n``)
for contiguous mini-batches, and the fixed-point iterations transpose back (see
above).  torch is imported lazily.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..activations import check_activation
from ..exceptions import ConvergenceWarning, ValidationError
from ..model import ImplicitModel
from ..training.block import block_loss
from . import _torch as engine
from ._result import BaselineResult
from ._torch import DEFAULT_EPOCHS
from .implicit_layer import (
    ADJOINTS,
    DIRECT_MAX_N,
    SOLVERS,
    check_choice,
    implicit_fixed_point,
)
from .projection import project_inf_norm_ball

__all__ = ["ADJOINTS", "DEFAULT_EPOCHS", "DIRECT_MAX_N", "SOLVERS", "fit_end_to_end", "implicit_fixed_point"]



def fit_end_to_end(U, Y, *, n, activation="relu", loss="squared", kappa=0.95, lr=None, epochs=None,
                   batch_size=None, input_bias=True, seed=0, device="cpu", picard_tol=1e-6,
                   picard_max_iter=300, weight_decay=0.0, dtype="float64", solver="picard", adjoint="auto",
                   verbose=False) -> BaselineResult:
    """Train a dense implicit model end to end by projected Adam with implicit gradients.

    Parameters
    ----------
    U : ndarray, shape (p, m)
        Inputs, **columns are samples**.
    Y : ndarray, shape (q, m)
        Targets; one-hot columns for ``loss="cross_entropy"``.
    n : int
        State dimension (the paper uses the implicit models' ``n``: 30, 32).
    activation : {"relu", "leaky_relu", "tanh", "sigmoid"}
    loss : {"squared", "cross_entropy"}
        (8) or (9).
    kappa : float
        Radius of the well-posedness set ``‖A‖∞ ≤ κ``, ``0 ≤ κ < 1``.
    lr : float, optional
        Adam step; ``None`` → 0.01 (squared) / 0.001 (cross-entropy).
    epochs : int, optional
        ``None`` → :data:`DEFAULT_EPOCHS`.
    batch_size : int, optional
        ``None`` → full batch for ``m ≤ 4096``, else 256.
    input_bias : bool
        Append a constant row of ones to ``U`` (the last column of ``B`` and ``D`` is a bias).
    seed : int
        Seeds the initialisation and the mini-batch order.
    device : {"cpu", "cuda"}
    picard_tol, picard_max_iter : float, int
        Stopping rule of the forward and adjoint fixed-point iterations (Picard
        or Anderson): ``‖T(Y) − Y‖_F ≤ tol · max(1, ‖T(Y)‖_F)`` for the map ``T``.
        With ``‖A‖∞ ≤ κ`` Picard contracts at least by ``κ`` per iteration.
    weight_decay : float
        Adam's L2 penalty (0 by default).
    dtype : {"float64", "float32"}
        Training precision.
    solver : {"picard", "anderson"}
        Fixed-point solver of the forward and adjoint equations (module docstring).
    adjoint : {"auto", "iterate", "direct"}
        ``"direct"``: solve the adjoint equation by one batched LU of the
        ``n × n`` per-sample systems instead of iterating; ``"auto"``: direct
        on CUDA for ``n ≤`` :data:`DIRECT_MAX_N`, iterate otherwise.
    verbose : bool

    Returns
    -------
    BaselineResult
        ``model`` is an :class:`~cvximplicit.model.ImplicitModel` with dense ``A``
        (``‖A‖∞ ≤ κ``), ``block_sizes = [1]*n``; ``info`` carries the settings,
        ``final_loss`` (training loss of the returned model, float64 numpy),
        ``inf_norm`` and the Picard statistics (largest iteration counts and how
        many solves hit the cap).

    Raises
    ------
    MissingDependencyError
        If torch is not installed.
    ValidationError
        For invalid data or options.

    Warns
    -----
    ConvergenceWarning
        If some forward or adjoint Picard solve stopped at ``picard_max_iter``.
    """
    torch = engine.require_torch("end-to-end implicit training (fit_end_to_end)")
    U, Y = engine.check_data(U, Y, loss)
    n = engine.check_positive_int("n", n)
    check_activation(activation)
    kappa = engine.check_positive_float("kappa", kappa, allow_zero=True)
    if kappa >= 1.0:
        raise ValidationError(f"kappa must be < 1 so that ‖A‖∞ ≤ κ implies well-posedness; got kappa={kappa}")
    if not isinstance(input_bias, (bool, np.bool_)):
        raise ValidationError(f"input_bias must be True or False; got {input_bias!r}")
    lr = engine.resolve_lr(lr, loss)
    epochs = DEFAULT_EPOCHS[loss] if epochs is None else engine.check_positive_int("epochs", epochs)
    m = U.shape[1]
    batch = engine.resolve_batch_size(batch_size, m)
    picard_tol = engine.check_positive_float("picard_tol", picard_tol)
    picard_max_iter = engine.check_positive_int("picard_max_iter", picard_max_iter)
    weight_decay = engine.check_positive_float("weight_decay", weight_decay, allow_zero=True)
    check_choice("solver", solver, SOLVERS)
    check_choice("adjoint", adjoint, ADJOINTS)
    dev, tdtype = engine.resolve_device(torch, device), engine.resolve_dtype(torch, dtype)

    U_eff = np.vstack([U, np.ones((1, m))]) if input_bias else U
    p_eff, q = U_eff.shape[0], Y.shape[0]
    A0, B0, C0, D0 = _initial_weights(torch, n, p_eff, q, kappa, seed)
    stats = {"forward_max_iter": 0, "adjoint_max_iter": 0, "forward_capped": 0, "adjoint_capped": 0}

    with engine.threads(torch, m * (n + p_eff) if batch is None else batch * (n + p_eff)):
        inputs = engine.as_rows(torch, U_eff, dtype=tdtype, device=dev)
        targets = engine.as_rows(torch, Y, dtype=tdtype, device=dev)
        A, B, C, D = (torch.tensor(W, dtype=tdtype, device=dev, requires_grad=True) for W in (A0, B0, C0, D0))
        warm = {"X": None, "H": None}

        def batch_loss(idx):
            V = inputs if idx is None else inputs.index_select(0, idx.to(dev))
            T = targets if idx is None else targets.index_select(0, idx.to(dev))
            X = implicit_fixed_point(A, V @ B.T, activation=activation, tol=picard_tol,
                                     max_iter=picard_max_iter, stats=stats,
                                     warm=warm if idx is None else None, solver=solver, adjoint=adjoint)
            return engine.torch_loss(torch, T, X @ C.T + V @ D.T, loss)

        def project():
            A.copy_(torch.as_tensor(project_inf_norm_ball(A.detach().cpu().numpy(), kappa), dtype=tdtype))

        run = engine.adam_loop(torch, [A, B, C, D], batch_loss, m=m, lr=lr, epochs=epochs, batch_size=batch,
                               weight_decay=weight_decay, seed=seed, after_step=project, verbose=verbose,
                               label="end_to_end")
        train_time = run["time_s"]
        weights = [W.detach().cpu().numpy().astype(float) for W in (A, B, C, D)]

    # The float64 copy can exceed κ by rounding when training in float32: project once more in float64.
    weights[0] = project_inf_norm_ball(weights[0], kappa)
    model = ImplicitModel(*weights, activation=activation, input_bias=bool(input_bias),
                          info={"trained_by": "end_to_end", "kappa": kappa})
    final_loss = block_loss(Y, model.predict(U, layout="columns"), loss)
    if stats["forward_capped"] or stats["adjoint_capped"]:
        warnings.warn(
            f"end_to_end: {stats['forward_capped']} forward and {stats['adjoint_capped']} adjoint {solver} solves "
            f"stopped at picard_max_iter={picard_max_iter} before reaching picard_tol={picard_tol:g}",
            ConvergenceWarning, stacklevel=2,
        )
    n_params = int(sum(W.size for W in weights))
    info = {
        "lr": lr, "epochs": epochs, "batch_size": batch, "kappa": kappa, "activation": activation, "loss": loss,
        "input_bias": bool(input_bias), "seed": seed, "device": str(dev), "dtype": dtype,
        "picard_tol": picard_tol, "picard_max_iter": picard_max_iter, "weight_decay": weight_decay,
        "solver": solver, "adjoint": adjoint,
        "steps": run["steps"], "status": run["status"], "final_loss": final_loss,
        "inf_norm": float(np.abs(weights[0]).sum(axis=1).max()), **stats,
    }
    return BaselineResult(model=model, method="end_to_end", train_time_s=train_time, history=run["history"],
                          n_params=n_params, info=info)


def _initial_weights(torch, n, p_eff, q, kappa, seed):
    """Uniform ``±1/√fan_in`` weights (torch ``Linear`` default), ``A`` projected onto ``‖A‖∞ ≤ κ``, ``D = 0``."""
    generator = torch.Generator().manual_seed(int(seed))

    def uniform(shape, fan_in):
        return engine.uniform_init(torch, generator, shape, fan_in).numpy()

    A = project_inf_norm_ball(uniform((n, n), n), kappa)
    return A, uniform((n, p_eff), p_eff), uniform((q, n), n), np.zeros((q, p_eff))
