"""Structure and state of non-strict triangular ReLU models (problem (13), Theorem 2), on arrays.

The array-level core that :class:`~cvximplicit.model.ImplicitModel`, :mod:`cvximplicit.nonstrict`
and :mod:`cvximplicit.torch_bridge` share (so none of them imports another for it).
Computation order ``[X_1; …; X_L]``: ``A_{i,j} = 0`` for ``j > i``, each diagonal block
``A_{i,i}`` upper triangular with ``−1 < a_rr < 1``; states have samples as columns.
"""

from __future__ import annotations

import numpy as np

from .exceptions import ValidationError
from .partition import block_slices

__all__ = ["check_self_loop_structure", "is_self_loop_structure", "back_substitution"]


def _first_nonzero(M: np.ndarray, row0: int, col0: int) -> tuple[int, int, float]:
    r, c = np.argwhere(M)[0]
    return int(r) + row0, int(c) + col0, float(M[r, c])


def check_self_loop_structure(A: np.ndarray, block_sizes, activation: str) -> None:
    """Raise :class:`ValidationError` unless ``A`` (with ``activation``) is a non-strict triangular ReLU model.

    The message names the first offending entry by its 0-based index ``A[r, c]``, its
    value, its 1-based block ``A_{i,j}`` and what is allowed there. Strictly triangular
    ReLU models pass (``a_rr = 0``).
    """
    if activation != "relu":
        raise ValidationError(
            f"non-strict (self-loop) models are only covered by Theorem 2 for activation='relu'; "
            f"got activation={activation!r}"
        )
    slices = block_slices(block_sizes)
    where = f"(partition {list(block_sizes)} in computation order; blocks numbered from 1)"
    for i, rows in enumerate(slices):
        above = A[rows, rows.stop:]
        if np.any(above):
            r, c, v = _first_nonzero(above, rows.start, rows.stop)
            j = next(k for k, cols in enumerate(slices) if cols.start <= c < cols.stop)
            raise ValidationError(
                f"A[{r}, {c}] = {v:.6g} lies in block A_{{{i + 1},{j + 1}}} above the block diagonal {where}; "
                "a non-strict triangular model needs A_{i,j} = 0 for j > i"
            )
        lower = np.tril(A[rows, rows], k=-1)
        if np.any(lower):
            r, c, v = _first_nonzero(lower, rows.start, rows.start)
            raise ValidationError(
                f"A[{r}, {c}] = {v:.6g} lies below the diagonal inside the self-loop block "
                f"A_{{{i + 1},{i + 1}}} {where}; self-loop blocks must be upper triangular (row r of a "
                "block may only read rows r' >= r of the same block)"
            )
        for r in range(rows.start, rows.stop):
            a = float(A[r, r])
            if not -1.0 < a < 1.0:
                raise ValidationError(
                    f"self-loop weight A[{r}, {r}] = {a:.6g} (block {i + 1}) must satisfy -1 < a_rr < 1 "
                    "(Theorem 2)"
                )


def is_self_loop_structure(A: np.ndarray, block_sizes, activation: str) -> bool:
    """True when :func:`check_self_loop_structure` passes."""
    try:
        check_self_loop_structure(A, block_sizes, activation)
    except ValidationError:
        return False
    return True


def back_substitution(A: np.ndarray, BU: np.ndarray, block_sizes) -> np.ndarray:
    r"""The exact fixed point ``X = ReLU(A X + BU)`` of a checked non-strict model, shape ``(n, m)``.

    Blocks ``i = 1, …, L`` in turn and, inside block ``i``, rows ``r`` from last to first:
    ``x_r = ReLU(s_r) / (1 − a_rr)`` with ``s_r = Σ_{r<c∈block} a_rc x_c + Σ_{j<i} (A_{i,j} X_j)_r
    + (BU)_r``, the unique solution of ``x_r = ReLU(a_rr x_r + s_r)`` for ``−1 < a_rr < 1``.
    """
    X = np.zeros((A.shape[0], BU.shape[1]))
    for rows in block_slices(block_sizes):
        S = A[rows, : rows.start] @ X[: rows.start] + BU[rows]
        block = A[rows, rows]
        scale = 1.0 / (1.0 - np.diag(block))
        if not np.any(np.triu(block, k=1)):
            X[rows] = np.maximum(S, 0.0) * scale[:, None]
            continue
        for k in range(block.shape[0] - 1, -1, -1):
            r = rows.start + k
            s = S[k] + block[k, k + 1:] @ X[r + 1: rows.stop]
            X[r] = np.maximum(s, 0.0) * float(scale[k])
    return X
