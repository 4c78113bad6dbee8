"""Dense linear algebra of the working set's faces: LAPACK called directly (no per-call checks of scipy's wrappers:
these run once per face change, on matrices of a few hundred entries).

A face of a group is the set of its cone rows held at equality, ``A_act z = 0``; the group moves on the null space
of ``A_act`` and its rows' multipliers solve ``A_actᵀ μ = ∇f`` by the QR factors of ``A_actᵀ``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.linalg.lapack import dgeqp3, dorgqr, dtrtrs

from ..iterations import TINY

__all__ = ["DEPENDENT", "RowFactors", "null_space", "qr_pivoted", "solve_upper"]

DEPENDENT = 1e-12  # |R_ii| below this of the largest: a dependent row (pivoted QR puts them last)


class RowFactors(NamedTuple):
    """QR factors of the independent tight rows: ``A_actᵀ[:, piv] = Q R`` (``Q`` ``(d, r)``, ``R`` ``(r, r)``)."""

    Q: np.ndarray
    R: np.ndarray
    piv: np.ndarray


def qr_pivoted(A):
    """Column-pivoted full QR ``A[:, piv] = Q R`` by LAPACK's ``geqp3``/``orgqr`` (what ``scipy.linalg.qr(A,
    mode="full", pivoting=True)`` computes)."""
    m, n = A.shape
    qr, jpvt, tau, work, _ = dgeqp3(A, lwork=-1)
    qr, jpvt, tau, _, info = dgeqp3(A, lwork=int(work[0].real))
    if info < 0:
        raise ValueError(f"illegal value in argument {-info} of LAPACK geqp3")
    R = np.triu(qr)
    full = np.empty((m, m))
    full[:, :min(m, n)] = qr[:, :min(m, n)]  # the reflectors; orgqr forms Q from them
    lwork = int(dorgqr(full, tau, lwork=-1)[1][0].real)
    Q, _, info = dorgqr(full, tau, lwork=lwork, overwrite_a=1)
    if info < 0:
        raise ValueError(f"illegal value in argument {-info} of LAPACK orgqr")
    return Q, R, jpvt - 1


def solve_upper(R, b):
    """``R⁻¹ b`` for upper-triangular ``R`` by LAPACK's ``trtrs`` (as ``scipy.linalg.solve_triangular``)."""
    x, info = dtrtrs(R, b) if R.flags.f_contiguous else dtrtrs(R.T, b, lower=1, trans=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"singular triangular factor (LAPACK trtrs info {info})")
    return x


def null_space(A_act, d) -> tuple[np.ndarray, RowFactors | None]:
    """Orthonormal basis ``(d, f)`` of ``{h : A_act h = 0}``, and the :class:`RowFactors` of ``A_actᵀ``."""
    if A_act.shape[0] == 0:
        return np.eye(d), None
    Q, R, piv = qr_pivoted(A_act.T)  # column-pivoted: |diag R| decreasing
    diag = np.abs(np.diag(R))
    rank = int(np.sum(diag > DEPENDENT * max(float(diag[0]), TINY))) if diag.size else 0
    return np.ascontiguousarray(Q[:, rank:]), RowFactors(Q[:, :rank], R[:rank, :rank], piv[:rank])
