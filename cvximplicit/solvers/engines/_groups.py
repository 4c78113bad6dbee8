"""The engines' layout of program (12)'s variables: ``X`` of shape ``(d, 2, P, q)`` (sign axis: ``V``, ``W``)."""

from __future__ import annotations

import numpy as np

__all__ = ["fit_operator_norm2", "group_shrink", "to_VW"]


def group_shrink(Z, thresh: float):
    """Block soft-threshold of every column ``Z[:, s, k, c]`` (the prox of ``thresh · Σ‖z_g‖``)."""
    norms = np.sqrt(np.einsum("dspq,dspq->spq", Z, Z))
    tiny = float(np.finfo(Z.dtype).tiny)
    scale = np.maximum(1.0 - thresh / np.maximum(norms, tiny), 0.0).astype(Z.dtype, copy=False)
    return Z * scale[None]


def to_VW(X):
    """``X`` ``(d, 2, P, q)`` → ``V, W`` ``(P, d, q)`` float64."""
    V = np.ascontiguousarray(X[:, 0].transpose(1, 0, 2), dtype=np.float64)
    W = np.ascontiguousarray(X[:, 1].transpose(1, 0, 2), dtype=np.float64)
    return V, W


def fit_operator_norm2(M, D, rng, n_iter: int) -> float:
    """``λ_max(AᵀA)`` by ``n_iter`` power iterations from a draw of ``rng``, ``A z = Σ_k D_k M z_k`` for ``z`` ``(d, P)``.

    ``M`` ``(m, d)``, ``D`` ``(m, P)`` the patterns as numbers (same dtype as ``M``).
    """
    z = rng.standard_normal((M.shape[1], D.shape[1])).astype(M.dtype)
    lam = 0.0
    for _ in range(n_iter):
        z /= max(float(np.linalg.norm(z)), 1e-300)
        t = np.einsum("mp,mp->m", D, M @ z)
        z = M.T @ (D * t[:, None])
        lam = float(np.linalg.norm(z))
    return lam
