"""The bent search: a Newton step that met cone rows goes on along a bent path, so one system adds many rows.

Each group hit continues along its direction projected off the rows it joined (Gram–Schmidt in the coordinates of
its basis before the step), the others along theirs, segment by segment while each segment lowers the objective
and meets another row before the step's end.
"""

from __future__ import annotations

import math

import numpy as np

from .linalg import DEPENDENT
from .working_set import Products

__all__ = ["BENDS", "bent_search", "join_rows"]

BENDS = 50  # segments of one bent search (rows joined along one Newton step) at most
MET_REL, MET_ABS = 1e-9, 1e-15  # rows met within this of the step join together (round-off)
GRAZE = 1e-15  # a row the direction falls towards by less than this (relative) does not block it
MIN_SEGMENT = 1e-12  # a shorter segment is not taken (no resolvable progress)


def join_rows(ws, ratios, alpha) -> dict:
    """The rows met at step ``alpha`` join their groups' tight sets: ``{group: its rows}`` (bases not updated)."""
    met = ratios <= alpha * (1 + MET_REL) + MET_ABS
    joined = {}
    for j in np.flatnonzero(met.any(axis=0)):
        rows = np.flatnonzero(met[:, j])
        ws.act[j, rows] = True
        joined[int(j)] = rows
    return joined


def bent_search(ws, products, dZ, MD, remaining, hit, obj, ratios, bases):
    """Go on along the Newton step ``dZ`` (``MD = M dZᵀ``) after it met cone rows (see the module docstring).

    ``remaining`` is the rest of the step, ``hit`` the rows joined (``{group: rows}``), ``obj`` the objective now,
    ``ratios`` the last ratio test's shifted to the current point (``inf`` where no row blocks), ``bases`` the
    groups' null-space bases ``N_j`` and products ``M N_j`` before the step (the bases themselves are updated
    afterwards). At most :data:`BENDS` segments. Returns the updated :class:`~.working_set.Products` and the
    groups whose rows joined.

    Work per segment is ``O(m)`` per group whose direction bends, not ``O(m n)``: the ratios are kept against the
    step taken so far (``ratios − shift`` is the step left to each row), each column with its least entry, and a
    column of ``M Zᵀ`` is brought up to date only when its direction changes (and at the end).
    """
    coef, MZ, r, Sk = products.coef, products.MZ.copy(), products.r, products.Sk
    removed = {}  # group → (buffer, count): orthonormal directions (in its basis' coordinates) removed by rows joined
    Bd = np.einsum("mn,mn->m", MD, coef)  # the fit's direction, updated column by column
    for j, rows in hit.items():
        ratios[rows, j] = np.inf
    least = ratios.min(axis=0, initial=np.inf)  # each column's least ratio
    shift, moved = 0.0, np.zeros(ws.n)  # the step taken; where each column of MZ was brought up to date
    for _ in range(BENDS):
        # rows of the groups hit: a new direction, a new ratio test
        for j, rows in hit.items():
            N, MN = bases[j]
            t = _project_off(ws, j, rows, N, removed, dZ)
            if t is None:
                continue
            MZ[:, j] += (shift - moved[j]) * MD[:, j]
            moved[j] = shift
            md = MN @ t  # M dZ_j, with dZ_j = N t
            Bd += (md - MD[:, j]) * coef[:, j]
            MD[:, j] = md
            az, ad = MZ[:, j] * Sk[:, j], md * Sk[:, j]
            cand = ~ws.act[j] & (ad < -GRAZE * ws.row_norm * math.sqrt(float(dZ[j] @ dZ[j])))
            col = np.full(ws.m, np.inf)
            col[cand] = np.maximum(az[cand], 0.0) / -ad[cand] + shift
            ratios[:, j] = col
            least[j] = col.min(initial=np.inf)
        alpha = min(remaining, float(least.min(initial=np.inf)) - shift)
        if alpha <= MIN_SEGMENT:
            break
        rn = r - alpha * Bd
        Z1 = ws.Z + alpha * dZ
        obj1 = ws.objective_at(rn, Z1)
        if obj1 >= obj:
            break
        ws.Z, r, obj, shift = Z1, rn, obj1, shift + alpha
        if alpha >= remaining:
            break
        remaining -= alpha
        hit = {}
        for j in np.flatnonzero(least - shift <= MET_ABS):  # the rows met join (ratios of the step left ≈ 0)
            rows = np.flatnonzero(ratios[:, j] - shift <= MET_ABS)
            ws.act[j, rows] = True
            ratios[rows, j] = np.inf
            least[j] = ratios[:, j].min(initial=np.inf)
            hit[int(j)] = rows
    MZ += (shift - moved) * MD
    return Products(products.ids, coef, MZ, r, Sk), set(removed) | set(hit)


def _project_off(ws, j, rows, N, removed, dZ):
    """Project group ``j``'s direction ``dZ[j]`` off its joined ``rows`` inside its basis ``N`` (Gram–Schmidt on
    the rows' coordinates, kept in ``removed``); returns the new direction's coordinates ``t`` (``dZ[j] = N t``),
    or None when no direction was removed yet."""
    buf, n_dir = removed.get(j) or (np.empty((N.shape[1], N.shape[1])), 0)  # at most dim(range N) directions
    A_rows = ws.cone(ws.ks[j])[rows]
    for v, a_norm in zip(A_rows @ N, ws.row_norm[rows]):  # each joined row in the basis coordinates
        if n_dir:
            Q = buf[:, :n_dir]
            v = v - Q @ (Q.T @ v)
        nv = math.sqrt(float(v @ v))
        if nv > DEPENDENT * a_norm and n_dir < buf.shape[1]:
            buf[:, n_dir] = v / nv
            n_dir += 1
    removed[j] = (buf, n_dir)
    if not n_dir:
        return None
    Q = buf[:, :n_dir]
    t = N.T @ dZ[j]
    t -= Q @ (Q.T @ t)
    dZ[j] = N @ t
    return t
