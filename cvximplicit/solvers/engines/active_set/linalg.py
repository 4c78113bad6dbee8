"""Dense linear algebra of the working set's faces: LAPACK called directly (no per-call checks of scipy's wrappers:
these run once per face change, on matrices of a few hundred entries).

A face of a group is the set of its cone rows held at equality, ``A_act z = 0``; the group moves on the null space
of ``A_act`` and its rows' multipliers solve ``A_actᵀ μ = ∇f`` by the QR factors of ``A_actᵀ``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.linalg.lapack import dgeqp3, dormqr, dorgqr, dtrtrs

from ..iterations import TINY

__all__ = ["DEPENDENT", "Reflectors", "RowFactors", "null_space", "solve_upper"]

DEPENDENT = 1e-12  # |R_ii| below this of the largest: a dependent row (pivoted QR puts them last)


class RowFactors(NamedTuple):
    """QR factors of the independent tight rows: ``A_actᵀ[:, piv] = Q R`` (``Q`` ``(d, r)``, ``R`` ``(r, r)``)."""

    Q: np.ndarray
    R: np.ndarray
    piv: np.ndarray


class Reflectors(NamedTuple):
    """The first ``rank`` Householder reflectors of a pivoted QR (LAPACK ``geqp3``): ``Q = H_1 ⋯ H_rank``
    ``(n, n)``, whose columns past ``rank`` span the null space of the factored rows."""

    qr: np.ndarray
    tau: np.ndarray
    rank: int

    def null_part(self, C):
        """``(C Q)[:, rank:]`` for ``C`` ``(m, n)``: ``C`` times the null-space basis, by ``ormqr`` in ``4 m n rank``
        flops (a product with the formed basis takes ``2 m n (n − rank)``)."""
        lwork = int(dormqr("L", "T", self.qr, self.tau, C.T, -1)[1][0].real)
        CQt, _, info = dormqr("L", "T", self.qr, self.tau, C.T, max(lwork, 1))  # Qᵀ Cᵀ = (C Q)ᵀ, C.T is Fortran
        if info < 0:
            raise ValueError(f"illegal value in argument {-info} of LAPACK ormqr")
        return np.ascontiguousarray(CQt[self.rank:].T)


def solve_upper(R, b):
    """``R⁻¹ b`` for upper-triangular ``R`` by LAPACK's ``trtrs`` (as ``scipy.linalg.solve_triangular``)."""
    x, info = dtrtrs(R, b) if R.flags.f_contiguous else dtrtrs(R.T, b, lower=1, trans=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"singular triangular factor (LAPACK trtrs info {info})")
    return x


def null_space(A_act, d, scale: float | None = None) -> tuple[np.ndarray, RowFactors | None, Reflectors | None]:
    """Orthonormal basis ``(d, f)`` of ``{h : A_act h = 0}``, the :class:`RowFactors` of ``A_actᵀ`` and the
    :class:`Reflectors` whose ``Q`` gives the basis (``N = Q[:, rank:]``; None without rows).

    A row is dependent when its part off the rows before it (``|R_ii|``, pivoted) is at most :data:`DEPENDENT`
    times ``scale`` (default: the largest ``|R_ii|``)."""
    if A_act.shape[0] == 0:
        return np.eye(d), None, None
    At = np.asfortranarray(A_act.T)
    qr, jpvt, tau, work, _ = dgeqp3(At, lwork=-1)
    qr, jpvt, tau, _, info = dgeqp3(At, lwork=int(work[0].real))  # column-pivoted: |diag R| decreasing
    if info < 0:
        raise ValueError(f"illegal value in argument {-info} of LAPACK geqp3")
    diag = np.abs(np.diag(qr))
    ref = (float(diag[0]) if diag.size else 0.0) if scale is None else scale
    rank = int(np.sum(diag > DEPENDENT * max(ref, TINY))) if diag.size else 0
    refl = Reflectors(np.asfortranarray(qr[:, :rank]), tau[:rank], rank)
    Q = np.zeros((d, d), order="F")
    Q[:, :rank] = qr[:, :rank]
    if rank:
        lwork = int(dorgqr(Q, tau[:rank], lwork=-1)[1][0].real)
        Q, _, info = dorgqr(Q, tau[:rank], lwork=lwork, overwrite_a=1)  # Q = H_1 ⋯ H_rank
        if info < 0:
            raise ValueError(f"illegal value in argument {-info} of LAPACK orgqr")
    else:
        Q = np.eye(d)
    factors = RowFactors(Q[:, :rank], np.triu(qr[:rank, :rank]), jpvt[:rank] - 1)
    return np.ascontiguousarray(Q[:, rank:]), factors, refl
