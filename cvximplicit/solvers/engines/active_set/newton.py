"""The inner solve of a working set: a primal active-set Newton method, its iterates always feasible.

Each Newton system is posed on the groups' faces (``z_g = N_g t_g``): Hessian ``(BN)ᵀ(BN)`` plus the curvature of
the group norms, with Levenberg–Marquardt damping where it is singular. A ratio test stops the step at the first
cone row met (it joins its group's face) and an Armijo backtrack keeps the objective falling; a step that met a
row goes on along a bent path (:mod:`.bent_search`). At a stationary point the tight rows' multipliers decide:
all ``≥ 0`` is KKT; else the faces are left along a Cauchy step (:func:`leave_face`). A group whose ray ``t z_g``
is best at ``t ≤ 0`` steps to zero and leaves (:func:`to_zero`). Budgets count Newton steps.

Round-off: the damping (relative to the Hessian's largest diagonal entry) floors at 1e-14, is capped at 1e-2 and
moves by 10× per damped or full step. Below a decrement of 1e-12 of the objective (the quadratic regime) the
objective cannot resolve a decrease: full steps are taken while the decrement falls 10× per step, and may raise the
objective by 1e-14 (relative); a short step to a blocking row may raise it by 1e-13.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dposv

from ..groups import add_norm_curvature, group_norms
from ..iterations import ARMIJO_C, MIN_STEP, TINY, armijo, backtrack
from .bent_search import bent_search, join_rows
from .working_set import Products, WorkingSet

__all__ = ["inner_solve", "leave_face", "to_zero"]

DROP = 1e-9  # a group below this times the largest norm leaves the set (round-off of a vanished group)
DAMPING_MIN, DAMPING_MAX, DAMPING_FACTOR = 1e-14, 1e-2, 10.0  # LM damping: round-off, cap, step
GRAZE, GRAZE_AFTER_CAUCHY = 1e-15, 1e-12  # rows a step grazes to round-off do not block it
DEGENERATE_STEP = 1e-9  # a row met within this fraction of a step joins at once, without a step
TINY_DECREMENT, TINY_DECREASE = 1e-12, 0.1  # unresolvable decrement; its fall per full step
TINY_SLACK, SHORT_SLACK = 1e-14, 1e-13  # rises of the objective by round-off, still taken
NEGATIVE_MULTIPLIER = 1e-10  # a multiplier below −1e-10 max(1, β) is negative: leave the face


@dataclass
class _State:
    """What the inner solve carries from step to step."""

    products: Products | None = None
    cauchy: dict | None = None  # group id → its tangent-cone direction, when the next step leaves the faces
    damping: float = DAMPING_MIN
    last_tiny: float = math.inf  # the last decrement of a full step taken in the quadratic regime
    steps: int = 0  # Newton steps taken


def inner_solve(ws: WorkingSet, gtol: float, max_newton: int, deadline) -> int:
    """Active-set Newton on the working set of one output until the Newton decrement is ``≤ gtol``.

    Returns the Newton steps taken (each: one reduced Newton system, one ratio test, a backtrack).
    """
    st = _State()
    while st.steps < max_newton:
        if deadline is not None and time.perf_counter() > deadline:
            break
        _prune(ws)
        if not ws.n:
            break
        st.steps += 1
        if st.products is None or st.products.ids != ws.ids:  # the groups changed: products afresh
            st.products = Products.of(ws)
        p = st.products
        norms = group_norms(ws.Z, axis=-1)
        if (j := to_zero(p.coef * p.MZ, p.r, ws.beta * norms)) is not None:  # a group better at zero: the step to it
            ws.Z[j] = 0.0
            continue
        H, g, offs = _newton_system(ws, p.r, norms, st.damping)
        dt = _direction(ws, H, g, offs, st.cauchy)
        decrement = -float(g @ dt)
        if decrement <= gtol:
            if st.cauchy is not None:  # leaving the faces would gain less than gtol: solved as far as asked
                break
            st.cauchy = leave_face(ws, p.r)
            if st.cauchy is None:  # stationary on the tight rows
                break
            continue
        was_cauchy, st.cauchy = st.cauchy is not None, None
        if not _step(ws, st, dt, offs, decrement, was_cauchy):
            break
    return st.steps


def _prune(ws: WorkingSet) -> None:
    """Groups that shrank to round-off leave, bases are computed, and groups whose rows leave no direction leave."""
    norms = group_norms(ws.Z, axis=-1)
    ws.remove((norms <= DROP * norms.max(initial=0.0)) | (norms == 0.0))
    for j in [j for j, N in enumerate(ws.N) if N is None]:
        ws.basis(j)
    ws.remove(np.array([N.shape[1] == 0 for N in ws.N], dtype=bool))


def _newton_system(ws: WorkingSet, r, norms, damping):
    """The reduced Newton system ``H dt = −g`` on the faces: ``(BN)ᵀ(BN)`` plus the group norms' curvature
    ``(β/‖z_j‖)(I − u_j u_jᵀ)`` (``u_j = N_jᵀ z_j/‖z_j‖``: ``z_j`` lies in ``range(N_j)``) and the damping. The
    Hessian is singular along directions the fit does not see and the norms do not bend (e.g. ``V_k`` and ``W_k``
    of one pattern moving together); damped steps raise the damping, full steps lower it."""
    beta = ws.beta
    H, offs = ws.hessian_fit()
    g = ws.fit_gradient(r)
    u = np.concatenate([N.T @ (ws.Z[j] / norms[j]) for j, N in enumerate(ws.N)])
    g += beta * u
    add_norm_curvature(H, ws.pairs(offs), u, beta / norms)
    H.flat[::H.shape[0] + 1] += damping * max(float(H.diagonal().max()), TINY)
    return H, g, offs


def _direction(ws: WorkingSet, H, g, offs, cauchy):
    """The Newton direction (LAPACK Cholesky, least squares if it fails), or with ``cauchy`` the Cauchy step
    along the tangent-cone directions (exact on the quadratic model; the other groups along ``−g``)."""
    if cauchy is not None:
        dt = np.concatenate([N.T @ cauchy[gid] if gid in cauchy else -g[offs[j]:offs[j + 1]]
                             for j, (gid, N) in enumerate(zip(ws.ids, ws.N))])
        dt *= -float(g @ dt) / max(float(dt @ (H @ dt)), TINY)
        return dt
    _, dt, info = dposv(H, g)
    return -(dt if info == 0 else np.linalg.lstsq(H, g, rcond=None)[0])


def _step(ws: WorkingSet, st: _State, dt, offs, decrement, was_cauchy) -> bool:
    """Take the step ``dt`` (ratio test, backtrack, rows met join, bent search). False: the inner solve ends."""
    p, M = st.products, ws.M
    dZ = np.stack([ws.N[j] @ dt[offs[j]:offs[j + 1]] for j in range(ws.n)])
    MD = M @ dZ.T
    ratios, alpha_max, blocked, flat = _ratio_test(ws, p, dZ, MD, was_cauchy)
    if blocked and alpha_max <= DEGENERATE_STEP:  # degenerate: a row at zero (to round-off along the step) blocks it
        i, j = np.unravel_index(flat, ratios.shape)
        ws.join(int(j), [i])
        return True
    obj0 = ws.objective(p.r)
    Bd = np.einsum("mn,mn->m", MD, p.coef)
    # in the quadratic regime the objective cannot resolve the decrease: full Newton steps while the
    # decrement keeps falling (it squares each step), so the gradient, hence the multipliers, converge too
    tiny = decrement <= TINY_DECREMENT * max(1.0, abs(obj0)) and decrement < TINY_DECREASE * st.last_tiny \
        and not was_cauchy
    alpha, obj, short = _line_search(ws, p.r, Bd, dZ, obj0, decrement, alpha_max, blocked, tiny)
    if not short and (obj is None or (obj >= obj0 and not tiny)):  # no resolvable decrease: stationary
        if was_cauchy:
            return False
        st.cauchy = leave_face(ws, p.r)
        return st.cauchy is not None
    st.last_tiny = decrement if tiny else math.inf
    ws.Z = ws.Z + alpha * dZ
    st.products = Products(p.ids, p.coef, p.MZ + alpha * MD, p.r - alpha * Bd, p.Sk)
    st.damping = min(st.damping * DAMPING_FACTOR, DAMPING_MAX) if alpha < alpha_max else \
        max(st.damping / DAMPING_FACTOR, DAMPING_MIN)
    if blocked and alpha == alpha_max:  # every row met at this step joins its group's tight set
        bases = None if was_cauchy else list(zip(ws.N, ws.MN))  # the faces (and M N_j) before the rows join
        touched = set(hit := join_rows(ws, ratios, alpha_max))
        if bases is not None:
            st.products, more = bent_search(ws, st.products, dZ, MD, 1.0 - alpha_max, hit, obj, ratios - alpha_max,
                                            bases)
            touched |= more
        for j in touched:
            ws.update_face(j)
    return True


def _ratio_test(ws: WorkingSet, p: Products, dZ, MD, was_cauchy):
    """The step to each cone row the direction falls towards: ``ratios`` ``(m, n)`` (``inf`` where none), the
    longest step ``min(1, least ratio)``, whether a row blocks the full step, and the flat index of that row."""
    AZ, AD = p.MZ * p.Sk, MD * p.Sk
    dn = group_norms(dZ, axis=-1)
    cand = ~ws.act.T & (AD < -(GRAZE_AFTER_CAUCHY if was_cauchy else GRAZE) * ws.row_norm[:, None] * dn[None])
    ratios = np.full(AZ.shape, np.inf)
    ratios[cand] = np.maximum(AZ[cand], 0.0) / -AD[cand]
    flat = int(np.argmin(ratios))
    return ratios, min(1.0, float(ratios.flat[flat])), float(ratios.flat[flat]) <= 1.0, flat


def _line_search(ws: WorkingSet, r, Bd, dZ, obj0, decrement, alpha_max, blocked, tiny):
    """Armijo backtracking from ``alpha_max``: ``(α, objective, short)``, objective None when no step is accepted.

    Also accepted: in the quadratic regime (``tiny``) any step that raises the objective only by round-off; at the
    first trial of a blocked step, a short step to the blocking row that does so (``short``)."""
    beta, scale = ws.beta, max(1.0, abs(obj0))
    sufficient = armijo(obj0, -decrement, ARMIJO_C)

    def value(alpha):
        rn = r - alpha * Bd
        return 0.5 * float(rn @ rn) + beta * float(np.linalg.norm(ws.Z + alpha * dZ, axis=1).sum())

    def regular(alpha, obj):
        return sufficient(alpha, obj) or (tiny and obj <= obj0 + TINY_SLACK * scale)

    def accept(alpha, obj):
        return regular(alpha, obj) or (blocked and alpha == alpha_max and obj <= obj0 + SHORT_SLACK * scale)

    alpha, obj = backtrack(value, alpha_max, accept, min_step=MIN_STEP)
    return alpha, obj, obj is not None and not regular(alpha, obj)


def to_zero(B, r, penalty):
    """The group best removed, if any: along the ray ``t z_j``, ``t ∈ [0, 1]`` (feasible: the cones are cones), the
    objective ``½‖r + (1 − t) b_j‖² + t β‖z_j‖`` (``b_j = B_j z_j``, the column ``j`` of ``B``) is a convex
    quadratic minimised at ``t* = 1 + (rᵀb_j − β‖z_j‖)/‖b_j‖²``; a group with ``t* ≤ 0`` lowers the objective by
    leaving. Newton steps cannot reach zero, where the group norm bends: without this a shrinking group oscillates
    near it and the damping it triggers slows every other group. Returns the group with the least ``t*``, or None."""
    bb = np.einsum("mn,mn->n", B, B)
    if not bb.size:
        return None
    t = 1.0 + (r @ B - penalty) / np.maximum(bb, TINY)
    j = int(np.argmin(t))
    return j if t[j] <= 0.0 else None


def leave_face(ws: WorkingSet, r):
    """Leave the faces whose tight rows have a negative multiplier: ``{group id: its new direction}``.

    A group whose least-squares multipliers are all ``≥ 0`` is stationary (KKT). Otherwise its multipliers are
    refitted by NNLS, ``μ = argmin_{μ ≥ 0} ‖A_0ᵀ μ − ∇_g f‖`` over every row at zero (exact on degenerate faces,
    where the least-squares split between dependent rows is arbitrary); ``h = A_0ᵀ μ − ∇_g f`` is the projection of
    ``−∇_g f`` onto the tangent cone ``{h : A_0 h ≥ 0}``, and the rows with ``μ > 0`` become the group's tight set.
    That direction is blocked by no row at zero, so every face change lowers the objective and the faces cannot
    cycle. Returns None when no group moves.
    """
    moves, thr = {}, NEGATIVE_MULTIPLIER * max(1.0, ws.beta)
    for j in range(ws.n):
        rows, mu, grad = ws.multipliers(j, r)
        if not mu.size or mu.min() >= -thr:
            continue
        zero, mu0, h = ws.nonneg_multipliers(j, rows, grad)
        if math.sqrt(float(h @ h)) <= thr:  # stationary after all (a degenerate face): keep its rows
            continue
        ws.act[j] = False
        ws.act[j, zero[mu0 > 0]] = True
        ws.update_face(j)
        moves[ws.ids[j]] = h
    return moves or None
