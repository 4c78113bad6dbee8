"""The group norms ``β Σ_g ‖z_g‖₂`` of program (12) and the variables they act on, written once for every engine.

Layouts. The engines iterate on ``X`` of shape ``(d, 2, P, q)`` (sign axis: ``V``, ``W``; one column per group, so
``M X`` is one GEMM); a working set stores its groups as the rows of ``Z`` ``(n, d)``. The multipliers ``μ`` of the
cone rows are one array ``(2, P, m, q)``: sign (``V``, ``W``), pattern, row, output; its halves ``μ[0]``, ``μ[1]``
are the ``mu_pos``, ``mu_neg`` ``(P, m, q)`` of :func:`~cvximplicit.solvers.relu.certificate.dual_bound`. An
iteration whose multipliers live beside ``M X`` (ADMM's scaled dual, the augmented Lagrangian's ``μ``) keeps them
``(m, 2, P, q)`` while it runs and hands them on through :func:`multipliers_from_work`.

- :func:`group_norms` — ``‖z_g‖`` of every group;
- :func:`group_soft_threshold` — the prox of ``t Σ‖z_g‖``;
- :func:`add_norm_curvature` — the Hessian of ``β Σ‖z_g‖`` away from zero, ``(β/‖z‖)(I − uuᵀ)``, ``u = z/‖z‖``;
- :func:`fit_operator_norm2` — ``λ_max(FᵀF)`` of the fit ``F z = Σ_k D_k M z_k``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .iterations import power_iteration

__all__ = ["SIGNS", "BlockPairs", "add_norm_curvature", "block_pairs", "fit_operator_norm2", "group_norms",
           "group_soft_threshold", "multipliers_from_work", "to_VW"]

#: The output sign of the two groups of a pattern: ``V`` (index 0) feeds ``+``, ``W`` (index 1) feeds ``−``.
SIGNS = np.array([1.0, -1.0])


def group_norms(X, axis: int = 0) -> np.ndarray:
    """``‖z_g‖₂`` of every group: the groups run along ``axis`` (0: ``X`` ``(d, …)``; −1: ``X`` ``(…, d)``)."""
    if axis == 0:
        return np.sqrt(np.einsum("d...,d...->...", X, X))
    return np.sqrt(np.einsum("...d,...d->...", X, X))


def group_soft_threshold(X, thresh: float, axis: int = 0):
    """The prox of ``thresh · Σ_g ‖z_g‖`` (block soft-threshold ``z_g (1 − thresh/‖z_g‖)_+``), groups along ``axis``."""
    norms = group_norms(X, axis)
    tiny = float(np.finfo(X.dtype).tiny)
    scale = np.maximum(1.0 - thresh / np.maximum(norms, tiny), 0.0).astype(X.dtype, copy=False)
    return X * np.expand_dims(scale, axis)


def to_VW(X):
    """``X`` ``(d, 2, P, q)`` → ``V, W`` ``(P, d, q)`` float64."""
    V = np.ascontiguousarray(X[:, 0].transpose(1, 0, 2), dtype=np.float64)
    W = np.ascontiguousarray(X[:, 1].transpose(1, 0, 2), dtype=np.float64)
    return V, W


def multipliers_from_work(mu_work) -> np.ndarray:
    """Multipliers laid out like ``M X``, ``(m, 2, P, q)`` → ``μ`` ``(2, P, m, q)`` float64 (the module docstring)."""
    return np.ascontiguousarray(mu_work.transpose(1, 2, 0, 3), dtype=np.float64)


class BlockPairs(NamedTuple):
    """The coordinates of a block-diagonal matrix with block offsets ``offs``: every pair ``(rows[i], cols[i])``
    inside a block, the block ``pair_block[i]`` of that pair, and the block ``block[j]`` of each coordinate."""

    rows: np.ndarray
    cols: np.ndarray
    pair_block: np.ndarray
    block: np.ndarray


def block_pairs(offs) -> BlockPairs:
    """:class:`BlockPairs` of the diagonal blocks ``[offs[j], offs[j + 1])``."""
    sizes = np.diff(offs)
    block = np.repeat(np.arange(sizes.size), sizes)
    rows = np.repeat(np.arange(offs[-1]), sizes[block])  # each coordinate repeats over its block's size
    starts = offs[:-1][block][rows]
    lengths = sizes[block]  # the columns of each row's block: 0 … l − 1 after its start
    ends = np.cumsum(lengths)
    cols = starts + (np.arange(int(lengths.sum())) - np.repeat(ends - lengths, lengths))
    return BlockPairs(rows, cols, block[rows], block)


def add_norm_curvature(H, pairs: BlockPairs, u, curv) -> None:
    """``H += blockdiag_j curv_j (I − u_j u_jᵀ)`` in place: the Hessian of ``β Σ‖z_j‖`` with ``curv_j = β/‖z_j‖``
    and ``u_j = z_j/‖z_j‖`` (in the coordinates of ``H``: ``u`` concatenates the blocks' unit vectors)."""
    H[pairs.rows, pairs.cols] -= curv[pairs.pair_block] * (u[pairs.rows] * u[pairs.cols])
    H.flat[::H.shape[0] + 1] += curv[pairs.block]


def fit_operator_norm2(M, D, rng, n_iter: int) -> float:
    """``λ_max(FᵀF)`` by ``n_iter`` power iterations from a draw of ``rng``; ``F z = Σ_k D_k M z_k``, ``z`` ``(d, P)``.

    ``M`` ``(m, d)``, ``D`` ``(m, P)`` the patterns as numbers (same dtype as ``M``).
    """

    def normal(z):  # FᵀF z
        t = np.einsum("mp,mp->m", D, M @ z)
        return M.T @ (D * t[:, None])

    return power_iteration(normal, rng.standard_normal((M.shape[1], D.shape[1])).astype(M.dtype), n_iter)
