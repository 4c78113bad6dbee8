r"""The cone of a group, ``K_k = {h : A h ≥ 0}`` with ``A = (2D_k − I) M`` ``(m, d)``: membership, projection.

By Moreau's decomposition the dual-constraint value of a group with ascent direction ``a = s Mᵀ D_k λ`` is

.. math::

    \rho = \min_{\mu \ge 0} \|a + A^\top \mu\| = \|\Pi_{K}(a)\|,

and any ``μ ≥ 0`` gives an upper bound ``‖a + Aᵀμ‖`` of it (so any ``μ ≥ 0`` keeps a dual bound valid).

- :func:`violated_rows`, :func:`tight_rows` — the membership test of a point ``h`` from its row values ``g = A h``;
- :func:`nnls_multipliers` — ``min_{μ ≥ 0} ‖a + A_Cᵀ μ‖`` on a set of rows ``C`` (NNLS);
- :func:`project_onto_cone` — the projection by constraint generation (NNLS on a growing set of rows);
  :func:`project_onto_cones` several at once, their products batched;
- :func:`project_on_face` — the projection if it lies on a given face (one small least-squares solve).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.optimize import nnls

__all__ = ["INSIDE", "NNLS_ITERS", "PROJECTION_ROUNDS", "ROW_VIOLATED", "TIGHT", "Projection", "SignedRows",
           "nnls_multipliers", "project_on_face", "project_onto_cone", "project_onto_cones", "tight_rows",
           "violated_rows"]

TIGHT = 1e-10  # a row is met (tight) at A_i h ≤ 1e-10 ‖A_i‖‖h‖: above the round-off of a row held at zero
INSIDE = 1e-9  # a point is inside its cone unless a row is below −1e-9 ‖A_i‖‖h‖ (round-off ~1e-14)
ROW_VIOLATED = 1e-12  # a projection violates a row below −1e-12 ‖A_i‖‖h‖ (NNLS leaves ~1e-15)
PROJECTION_ROUNDS = 12  # constraint-generation rounds (each adds ≤ 2d rows; a few suffice)
NNLS_ITERS = 20  # NNLS iterations per unknown (scipy's default 3 is short on degenerate faces)


def _norm(x) -> float:
    """``‖x‖₂`` of a 1-D array (what ``np.linalg.norm`` computes, without its dispatch)."""
    return math.sqrt(float(x @ x))


def violated_rows(g, row_norm, size: float, rel: float = INSIDE):
    """Bool mask of the rows with ``g_i < −rel ‖A_i‖ size`` (``g = A h``, ``size = ‖h‖``)."""
    return g < -rel * size * row_norm


def tight_rows(g, row_norm, size: float, rel: float = TIGHT):
    """Bool mask of the rows with ``g_i ≤ rel ‖A_i‖ size``: the rows a point with row values ``g`` meets."""
    return g <= rel * row_norm * size


def nnls_multipliers(A_rows, a, maxiter: int):
    """``μ = argmin_{μ ≥ 0} ‖a + A_rowsᵀ μ‖`` (NNLS); returns ``μ``, ``h = a + A_rowsᵀ μ`` and ``‖h‖`` (NNLS's own).

    ``A_rows`` ``(r, d)``; no rows gives ``μ = 0`` and ``h = a`` (scipy's NNLS must not see a matrix without columns).
    """
    if A_rows.shape[0] == 0:
        return np.zeros(0), a.copy(), _norm(a)
    At = A_rows.T
    mu, rnorm = nnls(At, -a, maxiter=maxiter)
    return mu, a + At @ mu, rnorm


class SignedRows:
    """The cone matrix ``A_k = diag(s) M`` (``s = 2 D_k − 1 ∈ {±1}``) without forming it: ``A @ v = s ∘ (M v)`` and
    ``A[rows] = s_rows ∘ M_rows``. A sign flip is exact in floating point, so the products are the formed matrix's
    (up to the BLAS's summation order); forming it copied all of ``M`` (``m × d``) per call, the largest single
    cost of a full pass at ``m = 60 000``."""

    __slots__ = ("s", "M")

    def __init__(self, s, M):
        self.s, self.M = s, M

    @property
    def shape(self):
        return self.M.shape

    def __matmul__(self, v):
        Mv = self.M @ v
        return self.s * Mv if Mv.ndim == 1 else self.s[:, None] * Mv

    def __getitem__(self, rows):
        return self.s[rows, None] * self.M[rows]


class Projection(NamedTuple):
    """``h = a + A_rowsᵀ μ``: the projection of ``a`` onto the cone once ``A h ≥ 0``, and always ``‖h‖ ≥ ρ``."""

    h: np.ndarray
    rows: np.ndarray
    mu: np.ndarray


def project_onto_cone(A, a, row_norm, enough: float = 0.0, first_rows=None,
                      rounds: int = PROJECTION_ROUNDS) -> Projection:
    """``min_{μ ≥ 0} ‖a + A_Cᵀ μ‖`` by NNLS on a growing row set ``C``: the most violated rows first, then the rows
    the last ``h`` violates, while any are.

    Stops early once ``‖h‖ ≤ enough`` (the group is then proved to satisfy its dual constraint). ``first_rows``
    join the first set (e.g. the face of the last projection). Returns the rows with ``μ > 0``.
    """
    return project_onto_cones([A], [a], row_norm, enough, [first_rows], rounds)[0]


def project_onto_cones(cones, points, row_norm, enough: float = 0.0, first_rows=None,
                       rounds: int = PROJECTION_ROUNDS) -> list[Projection]:
    """:func:`project_onto_cone` of each ``points[i]`` onto ``cones[i]``, the rounds in lockstep: the row values of
    every point still projecting come from one product (one pass over ``M`` for :class:`SignedRows` of one ``M``,
    instead of one pass each). Each projection takes the same steps as alone."""
    first_rows = first_rows or [None] * len(cones)
    out: list = [None] * len(cones)
    state = {}  # i → the rows of its next NNLS
    for i, g in enumerate(_row_values(cones, points)):
        viol = np.flatnonzero(g < 0)
        if viol.size == 0:
            out[i] = Projection(points[i].copy(), np.zeros(0, dtype=np.intp), np.zeros(0))
            continue
        rows = _most_violated(g, row_norm, viol, points[i].size)
        if first_rows[i] is not None and first_rows[i].size:
            rows = np.union1d(rows, first_rows[i])
        state[i] = rows
    for _ in range(rounds):
        last = {}
        for i, rows in state.items():
            mu, h, _ = nnls_multipliers(cones[i][rows], points[i], NNLS_ITERS * max(rows.size, points[i].size))
            last[i] = (h, rows, mu)
            if _norm(h) <= enough:
                out[i] = _final(h, rows, mu)
        going = [i for i in last if out[i] is None]
        state = {}
        for i, g in zip(going, _row_values([cones[i] for i in going], [last[i][0] for i in going])):
            h, rows, mu = last[i]
            viol = np.flatnonzero(violated_rows(g, row_norm, _norm(h), ROW_VIOLATED))
            in_rows = np.zeros(g.size, dtype=bool)
            in_rows[rows] = True
            viol = viol[~in_rows[viol]]
            if viol.size == 0:
                out[i] = _final(h, rows, mu)
            else:
                state[i] = np.union1d(rows[mu > 0], _most_violated(g, row_norm, viol, 2 * h.size))
        if not state:
            break
    for i in state:  # the rounds ran out: the last NNLS's point
        out[i] = _final(*last[i])
    return out


def _final(h, rows, mu) -> Projection:
    nz = mu > 0
    return Projection(h, rows[nz], mu[nz])


def _most_violated(g, row_norm, viol, k):
    """The (at most) ``k`` rows of ``viol`` with the least ``g_i/‖A_i‖``, in increasing index order."""
    if viol.size > k:
        viol = viol[np.argpartition(g[viol] / row_norm[viol], k - 1)[:k]]
    return np.sort(viol)


def _row_values(cones, points) -> list:
    """``[cones[i] @ points[i]]``, by one product ``M [p_1 … p_n]`` when the cones are :class:`SignedRows` of
    one ``M``."""
    if len(cones) > 1 and all(isinstance(A, SignedRows) and A.M is cones[0].M for A in cones):
        MP = cones[0].M @ np.stack(points, axis=1)
        return [A.s * MP[:, i] for i, A in enumerate(cones)]
    return [A @ p for A, p in zip(cones, points)]


def project_on_face(A, a, face, row_norm) -> Projection | None:
    """The projection of ``a`` onto the cone if its face is ``face``, else None.

    ``h = a + A_Fᵀ μ`` with ``A_F h = 0`` (one ``|F| × |F|`` least-squares solve): the exact projection when
    ``μ ≥ 0`` and ``A h ≥ 0`` (the KKT conditions), which one ``m × d`` product checks.
    """
    if face.size == 0:
        return None
    AF = A[face]
    mu = np.linalg.lstsq(AF @ AF.T, -(AF @ a), rcond=None)[0]
    if mu.min() < 0:
        return None
    h = a + AF.T @ mu
    if np.any(violated_rows(A @ h, row_norm, _norm(h), ROW_VIOLATED)):
        return None
    return Projection(h, face, mu)
