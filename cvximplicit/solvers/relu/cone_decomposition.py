"""The cone decomposition of a gated-ReLU solution into a feasible point of program (12).

For every non-zero group ``u = U_{k,:,c}`` with sign matrix ``S = 2D_k − I``, write ``u = v − w`` with
``S M v ≥ 0`` and ``S M w ≥ 0``: take the smallest ``w`` (in ``ℓ₂``) with ``S M w ≥ (−S M u)_+`` and
``v = u + w``. That least-distance problem is solved exactly by one non-negative least-squares problem of size
``(d + 1) × m`` (Lawson & Hanson, *Solving Least Squares Problems*, ch. 23: the LDP via NNLS). Then
``Σ_k D_k M (V_k − W_k)`` is the gated fit and ``(V, W)`` is feasible for program (12), so its objective is an
upper bound of program (12)'s optimum. A group whose cone system has no solution (a gate that is not an
arrangement of ``M``) is set to zero and counted.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from ..core._checks import _as_groups, _program_data
from ..core._threads import one_blas_thread

__all__ = ["cone_decomposition"]

LDP_NNLS_ITERS = 50  # NNLS iterations per unknown of the least-distance problem
LDP_INFEASIBLE = 1e-12  # infeasible unless NNLS's last residual entry is below −1e-12 (0 in theory)
LDP_SLACK = 1e-8  # a split must meet A w ≥ h to 1e-8 of the scale of h and A w


def cone_decomposition(M, gates, U) -> tuple[np.ndarray, np.ndarray, int]:
    """Split every group ``U_{k,:,c} = V_{k,:,c} − W_{k,:,c}`` into the cones of program (12).

    ``(2D_k − I) M V_k ≥ 0`` and ``(2D_k − I) M W_k ≥ 0``: ``W_k`` is the least-norm ``w`` with
    ``(2D_k − I) M w ≥ (−(2D_k − I) M u)_+``, found by one NNLS (the least-distance problem of
    Lawson & Hanson), and ``V_k = U_k + W_k``. So ``Σ_k D_k M (V_k − W_k) = Σ_k D_k M U_k``.

    Parameters
    ----------
    M : array_like, shape (m, d)
        The block input (one row per sample).
    gates : ndarray of bool, shape (m, P)
        The gates: column ``k`` is the diagonal of ``D_k``.
    U : array_like, shape (P, d, q)
        The groups (``(P, d)`` accepted when ``q = 1``).

    Returns
    -------
    V, W : ndarray, shape (P, d, q)
        Feasible for program (12) on ``gates``.
    n_failed : int
        Groups whose cone system has no solution (``gates[:, k]`` is not an arrangement of
        ``M``); they are zero in ``V`` and ``W``.

    Raises
    ------
    ValidationError
        Bad shapes or non-finite data.
    """
    M, _, gates, _ = _program_data(M, np.zeros(np.shape(M)[0]), gates, 1.0)
    P, d = gates.shape[1], M.shape[1]
    U = np.asarray(U, dtype=float)
    q = U.shape[2] if U.ndim == 3 else 1
    U = _as_groups(U, P, d, q, "U")
    V, W = np.zeros_like(U), np.zeros_like(U)
    failed = 0
    sign = 2.0 * gates - 1.0
    with one_blas_thread():
        for k, c in zip(*np.nonzero(np.linalg.norm(U, axis=1))):
            failed += _split_group(M, sign[:, k], U, V, W, k, c)
    return V, W, failed


def _split_group(M, sign, U, V, W, k, c) -> int:
    """Write the cone split of ``U[k, :, c]`` into ``V``, ``W``; 1 when it has none (then both stay 0)."""
    A = sign[:, None] * M  # (m, d): rows of the cone (2D_k − I) M
    u = U[k, :, c]
    h = np.maximum(-(A @ u), 0.0)
    if not h.any():
        V[k, :, c] = u
        return 0
    w = _least_distance(A, h)
    if w is None:
        return 1
    V[k, :, c], W[k, :, c] = u + w, w
    return 0


def _least_distance(A, h) -> np.ndarray | None:
    """``argmin ‖w‖ s.t. A w ≥ h`` by NNLS (Lawson & Hanson, ch. 23); None when infeasible.

    With ``E = [Aᵀ; hᵀ]`` and ``f = e_{d+1}``, ``z = argmin_{z ≥ 0} ‖E z − f‖`` gives the residual
    ``ρ = E z − f``; ``ρ = 0`` means the system is infeasible, else ``w = −ρ_{1:d} / ρ_{d+1}``.
    The result is checked against the constraints (scale-relative round-off allowed).
    """
    scale = float(np.abs(h).max())
    E = np.vstack([A.T, h[None, :] / scale])
    f = np.zeros(E.shape[0])
    f[-1] = 1.0
    z, _ = nnls(E, f, maxiter=LDP_NNLS_ITERS * E.shape[1])
    res = E @ z - f
    if not res[-1] < -LDP_INFEASIBLE:
        return None
    w = -res[:-1] / res[-1] * scale
    Aw = A @ w
    slack = np.maximum(h - Aw, 0.0)
    if slack.max() > LDP_SLACK * max(scale, float(np.abs(Aw).max())):
        return None
    return w
