"""Exact feasibility: groups moved into their cones, so that a reported objective is that of a feasible point.

An engine's iterate may leave a group a little outside its cone ``(2D_k − I) M z ≥ 0`` (round-off, an ADMM
split). :class:`ConeRepair` moves each such group in: the minimum-norm correction on its short rows (held at a
round-off margin so that no sign flips back), else a step along an interior direction of the cone (a least-squares
classifier of the pattern, perceptron passes, else an LP), else zero (always feasible). :func:`exact_point` does
that and judges the result against the zero network. Orientation: ``M`` ``(m, d)`` rows as samples, ``patterns``
``(m, P)`` bool, groups ``(d, 2, P, q)`` in, ``V, W`` ``(P, d, q)`` out.
"""

from __future__ import annotations

import time

import numpy as np

from ..relu.certificate import constraint_violation, convex_objective
from .groups import to_VW
from .iterations import TINY

__all__ = ["ConeRepair", "exact_point"]

REPAIR_MARGIN = 1e-12  # rows held at A_i z ≥ 1e-12 ‖A_i‖‖z‖: above round-off, so the violation is 0
CORRECTION_ROUNDS = 6  # rounds of minimum-norm corrections (each adds the rows still short)
PERCEPTRON_PASSES = 50  # perceptron passes towards an interior direction before the LP
INTERIOR_MARGIN = 1e-9  # an interior direction clears every row by this relative margin


class ConeRepair:
    """Moves groups of ``(M, patterns)`` exactly into their cones; caches each pattern's interior direction."""

    def __init__(self, M64, patterns):
        self.M, self.patterns = M64, patterns
        self.nonzero_rows = np.any(M64 != 0, axis=1)
        self.row_norm = np.sqrt(np.einsum("md,md->m", M64, M64))
        self._interior: dict = {}  # pattern k → an interior direction, or None

    def sign(self, k) -> np.ndarray:
        """The diagonal of ``2D_k − I``."""
        return 2.0 * self.patterns[:, k].astype(np.float64) - 1.0

    def __call__(self, Xz, deadline=None):
        """``V, W`` (float64, every group inside its cone) from ``Xz`` ``(d, 2, P, q)``, and the groups set to zero.

        Groups still to do once the clock passes ``deadline`` (``time.perf_counter()`` seconds) are set to zero.
        """
        V, W = to_VW(Xz)
        dropped = 0
        for Z in (V, W):
            norms = np.linalg.norm(Z, axis=1)  # (P, q)
            for k, c in zip(*np.nonzero(norms > 0)):
                late = deadline is not None and time.perf_counter() > deadline
                fixed = None if late else self.group(Z[k, :, c], int(k))
                if fixed is None:
                    fixed = np.zeros(Z.shape[1])
                    dropped += 1
                Z[k, :, c] = fixed
        return V, W, dropped

    def group(self, z, k):
        """``z`` moved into the cone of pattern ``k`` (:meth:`correct`, else along :meth:`interior`), or None."""
        sgn = self.sign(k)
        fixed = self.correct(sgn, z)
        if fixed is None:
            h = self.interior(k)
            if h is not None:
                M, rows = self.M, self.nonzero_rows
                g = sgn * (M @ z)
                margin = REPAIR_MARGIN * self.row_norm * float(np.linalg.norm(z))
                gh = np.where(rows, sgn * (M @ h), 1.0)
                need = np.where(rows & (g < margin), (2.0 * margin - g) / gh, 0.0)
                fixed = z + h * float(need.max())
        return fixed

    def correct(self, sgn, z):
        """``z ← z + M_Aᵀ S_A η`` on the short rows ``A`` (every row found short so far), each round making them hold
        at twice the margin with the least-squares ``η`` (the minimum-norm correction). None when that does not
        settle in :data:`CORRECTION_ROUNDS`, or the short rows are as many as ``d`` (no room for a small correction).
        """
        M, rows = self.M, self.nonzero_rows
        A = np.zeros(M.shape[0], dtype=bool)
        for _ in range(CORRECTION_ROUNDS):
            g = sgn * (M @ z)
            margin = REPAIR_MARGIN * self.row_norm * max(float(np.linalg.norm(z)), TINY)
            short = (g < margin) & rows
            if not short.any():
                return z
            A |= short
            if A.sum() >= M.shape[1]:
                return None
            MA = sgn[A, None] * M[A]  # (|A|, d)
            try:
                eta = np.linalg.solve(MA @ MA.T, 2.0 * margin[A] - MA @ z)
            except np.linalg.LinAlgError:
                eta = np.linalg.lstsq(MA @ MA.T, 2.0 * margin[A] - MA @ z, rcond=None)[0]
            z = z + MA.T @ eta
        return None

    def interior(self, k):
        """A direction ``h`` with ``(2D_k − I) M h > 0`` on every non-zero row, or None (cached per pattern)."""
        if k not in self._interior:
            self._interior[k] = self._find_interior(k)
        return self._interior[k]

    def _find_interior(self, k):
        rows = self.nonzero_rows
        Mz, sz = self.M[rows], self.sign(k)[rows]
        h = np.linalg.lstsq(Mz, sz, rcond=None)[0]  # least-squares classifier of the ±1 labels
        margin = sz * (Mz @ h)
        row_norm = np.sqrt(np.einsum("md,md->m", Mz, Mz))
        for _ in range(PERCEPTRON_PASSES):  # perceptron passes on the rows with too small a margin
            bad = margin <= INTERIOR_MARGIN * row_norm * max(float(np.linalg.norm(h)), TINY)
            if not bad.any():
                break
            h = h + (sz[bad] / np.maximum(row_norm[bad], TINY) ** 2) @ Mz[bad] * (0.5 + float(np.mean(np.abs(margin))))
            margin = sz * (Mz @ h)
        else:
            h = _interior_lp(Mz, sz)
        if h is not None and not np.all(sz * (Mz @ h) > INTERIOR_MARGIN * row_norm * float(np.linalg.norm(h))):
            h = None
        return h


def _interior_lp(Mz, sz):
    """``max t`` s.t. ``s_i M_i h ≥ t``, ``‖h‖_∞ ≤ 1``, ``t ≤ 1`` (HiGHS); ``h`` if ``t > 0`` else None."""
    from scipy.optimize import linprog

    n, d = Mz.shape
    A_ub = np.hstack([-(sz[:, None] * Mz), np.ones((n, 1))])  # t − s_i M_i h ≤ 0
    res = linprog(np.r_[np.zeros(d), -1.0], A_ub=A_ub, b_ub=np.zeros(n),
                  bounds=[(-1.0, 1.0)] * d + [(None, 1.0)], method="highs")
    if res.status != 0 or -res.fun <= 0:
        return None
    return res.x[:d]


def exact_point(M64, Y64, patterns, beta, V, W):
    """``V, W`` moved exactly into their cones (where any row is violated), their float64 objective, and the zero
    network instead when that is lower; returns ``V, W, objective, dropped`` (the groups set to zero)."""
    dropped = 0
    if constraint_violation(M64, patterns, V, W) > 0:
        X = np.stack([V.transpose(1, 0, 2), W.transpose(1, 0, 2)], axis=1)
        V, W, dropped = ConeRepair(M64, patterns)(X)
    obj = convex_objective(M64, Y64, patterns, V, W, beta)
    zero = 0.5 * float(np.sum(Y64 * Y64))  # the zero network is exactly feasible too
    if zero < obj:
        V, W, obj = np.zeros_like(V), np.zeros_like(W), zero
    return V, W, obj, dropped
