"""The full pass of the working-set engine: every group's dual value, a certified bound, the groups that enter.

At the residual ``λ = r`` a group's dual-constraint value is ``ρ_g = ‖Π_{K_k}(s Mᵀ D_k λ)‖``
(:mod:`cvximplicit.solvers.engines.cones`). One GEMM gives the plain scores ``‖Mᵀ D_k λ‖``; a group below ``β``
needs no multiplier. A group above is screened by its last projection's multipliers rescaled by the best
``t ≥ 0`` (for all groups at once: two products), then by its last face, and otherwise gets its projection by
constraint generation. A pass that has found twice as many groups to enter as it will take stops projecting (the
rest keep ``μ = 0``: a valid, weaker bound). These multipliers, with the working set's own, give the float64
bound. Groups with ``ρ_g > β`` enter (the largest first, at most as many as the set holds, at least
:data:`MIN_ENTER`) along their projection, at the step that minimises the objective with the rest fixed.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from ...relu.certificate import bound_kernel, group_scores
from ..cones import (
    INSIDE,
    PROJECTION_ROUNDS,
    project_on_face,
    project_onto_cone,
    project_onto_cones,
    tight_rows,
    violated_rows,
)
from ..groups import SIGNS
from ..iterations import TINY
from .working_set import WorkingSet

__all__ = ["full_pass"]

MIN_ENTER = 4  # groups that may enter per pass at least (a small working set grows by this)
SCREEN_MARGIN = 1e-9  # proved below β at ρ ≤ β(1 − 1e-9), enters at ρ > β(1 + 1e-9): round-off
PLAIN_MARGIN = 1e-12  # plain scores above β(1 − 1e-12) are examined (a GEMM's, exact to ~1e-15)
SPARSE_SCREEN = 1e6  # m·d·P above which the screening product is sparse (μ: ≤ d rows per group)
ENTER_ROUNDS = 10 * PROJECTION_ROUNDS  # rounds of the projection of a group entering unsettled


class Candidate(NamedTuple):
    """A group ``(k, s)`` whose projection ``h`` of its ascent direction (on ``face``) has ``ρ = ‖h‖ > β``."""

    rho: float
    k: int
    s: int
    h: np.ndarray
    face: np.ndarray


def full_pass(ws: WorkingSet, r, mu_c, log=None, npass: int = 0, output: int = 0) -> float:
    """The full pass at ``λ = r``: multipliers of every group into ``mu_c`` ``(2, P, m)``, new groups in ``ws``.

    Working-set groups take their least-squares multipliers (their NNLS ones over every row at zero on a
    degenerate face, where least squares gives a negative entry); any other group whose plain score exceeds ``β``
    takes the multipliers of its cone projection. Returns this output's dual bound (float64,
    :func:`~cvximplicit.solvers.relu.certificate.bound_kernel`).
    """
    asc, plain = group_scores(ws.M, ws.D * r[:, None])  # (d, P): Mᵀ D_k λ and its norms
    mu_c[:] = 0.0
    in_ws = _working_set_multipliers(ws, r, asc, mu_c)
    n_add = max(MIN_ENTER, ws.n)
    cands = _examine(ws, asc, plain, in_ws, mu_c, 2 * n_add)
    bound, det = bound_kernel(ws.M, ws.y[:, None], ws.D > 0, ws.beta, r[:, None], *mu_c[..., None])
    cands.sort(key=lambda cand: (-cand.rho, cand.k, cand.s))
    n_in = ws.n
    _enter(ws, r, asc, cands[:n_add])
    if log:
        log.info("pass %d of output %d: working set %d -> %d, candidates %d, objective %.10g, bound %.10g, "
                 "max rho/beta %.6f", npass, output, n_in, ws.n, len(cands), ws.objective(r), bound, det["rho"] / ws.beta)
    return bound


def _working_set_multipliers(ws: WorkingSet, r, asc, mu_c):
    """The working-set groups' multipliers into ``mu_c``; returns which groups ``(s, k)`` are in the set."""
    in_ws = np.zeros((2, asc.shape[1]), dtype=bool)
    for j in range(ws.n):
        rows, mu, grad = ws.multipliers(j, r, asc[:, ws.ks[j]])
        if mu.size and mu.min() < 0:  # a degenerate face (or not yet stationary): the best multipliers ≥ 0
            rows, mu, _ = ws.nonneg_multipliers(j, rows, grad)
        mu_c[ws.sv[j], ws.ks[j], rows] = np.maximum(mu, 0.0)
        in_ws[ws.sv[j], ws.ks[j]] = True
    return in_ws


def _rescaled_face_multipliers(ws: WorkingSet, asc):
    """Every group's last projection multipliers ``w`` rescaled by the ``t ≥ 0`` least ``‖a + t w‖`` (any ``μ ≥ 0``
    gives an upper bound of ``ρ``), for all groups at once (two products): ``t`` ``(2, P)`` and whether the
    result proves the group below ``β``."""
    F, M = ws.face_mu, ws.M  # (2, P, m)
    a = np.stack([asc.T, -asc.T])  # (2, P, d): s Mᵀ D_k λ
    big = ws.m * ws.d * F.shape[1] > SPARSE_SCREEN
    w = np.stack([(sp.csr_matrix(F[s] * ws.S.T) if big else F[s] * ws.S.T) @ M for s in (0, 1)])  # (2, P, d)
    ww, wa = np.einsum("spd,spd->sp", w, w), np.einsum("spd,spd->sp", w, a)
    t = np.where(ww > 0, np.maximum(0.0, -wa / np.where(ww > 0, ww, 1.0)), 0.0)
    h_all = a + t[:, :, None] * w
    return t, np.sqrt(np.einsum("spd,spd->sp", h_all, h_all)) <= ws.beta * (1 - SCREEN_MARGIN)


def _examine(ws: WorkingSet, asc, plain, in_ws, mu_c, enough) -> list:
    """Multipliers of the groups outside the set whose plain score exceeds ``β``, into ``mu_c``: screened by their
    rescaled last multipliers, else projected (on their last face, else by constraint generation) until ``enough``
    candidates to enter are found. Returns the candidates."""
    beta, F = ws.beta, ws.face_mu
    t, screened = _rescaled_face_multipliers(ws, asc)
    order = np.argsort(-plain, kind="stable")  # the largest plain values first
    ks = np.repeat(order[plain[order] > beta * (1 - PLAIN_MARGIN)], 2)  # groups (k, s), k in that order, s = 0, 1
    ss = np.tile(np.array([0, 1]), ks.size // 2)
    todo = ~in_ws[ss, ks]
    done = todo & screened[ss, ks]  # proved by their rescaled last multipliers
    mu_c[ss[done], ks[done]] = t[ss[done], ks[done], None] * F[ss[done], ks[done]]
    cands, queue = [], list(zip(ks[todo & ~done].tolist(), ss[todo & ~done].tolist()))
    while queue and len(cands) < enough:  # enough groups to enter: the rest keep μ = 0 (a valid, weaker bound)
        batch, queue = queue[:enough - len(cands)], queue[enough - len(cands):]
        for (k, s), proj in zip(batch, _projections(ws, asc, batch)):
            F[s, k] = 0.0
            F[s, k, proj.rows] = proj.mu
            mu_c[s, k, proj.rows] = proj.mu
            rho = math.sqrt(float(proj.h @ proj.h))
            if rho > beta * (1 + SCREEN_MARGIN):
                cands.append(Candidate(rho, k, s, proj.h, proj.rows))
    return cands


def _projections(ws: WorkingSet, asc, groups) -> list:
    """The cone projections of the ascent directions of ``groups`` ``[(k, s)]``: on the last face where it still
    gives the projection, else by constraint generation (all such groups at once), stopped once ``ρ < β``."""
    out, rest = {}, []  # rest: (group, its cone, its ascent direction, its last face) still to project
    for k, s in groups:
        Ak, a, rows = ws.cone(k), SIGNS[s] * asc[:, k], np.flatnonzero(ws.face_mu[s, k] > 0)
        out[k, s] = project_on_face(Ak, a, rows, ws.row_norm)
        if out[k, s] is None:
            rest.append(((k, s), Ak, a, rows))
    if rest:
        groups_left, cones, points, faces = zip(*rest)
        out.update(zip(groups_left, project_onto_cones(list(cones), list(points), ws.row_norm,
                                                       enough=ws.beta * (1 - SCREEN_MARGIN), first_rows=list(faces))))
    return [out[g] for g in groups]


def _enter(ws: WorkingSet, r, asc, cands) -> None:
    """Each candidate enters along its projection ``h ∈ K_k`` at the step that minimises the objective with the rest
    fixed, with the projection's face (positive NNLS multipliers) and the rows it meets as its first tight rows."""
    M, beta = ws.M, ws.beta
    fit = ws.y - r
    for _, k, s, h, face in cands:
        Ak = ws.cone(k)
        g = Ak @ h
        nh = math.sqrt(float(h @ h))
        if np.any(violated_rows(g, ws.row_norm, nh, INSIDE)):  # not settled yet: the projection to the end
            h, face, _ = project_onto_cone(Ak, SIGNS[s] * asc[:, k], ws.row_norm, first_rows=face, rounds=ENTER_ROUNDS)
            g = Ak @ h
            nh = math.sqrt(float(h @ h))
            if nh <= beta or np.any(violated_rows(g, ws.row_norm, nh, INSIDE)):
                continue  # still not settled: left to a later pass
        Bh = SIGNS[s] * ws.D[:, k] * (M @ h)
        step = (float(Bh @ (ws.y - fit)) - beta * nh) / max(float(Bh @ Bh), TINY)
        if step <= 0:
            continue
        fit = fit + step * Bh
        ws.add(k, s, step * h, np.union1d(face, np.flatnonzero(tight_rows(g, ws.row_norm, nh)))[: ws.d - 1])
