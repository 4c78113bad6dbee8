r"""Hand an :class:`~cvximplicit.model.ImplicitModel` to PyTorch and back.

:func:`to_torch` builds an :class:`ImplicitModule`, a ``torch.nn.Module`` whose
trainable parameters are ``A, B, C, D`` and whose forward pass evaluates the
implicit model (2)–(3)

.. math::

    \hat Y = C X + D U, \qquad X = \phi(A X + B U),

so that a convexly trained model (Algorithm 1 with the alternating block solver)
can be fine-tuned end to end with any torch loss and optimizer, or composed with
other layers; :meth:`ImplicitModel.from_torch` returns the trained weights as an
``ImplicitModel`` again.

**Orientation.**  The module follows the torch convention: **rows are samples**.
``module(U_rows)`` takes a ``(batch, p)`` tensor (without the bias column, which
the module appends when ``input_bias``) and returns ``(batch, q)``; it computes
``(model.predict(U_rows.T)).T``.  The parameters keep the maths-core shapes
(``A`` is ``n × n``, ``B`` is ``n × (p + input_bias)``, ``C`` is ``q × n``, ``D`` is
``q × (p + input_bias)``) in computation order ``[X_1; …; X_L]``.

**How the state is computed** (``mode``, chosen from the model by default):

``"forward"``
    ``A`` strictly block lower triangular: block forward substitution (5),
    ``X_i = φ(Σ_{j<i} A_{i,j} X_j + B_i U)``, differentiated by autograd.  Only
    the strictly lower blocks of ``A`` are read, so the entries outside that
    pattern get zero gradients and stay zero under training.
``"self_loop"``
    Non-strict ReLU models (Theorem 2, :mod:`cvximplicit.nonstrict`):
    upper-triangular diagonal blocks with self-loops ``−1 < a_rr < 1``, solved
    exactly by block back substitution ``x_r = ReLU(s_r)/(1 − a_rr)`` (rows of a
    block last to first), differentiated by autograd.  Training does not keep
    ``a_rr`` inside ``(−1, 1)``; :meth:`ImplicitModel.from_torch` then returns a model that
    :meth:`ImplicitModel.state` solves by Picard iteration (or rejects).
``"picard"``
    Any ``A``: Picard iteration ``X_{k+1} = φ(A X_k + B U)`` from 0 with an
    implicit-differentiation backward (the adjoint fixed point of
    :func:`cvximplicit.baselines.implicit_fixed_point`).  Every forward pass
    first checks well-posedness (Theorem 1): ``‖A‖∞ < 1`` or
    ``λ_PF(|A|) < 1``, else :class:`~cvximplicit.exceptions.ValidationError`;
    keep ``A`` well-posed during training, e.g. by projecting it after each
    step with :func:`cvximplicit.baselines.project_inf_norm_ball`.

torch is imported only when these functions run: ``import cvximplicit`` works
without it.  The module class is built on first use and is reachable as
``cvximplicit.torch_bridge.ImplicitModule`` (so ``torch.save(module)`` pickles).
"""

from __future__ import annotations

import numpy as np

from .activations import check_activation
from .exceptions import ConvergenceError, ValidationError
from ._self_loops import check_self_loop_structure, is_self_loop_structure
from .partition import block_slices, check_block_sizes

__all__ = ["MODES", "module_to_arrays", "to_torch"]  # ImplicitModule: built on first access (module __getattr__)

#: State computations of :class:`ImplicitModule` (``"auto"`` picks one from the model).
MODES = ("auto", "forward", "self_loop", "picard")

_CLASS_CACHE: dict = {}

#: What :func:`to_torch` reads of a model (an :class:`~cvximplicit.model.ImplicitModel`).
_MODEL_FIELDS = ("A", "B", "C", "D", "activation", "block_sizes", "input_bias", "info")


def _torch(purpose: str):
    from .baselines._torch import require_torch

    return require_torch(purpose)


def _structure_mask(A: np.ndarray, block_sizes, mode: str) -> np.ndarray:
    """Boolean mask of the entries of ``A`` that ``mode`` reads."""
    n = A.shape[0]
    if mode == "picard":
        return np.ones((n, n), dtype=bool)
    mask = np.zeros((n, n), dtype=bool)
    for rows in block_slices(block_sizes):
        mask[rows, : rows.start] = True
        if mode == "self_loop":
            mask[rows, rows] = np.triu(np.ones((rows.stop - rows.start,) * 2, dtype=bool))
    return mask


def _resolve_mode(model, mode: str) -> str:
    if mode not in MODES:
        raise ValidationError(f"mode must be one of {MODES}; got {mode!r}")
    strict = model.wellposedness().strictly_block_triangular
    if mode == "auto":
        if strict:
            return "forward"
        return "self_loop" if is_self_loop_structure(model.A, model.block_sizes, model.activation) else "picard"
    if mode == "forward" and not strict:
        raise ValidationError(
            "mode='forward' needs a strictly block lower-triangular A (computation order, partition "
            f"{model.block_sizes}); use mode='self_loop' for a Theorem-2 model or mode='picard'"
        )
    if mode == "self_loop":
        check_self_loop_structure(model.A, model.block_sizes, model.activation)  # names the offending entry
    return mode


def to_torch(model, *, mode="auto", tol=1e-12, max_iter=10_000):
    """An :class:`ImplicitModule` with ``model``'s weights (copied, same dtype float64, on the CPU).

    Parameters
    ----------
    model : ImplicitModel
    mode : {"auto", "forward", "self_loop", "picard"}
        How the state is computed (module docstring).  ``"auto"``: forward
        substitution for a strictly block triangular ``A``, back substitution
        for a non-strict ReLU model, Picard iteration otherwise.
    tol, max_iter : float, int
        Stopping rule of the Picard iterations (``mode="picard"`` only): the
        relative change ``‖X_{k+1} − X_k‖_F ≤ tol · max(1, ‖X_{k+1}‖_F)``, as
        :meth:`ImplicitModel.state`; at least 16 machine epsilons of the
        module's dtype (``1.9e-6`` in float32).

    Returns
    -------
    ImplicitModule
        ``module(U_rows)`` equals ``model.predict(U_rows.T).T`` (rows are
        samples); move it with ``.to(torch.float32)``, ``.double()``,
        ``.to("cuda")`` like any module.

    Raises
    ------
    MissingDependencyError
        torch is not installed.
    ValidationError
        ``model`` is not an ``ImplicitModel``, or ``mode`` does not apply to it.

    Examples
    --------
    >>> module = model.to_torch()                       # doctest: +SKIP
    >>> Y_rows = module(torch.as_tensor(U.T))           # doctest: +SKIP  (rows are samples)
    >>> fine_tuned = ImplicitModel.from_torch(module)   # doctest: +SKIP
    """
    if not all(hasattr(model, name) for name in _MODEL_FIELDS) or not hasattr(model, "wellposedness"):
        raise ValidationError(f"model must be a cvximplicit.ImplicitModel; got {type(model).__name__}")
    torch = _torch("ImplicitModel.to_torch")
    from .baselines._torch import check_positive_float, check_positive_int

    tol = check_positive_float("tol", tol)
    max_iter = check_positive_int("max_iter", max_iter)
    mode = _resolve_mode(model, mode)
    mask = _structure_mask(model.A, model.block_sizes, mode)
    if np.any(model.A[~mask]):
        raise ValidationError(f"A has nonzero entries that mode={mode!r} would ignore; use mode='picard'")
    module = _module_class(torch)(
        model.A, model.B, model.C, model.D, activation=model.activation, block_sizes=model.block_sizes,
        input_bias=model.input_bias, mode=mode, tol=tol, max_iter=max_iter, info=model.info,
    )
    return module


def module_to_arrays(module) -> dict:
    """The arguments of :class:`~cvximplicit.model.ImplicitModel` held by an :class:`ImplicitModule` (float64 copies).

    :meth:`ImplicitModel.from_torch <cvximplicit.model.ImplicitModel.from_torch>` builds the model from them
    (this module does not import the model class, so the model can delegate here without an import cycle).

    The weights are copied exactly (a float64 module round-trips bit for bit).
    ``info``: the original model's ``info`` when the weights are unchanged since
    :func:`to_torch`; otherwise (trained, or moved to another dtype) it is kept
    under ``info["before_torch"]`` with ``info["trained_by"] = "torch"``, since
    certificates of the convex solves no longer describe the new weights.

    Raises
    ------
    ValidationError
        ``module`` is not an ``ImplicitModule``; or training put nonzero
        values in ``A`` outside the pattern its mode reads (only possible by
        editing ``A`` directly).
    """
    cls = _CLASS_CACHE.get("cls")
    if cls is None or not isinstance(module, cls):
        raise ValidationError(
            f"module must be a cvximplicit.torch_bridge.ImplicitModule (made by ImplicitModel.to_torch); "
            f"got {type(module).__name__}"
        )
    torch = _torch("ImplicitModel.from_torch")
    with torch.no_grad():
        weights = [W.detach().to(device="cpu", dtype=torch.float64).numpy().copy()
                   for W in (module.A, module.B, module.C, module.D)]
    mask = module.structure.cpu().numpy()
    if np.any(weights[0][~mask]):
        raise ValidationError(
            f"A has nonzero entries outside the pattern of mode={module.mode!r} (they were never used by the "
            "module's forward pass); zero them (A.data *= module.structure) before ImplicitModel.from_torch"
        )
    unchanged = all(np.array_equal(W, W0) for W, W0 in zip(weights, module._exported))
    info = dict(module.info) if unchanged else {"trained_by": "torch", "before_torch": dict(module.info)}
    return dict(zip("ABCD", weights), activation=module.activation, block_sizes=module.block_sizes,
                input_bias=module.input_bias, info=info)


def __getattr__(name):
    # PEP 562: ``cvximplicit.torch_bridge.ImplicitModule`` builds the class (imports torch) on first access.
    if name == "ImplicitModule":
        return _module_class(_torch("cvximplicit.torch_bridge.ImplicitModule"))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _module_class(torch):
    """Build (once) the ``torch.nn.Module`` subclass :class:`ImplicitModule`."""
    if "cls" in _CLASS_CACHE:
        return _CLASS_CACHE["cls"]
    from .baselines._torch import torch_activation
    from .baselines.implicit_layer import implicit_fixed_point
    from .wellposedness import pf_eigenvalue

    class ImplicitModule(torch.nn.Module):
        """The implicit model (2)–(3) as a ``torch.nn.Module``; **rows are samples** (see the module docstring).

        Parameters ``A (n×n)``, ``B (n×p_eff)``, ``C (q×n)``, ``D (q×p_eff)`` are
        trainable; the buffer ``structure`` (bool, ``n × n``) marks the entries of
        ``A`` the forward pass reads.  Build it with :func:`to_torch`.
        """

        def __init__(self, A, B, C, D, *, activation, block_sizes, input_bias, mode, tol, max_iter, info):
            super().__init__()
            self.activation = check_activation(activation)
            self.block_sizes = check_block_sizes(block_sizes, np.shape(A)[0])
            self.input_bias = bool(input_bias)
            self.mode, self.tol, self.max_iter = mode, float(tol), int(max_iter)
            self.info = dict(info)
            self._exported = tuple(np.array(W, dtype=float, copy=True) for W in (A, B, C, D))
            for name, W in zip("ABCD", (A, B, C, D)):
                setattr(self, name, torch.nn.Parameter(torch.tensor(np.asarray(W), dtype=torch.float64)))
            self.register_buffer("structure", torch.as_tensor(_structure_mask(np.asarray(A), block_sizes, mode)))

        def extra_repr(self) -> str:
            n, p_eff = self.B.shape
            return (f"n={n}, p={p_eff - int(self.input_bias)}, q={self.C.shape[0]}, L={len(self.block_sizes)}, "
                    f"activation={self.activation!r}, input_bias={self.input_bias}, mode={self.mode!r}")

        def forward(self, U):
            """``Ŷ = X Cᵀ + U Dᵀ`` for inputs ``U`` of shape ``(batch, p)``; returns ``(batch, q)``."""
            V = self._inputs(U)
            return self.state(V, prepared=True) @ self.C.T + V @ self.D.T

        def _inputs(self, U):
            p = self.B.shape[1] - int(self.input_bias)
            if U.ndim != 2 or U.shape[1] != p:
                hint = " (rows are samples; did you mean U.T?)" if U.ndim == 2 and U.shape[0] == p else ""
                raise ValidationError(f"input must have shape (batch, p) = (batch, {p}); got {tuple(U.shape)}{hint}")
            U = U.to(dtype=self.B.dtype, device=self.B.device)
            if self.input_bias:
                U = torch.cat([U, torch.ones_like(U[:, :1])], dim=1)
            return U

        def state(self, U, *, prepared=False):
            """The fixed point ``X`` of (3), shape ``(batch, n)`` (rows are samples)."""
            V = U if prepared else self._inputs(U)
            BU = V @ self.B.T
            if self.mode == "picard":
                return self._picard(BU)
            A, phi = self.A, torch_activation(torch, self.activation)
            if self.mode == "self_loop":
                self._check_self_loops()
            blocks = []
            for rows in block_slices(self.block_sizes):
                Z = BU[:, rows]
                if rows.start:
                    Z = Z + torch.cat(blocks, dim=1) @ A[rows, : rows.start].T
                if self.mode == "forward":
                    blocks.append(phi(Z))
                else:
                    blocks.append(self._back_substitution(A[rows, rows], Z))
            return torch.cat(blocks, dim=1)

        def _check_self_loops(self):
            diagonal = torch.diagonal(self.A.detach())
            bad = (diagonal <= -1.0) | (diagonal >= 1.0)
            if bool(torch.any(bad)):
                r = int(torch.nonzero(bad)[0, 0])
                raise ValidationError(
                    f"self-loop weight A[{r}, {r}] = {float(diagonal[r]):.6g} left the interval (-1, 1) that "
                    "Theorem 2 needs (the fixed point may not exist); lower the learning rate or clamp the "
                    "diagonal of A after each step"
                )

        def _back_substitution(self, block, S):
            """``x_r = ReLU(s_r + Σ_{c>r} a_rc x_c)/(1 − a_rr)``, rows last to first (Theorem 2)."""
            scale = 1.0 / (1.0 - torch.diagonal(block))
            size = block.shape[0]
            if size == 1 or not (torch.is_grad_enabled() and block.requires_grad or bool(torch.any(
                    torch.triu(block.detach(), diagonal=1) != 0))):
                # no coupling inside the block (and none to differentiate): x = ReLU(s)/(1 − a_rr) at once
                return torch.relu(S) * scale
            columns = [None] * size
            for k in range(size - 1, -1, -1):
                s = S[:, k]
                if k + 1 < size:
                    s = s + torch.stack(columns[k + 1:], dim=1) @ block[k, k + 1:]
                columns[k] = torch.relu(s) * scale[k]
            return torch.stack(columns, dim=1)

        def _picard(self, BU):
            A = self.A.detach()
            norm = float(A.abs().sum(dim=1).max())
            if norm >= 1.0:
                rho = pf_eigenvalue(A.cpu().double().numpy())
                if rho >= 1.0:
                    raise ValidationError(
                        f"A is not well-posed (Theorem 1): ‖A‖∞ = {norm:.4g} ≥ 1 and "
                        f"λ_PF(|A|) = {rho:.4g} ≥ 1, so the fixed point may not exist or be unique; keep "
                        "‖A‖∞ ≤ κ < 1 while training (cvximplicit.baselines.project_inf_norm_ball after each "
                        "step)"
                    )
            stats: dict = {}
            # a float32 module cannot reach tol=1e-12: never ask for less than 16 ulps of the dtype
            tol = max(self.tol, 16 * torch.finfo(BU.dtype).eps)
            X = implicit_fixed_point(self.A, BU, activation=self.activation, tol=tol, max_iter=self.max_iter,
                                     stats=stats)
            if stats.get("forward_capped"):
                raise ConvergenceError(
                    f"Picard iteration did not reach tol={tol:g} in max_iter={self.max_iter} iterations; "
                    "raise max_iter or tol"
                )
            return X

    ImplicitModule.__module__, ImplicitModule.__qualname__ = __name__, "ImplicitModule"
    _CLASS_CACHE["cls"] = ImplicitModule
    return ImplicitModule
