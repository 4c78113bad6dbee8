"""The implicit layer of the end-to-end baseline: a fixed point with an implicit-differentiation backward (torch).

:func:`implicit_fixed_point` solves ``X = φ(X Aᵀ + BU)`` (rows are samples) by Picard
iteration or Anderson acceleration without autograd, and its backward solves the adjoint
fixed point ``H = J ⊙ (G + H A)`` (iterated, or directly per sample) instead of
back-propagating through the iterations (see :mod:`cvximplicit.baselines.end_to_end`
for the maths and the measured choices). It imports nothing of the model, so the
torch hand-off (:mod:`cvximplicit.torch_bridge`) can use it too. torch is imported lazily.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ValidationError
from . import _torch as engine

__all__ = ["ADJOINTS", "ANDERSON_MEMORY", "DIRECT_MAX_N", "SOLVERS", "check_choice", "implicit_fixed_point"]

#: Fixed-point solvers of the forward and adjoint equations.
SOLVERS = ("picard", "anderson")
#: How the adjoint equation is solved: by ``solver``'s iteration, exactly per sample, or "auto".
ADJOINTS = ("auto", "iterate", "direct")
#: ``adjoint="auto"`` solves directly on CUDA up to this state size (the batched LU grows like ``n³``).
DIRECT_MAX_N = 64
#: Anderson acceleration: number of previous differences kept.
ANDERSON_MEMORY = 5


def check_choice(name, value, choices):
    """Raise :class:`ValidationError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValidationError(f"{name} must be one of {choices}; got {value!r}")


def implicit_fixed_point(A, BU, *, activation="relu", tol=1e-6, max_iter=300, stats=None, warm=None,
                         solver="picard", adjoint="auto"):
    """``X = φ(X Aᵀ + BU)`` (rows are samples) with an implicit-differentiation backward.

    Parameters
    ----------
    A : torch.Tensor, shape (n, n)
        State matrix; the iterations converge when ``λ_PF(|A|) < 1``.
    BU : torch.Tensor, shape (m, n)
        ``(B U)ᵀ``, the input term, **rows are samples** (the transpose of (3)).
    activation : str
    tol, max_iter : float, int
        Stopping rule of the forward and the adjoint iterations (relative
        Frobenius change ``‖T(Y) − Y‖_F ≤ tol · max(1, ‖T(Y)‖_F)``, as
        :meth:`ImplicitModel.state`).
    stats : dict, optional
        Updated in place: ``forward_max_iter``, ``adjoint_max_iter`` (largest
        iteration counts seen) and ``forward_capped``, ``adjoint_capped``
        (number of solves that hit ``max_iter``).
    warm : dict, optional
        ``{"X": ..., "H": ...}`` starting points, updated in place (for a fixed
        batch, e.g. full-batch training); ``None`` starts from 0.
    solver : {"picard", "anderson"}
        Iteration used for both fixed points (module docstring).
    adjoint : {"auto", "iterate", "direct"}
        ``"direct"``: one batched LU solve of ``(I − diag(J_s) Aᵀ) h_s = J_s ⊙ g_s``
        per sample ``s`` instead of iterating (``stats["adjoint_direct"]`` counts them);
        ``"auto"``: direct when ``A`` is on CUDA and ``n ≤`` :data:`DIRECT_MAX_N`.

    Returns
    -------
    torch.Tensor, shape (m, n)
        The fixed point ``Xᵀ``; gradients flow to ``A`` and ``BU`` through the
        adjoint equation ``H = J ⊙ (G + H A)`` (rows are samples), not through
        the iterations.
    """
    torch = engine.require_torch("implicit differentiation (implicit_fixed_point)")
    check_choice("solver", solver, SOLVERS)
    check_choice("adjoint", adjoint, ADJOINTS)
    function = _implicit_function(torch)
    iterate = _anderson if solver == "anderson" else _picard
    return function.apply(A, BU, activation, float(tol), int(max_iter),
                          {} if stats is None else stats, warm, iterate, _direct(A, adjoint))


_FUNCTION_CACHE: dict = {}


def _picard(torch, step, start, tol, max_iter):
    """Iterate ``Y ← step(Y)`` from ``start``; return ``(Y, iterations, converged)``."""
    Y = start
    for k in range(1, max_iter + 1):
        Y_next = step(Y)
        change = float(torch.linalg.vector_norm(Y_next - Y))
        Y = Y_next
        if change <= tol * max(1.0, float(torch.linalg.vector_norm(Y))):
            return Y, k, True
    return Y, max_iter, False


def _anderson(torch, step, start, tol, max_iter, memory=ANDERSON_MEMORY):
    r"""Anderson acceleration (type II) of ``Y ← step(Y)``; return ``(Y, iterations, converged)``.

    With ``G_k = step(Y_k)`` and residuals ``F_k = G_k − Y_k`` (the whole batch
    flattened into one vector), the next iterate is

    .. math::

        Y_{k+1} = G_k − ΔG\,γ, \qquad
        γ = \arg\min_γ ‖F_k − ΔF\,γ‖_2^2 + λ ‖γ‖_2^2,

    where the columns of ``ΔG``, ``ΔF`` are the last ``memory`` differences
    ``G_{j+1} − G_j``, ``F_{j+1} − F_j`` (``memory = 0`` is Picard), solved by
    the ``memory × memory`` normal equations with ``λ = 10⁻¹⁰ · trace(ΔFᵀΔF)``.
    Stops, like :func:`_picard`, when ``‖F_k‖ ≤ tol · max(1, ‖G_k‖)`` and
    returns ``G_k``.

    Cost per iteration: one ``step`` (one matrix product, as Picard) and one
    ``memory × N`` matrix-vector product ``c_k = ΔFᵀ F_k``; the Gram matrix is
    updated from it without another pass over the data, since a new column
    ``ΔF_new = F_k − F_{k−1}`` has ``ΔF_jᵀ ΔF_new = c_k[j] − c_{k−1}[j]``.
    """
    Y = start
    G = step(Y)
    F = G - Y
    N = F.numel()
    dG = torch.empty((memory, N), dtype=F.dtype, device=F.device)
    dF = torch.empty_like(dG)
    gram = np.zeros((memory, memory))
    previous = np.zeros(memory)  # c_{k-1}[j] = ΔF_jᵀ F_{k-1} for the stored columns j
    filled, newest = 0, -1
    for k in range(1, max_iter + 1):
        if filled:
            c = torch.mv(dF[:filled], F.reshape(-1))
            values = torch.cat([c, torch.linalg.vector_norm(torch.stack([F.reshape(-1), G.reshape(-1)]), dim=1),
                                torch.linalg.vector_norm(dF[newest]).reshape(1) ** 2]).tolist()
            c, (change, size), newest_sq = np.asarray(values[:filled]), values[filled:filled + 2], values[-1]
        else:
            change, size = torch.linalg.vector_norm(torch.stack([F.reshape(-1), G.reshape(-1)]), dim=1).tolist()
        if change <= tol * max(1.0, size):
            return G, k, True
        Y = G
        if filled:
            # the newest column's inner products with the others (c_k − c_{k-1}); itself: ‖ΔF_new‖²
            column = c - previous[:filled]
            column[newest] = newest_sq
            gram[newest, :filled] = gram[:filled, newest] = column
            system = gram[:filled, :filled].copy()
            system[np.diag_indices(filled)] += 1e-10 * max(float(np.trace(system)), np.finfo(float).tiny)
            gamma = np.linalg.solve(system, c)
            previous[:filled] = c
            gamma_t = torch.as_tensor(gamma, dtype=F.dtype, device=F.device)
            Y = torch.addmv(G.reshape(-1), dG[:filled].T, gamma_t, alpha=-1.0).reshape(G.shape)
        G_next = step(Y)
        F_next = G_next - Y
        newest = (k - 1) % memory
        torch.sub(G_next.reshape(-1), G.reshape(-1), out=dG[newest])
        torch.sub(F_next.reshape(-1), F.reshape(-1), out=dF[newest])
        filled = min(filled + 1, memory)
        G, F = G_next, F_next
    return G, max_iter, False


def _record(stats, kind, iterations, converged):
    key = f"{kind}_max_iter"
    stats[key] = max(stats.get(key, 0), iterations)
    if not converged:
        stats[f"{kind}_capped"] = stats.get(f"{kind}_capped", 0) + 1


def _direct(A, adjoint) -> bool:
    """Whether the adjoint is solved directly (``adjoint="auto"``: on CUDA for small ``n``)."""
    if adjoint == "auto":
        return A.is_cuda and A.shape[0] <= DIRECT_MAX_N
    return adjoint == "direct"


def _direct_adjoint(torch, A, J, G):
    """Rows ``h_s`` of ``H = J ⊙ (G + H A)`` solved exactly: ``(I − diag(J_s) Aᵀ) h_s = J_s ⊙ g_s`` per sample."""
    n = A.shape[0]
    M = torch.eye(n, dtype=A.dtype, device=A.device) - J.unsqueeze(2) * A.T.unsqueeze(0)  # (m, n, n)
    return torch.linalg.solve(M, (J * G).unsqueeze(2)).squeeze(2)


def _implicit_function(torch):
    """Build (once) the ``torch.autograd.Function`` of :func:`implicit_fixed_point`."""
    if "fn" in _FUNCTION_CACHE:
        return _FUNCTION_CACHE["fn"]

    class ImplicitFixedPoint(torch.autograd.Function):
        # The iterations run on the transposes (columns are samples, ``Xᵀ`` is n × m): the product
        # ``A Xᵀ`` with the long sample axis last is about 1.6× faster on a CPU than ``X Aᵀ``
        # (measured: 500 × 30 float64, 43 µs vs 70 µs per product).
        @staticmethod
        def forward(ctx, A, BU, activation, tol, max_iter, stats, warm, iterate, direct):
            phi = engine.torch_activation(torch, activation)
            with torch.no_grad():
                BU_t = BU.T.contiguous()
                start = torch.zeros_like(BU_t)
                if warm is not None and warm.get("X") is not None and warm["X"].shape == BU_t.shape:
                    start = warm["X"]
                X_t, iterations, converged = iterate(torch, lambda X_t: phi(torch.addmm(BU_t, A, X_t)), start, tol,
                                                     max_iter)
                _record(stats, "forward", iterations, converged)
                Z_t = torch.addmm(BU_t, A, X_t)
                if warm is not None:
                    warm["X"] = X_t
            ctx.save_for_backward(A, X_t, Z_t)
            ctx.options = (activation, tol, max_iter, stats, warm, iterate, direct)
            return X_t.T

        @staticmethod
        def backward(ctx, G):
            A, X_t, Z_t = ctx.saved_tensors
            activation, tol, max_iter, stats, warm, iterate, direct = ctx.options
            with torch.no_grad():
                J_t = engine.torch_activation_derivative(torch, activation)(Z_t)
                G_t = G.T.contiguous()
                if direct:
                    H_t = _direct_adjoint(torch, A, J_t.T, G_t.T).T
                    stats["adjoint_direct"] = stats.get("adjoint_direct", 0) + 1
                else:
                    # Hᵀ = Jᵀ ⊙ (Gᵀ + Aᵀ Hᵀ): the adjoint fixed point in the same layout
                    start = J_t * G_t
                    if warm is not None and warm.get("H") is not None and warm["H"].shape == G_t.shape:
                        start = warm["H"]
                    A_T = A.T.contiguous()
                    H_t, iterations, converged = iterate(torch, lambda H_t: J_t * torch.addmm(G_t, A_T, H_t), start,
                                                         tol, max_iter)
                    _record(stats, "adjoint", iterations, converged)
                if warm is not None:
                    warm["H"] = H_t
                grad_A = H_t @ X_t.T if ctx.needs_input_grad[0] else None
                grad_BU = H_t.T if ctx.needs_input_grad[1] else None
            return grad_A, grad_BU, None, None, None, None, None, None, None

    _FUNCTION_CACHE["fn"] = ImplicitFixedPoint
    return ImplicitFixedPoint
