"""Exact feasibility repair, the active-set Newton polish of the support, and the multiplier re-fit of :mod:`.admm`."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import scipy.linalg as sla

from ..core.report import engine_certificate_kind
from ..relu import certificate as _cert
from ._groups import to_VW

_REPAIR_MARGIN = 1e-12
_POLISH_PRUNE = (0.0, 1e-3)  # relative group-norm thresholds of the polish attempts
_NNLS_MAX_GROUPS = 64  # groups whose multipliers are re-fitted per certificate
_NNLS_MAX_D = 256  # no multiplier re-fit above this d (the NNLS cost grows like d³)
_POLISH_ADD = 4  # violated rows added per group and active-set round
_POLISH_MIN_WORK = 2e8  # multiply-adds a certificate check's polish may always spend (see :class:`PolishBudget`)
_POLISH_MAX_UNKNOWNS = 600  # unknowns n·d of one output's dense Newton system


# --------------------------------------------------------------------------- exact feasibility
def _interior_direction(ops, M64, k, nonzero_rows):
    """A direction ``h`` with ``(2D_k − I) M h > 0`` on every non-zero row, or None (cached per pattern)."""
    if k in ops.interior:
        return ops.interior[k]
    sgn = 2.0 * ops.D[:, k].astype(np.float64) - 1.0
    Mz = M64[nonzero_rows]
    sz = sgn[nonzero_rows]
    h = np.linalg.lstsq(Mz, sz, rcond=None)[0]  # least-squares classifier of the ±1 labels
    margin = sz * (Mz @ h)
    row_norm = np.sqrt(np.einsum("md,md->m", Mz, Mz))
    for _ in range(50):  # perceptron passes on the rows with too small a margin
        bad = margin <= 1e-9 * row_norm * max(float(np.linalg.norm(h)), 1e-300)
        if not bad.any():
            break
        h = h + (sz[bad] / np.maximum(row_norm[bad], 1e-300) ** 2) @ Mz[bad] * (0.5 + float(np.mean(np.abs(margin))))
        margin = sz * (Mz @ h)
    else:
        h = _interior_lp(Mz, sz)
    if h is not None:
        margin = sz * (Mz @ h)
        if not np.all(margin > 1e-9 * row_norm * float(np.linalg.norm(h))):
            h = None
    ops.interior[k] = h
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


def _project_into_cone(M64, sgn, z, nonzero_rows, row_norm, rounds=6):
    """Move ``z`` into ``{(2D − I) M z ≥ margin}`` by corrections ``z ← z + M_Aᵀ S_A η`` on the short rows ``A``.

    Each round makes the rows of the working set ``A`` (every row found short so far)
    hold with equality at twice the round-off margin (least-squares ``η``), the
    minimum-norm correction that does so. Returns the new ``z``, or None when it does
    not settle in ``rounds`` or the short rows are as many as ``d``.
    """
    A = np.zeros(M64.shape[0], dtype=bool)
    for _ in range(rounds):
        g = sgn * (M64 @ z)
        margin = _REPAIR_MARGIN * row_norm * max(float(np.linalg.norm(z)), 1e-300)
        short = (g < margin) & nonzero_rows
        if not short.any():
            return z
        A |= short
        if A.sum() >= M64.shape[1]:  # as many rows as unknowns: no room for a small correction
            return None
        MA = sgn[A, None] * M64[A]  # (|A|, d)
        try:
            eta = np.linalg.solve(MA @ MA.T, 2.0 * margin[A] - MA @ z)
        except np.linalg.LinAlgError:
            eta = np.linalg.lstsq(MA @ MA.T, 2.0 * margin[A] - MA @ z, rcond=None)[0]
        z = z + MA.T @ eta
    return None


def _repair(ops, M64, Xz, deadline=None):
    """Move every non-zero group of ``Xz`` ``(d, 2, P, q)`` into its cone; returns float64 ``V, W`` and #dropped.

    First the minimum-norm correction on the violated rows (:func:`_project_into_cone`);
    if that does not settle, a step along an interior direction of the cone; a group
    whose cone has none, or any group still to do once the clock passes ``deadline``,
    is set to zero (counted in the second return value): zero is always feasible.
    """
    V, W = to_VW(Xz)
    nonzero_rows = np.any(M64 != 0, axis=1)
    row_norm = np.sqrt(np.einsum("md,md->m", M64, M64))
    dropped = 0
    for Z in (V, W):
        norms = np.linalg.norm(Z, axis=1)  # (P, q)
        for k, c in zip(*np.nonzero(norms > 0)):
            sgn = 2.0 * ops.D[:, k].astype(np.float64) - 1.0
            z = Z[k, :, c]
            late = deadline is not None and time.perf_counter() > deadline
            fixed = None if late else _project_into_cone(M64, sgn, z, nonzero_rows, row_norm)
            if fixed is None and not late:
                h = _interior_direction(ops, M64, int(k), nonzero_rows)
                if h is not None:
                    g = sgn * (M64 @ z)
                    margin = _REPAIR_MARGIN * row_norm * float(np.linalg.norm(z))
                    gh = np.where(nonzero_rows, sgn * (M64 @ h), 1.0)
                    need = np.where(nonzero_rows & (g < margin), (2.0 * margin - g) / gh, 0.0)
                    fixed = z + h * float(need.max())
            if fixed is None:
                fixed = np.zeros_like(z)
                dropped += 1
            Z[k, :, c] = fixed
    return V, W, dropped


class PolishBudget:
    """Work a polish may spend, counted in multiply-adds (never in seconds: the answer must not depend on the clock).

    ``charge(n)`` subtracts ``n`` and says whether the budget still holds. The ADMM engine gives a
    check's polish the work of the iterations so far (two multiply-adds per entry of each GEMM
    ``m × d × 2P × q``) less twice what earlier polishes spent, and at least :data:`_POLISH_MIN_WORK`.
    """

    def __init__(self, work):
        self.left = float(work)
        self.spent = 0.0

    def charge(self, work):
        self.left -= work
        self.spent += work
        return self.left >= 0.0


def _newton_polish(M64, Y64, patterns, beta, Xz, mu, rounds=24, steps=10, deadline=None, budget=None):
    r"""Polish the group-sparse ADMM iterate on its support by an active-set Newton method.

    Per output ``c``, with the non-zero groups ``z_j`` (sign ``s_j``, pattern ``k_j``) of ``Xz``
    and the rows ``A_j`` where ADMM's multiplier is positive, Newton steps on the
    equality-constrained problem

    .. math::

        \min_z \tfrac12\|\sum_j s_j D_{k_j} M z_j - y_c\|^2 + \beta \sum_j \|z_j\|
        \quad\text{s.t. } (2D_{k_j} - I)_{A_j} M_{A_j} z_j = 0,

    then rows with a negative multiplier leave ``A_j`` and violated rows join it, until
    neither happens; a group whose rows have not settled after ``rounds`` leaves the support (the
    one that violates its cone most), and so does a group that collapses to zero. Returns ``(Xp, mu_p)`` (polished groups and multipliers, same layouts
    as ``Xz`` ``(d, 2, P, q)`` and ``mu`` ``(m, 2, P, q)``), or None when the support is too
    large for the dense ``(n d) × (n d)`` Newton system (more than :data:`_POLISH_MAX_UNKNOWNS`)
    when the work counted in ``budget`` (a :class:`PolishBudget`: one ``m × (n d)²`` Gram product
    per attempt, one ``(n d + r)³/3`` factorisation per Newton step) runs out, or when the clock
    passes ``deadline`` (the caller's ``time_limit_s``, in ``time.perf_counter()`` seconds).
    """
    m, d = M64.shape
    _, _, P, q = Xz.shape
    Xp = np.zeros(Xz.shape)
    mu_p = np.zeros(mu.shape)
    D = patterns.astype(np.float64)
    for c in range(q):
        groups = [(sg, k) for sg in range(2) for k in range(P) if np.any(Xz[:, sg, k, c] != 0)]

        def attempt(groups, c=c):
            n = len(groups)
            if n * d > _POLISH_MAX_UNKNOWNS:
                return None
            sig = np.array([1.0 if sg == 0 else -1.0 for sg, _ in groups])
            if budget is not None and not budget.charge(float(m) * (n * d) ** 2):
                return None
            B = np.hstack([sig[j] * D[:, [k]] * M64 for j, (sg, k) in enumerate(groups)])  # (m, n d)
            BtB, Bty = B.T @ B, B.T @ Y64[:, c]
            z = np.concatenate([Xz[:, sg, k, c] for sg, k in groups]).astype(np.float64)
            sgn = [2.0 * D[:, k] - 1.0 for _, k in groups]
            row_norm = np.sqrt(np.einsum("md,md->m", M64, M64))
            act = []
            for j, (sg, k) in enumerate(groups):  # near-tight rows with a positive multiplier, at most d − 1
                zj = z[j * d:(j + 1) * d]
                g = sgn[j] * (M64 @ zj)
                cand = np.nonzero((mu[:, sg, k, c] > 0) & (g <= 1e-3 * row_norm * float(np.linalg.norm(zj))))[0]
                cand = cand[np.argsort(-mu[cand, sg, k, c], kind="stable")[: d - 1]]
                a = np.zeros(m, dtype=bool)
                a[cand] = True
                act.append(a)
            lam_rows = None

            y2 = float(Y64[:, c] @ Y64[:, c])

            def merit(x, C):  # ½‖Bx − y‖² from BᵀB (O((nd)²), not O(m nd)), + β Σ‖x_j‖ + a penalty on C x
                nr = np.linalg.norm(x.reshape(n, d), axis=1).sum()
                pen = np.abs(C @ x).sum() * 1e3 * max(beta, 1.0)
                return 0.5 * float(x @ (BtB @ x)) - float(Bty @ x) + 0.5 * y2 + beta * float(nr) + float(pen)

            for _ in range(rounds):
                if deadline is not None and time.perf_counter() > deadline:
                    return None
                C_blocks = [sgn[j][act[j], None] * M64[act[j]] for j in range(n)]
                C = sla.block_diag(*C_blocks) if n > 1 else C_blocks[0]
                C = C.reshape(-1, n * d)
                for _ in range(steps):
                    if deadline is not None and time.perf_counter() > deadline:
                        return None
                    zg = z.reshape(n, d)
                    nrm = np.maximum(np.linalg.norm(zg, axis=1), 1e-300)
                    grad = BtB @ z - Bty + beta * (zg / nrm[:, None]).ravel()
                    Hn = BtB.copy()
                    for j in range(n):
                        u = zg[j] / nrm[j]
                        sl = slice(j * d, (j + 1) * d)
                        Hn[sl, sl] += (beta / nrm[j]) * (np.eye(d) - np.outer(u, u))
                    r = C.shape[0]
                    if budget is not None and not budget.charge((n * d + r) ** 3 / 3.0):
                        return None
                    K = np.block([[Hn, C.T], [C, np.zeros((r, r))]])
                    rhs = np.concatenate([-grad, -(C @ z)])
                    try:
                        sol = np.linalg.solve(K, rhs)
                    except np.linalg.LinAlgError:
                        sol = np.linalg.lstsq(K, rhs, rcond=None)[0]
                    if not np.all(np.isfinite(sol)):
                        return None
                    dz, lam_rows = sol[: n * d], -sol[n * d:]
                    f0 = merit(z, C)
                    tau = 1.0
                    while tau > 1e-3 and not merit(z + tau * dz, C) <= f0 + 1e-12 * abs(f0):
                        tau *= 0.5
                    z = z + tau * dz
                    if np.linalg.norm(z.reshape(n, d), axis=1).min() <= 1e-8 * float(np.linalg.norm(z)):
                        return ("drop", int(np.argmin(np.linalg.norm(z.reshape(n, d), axis=1))))
                    if float(np.linalg.norm(tau * dz)) <= 1e-13 * max(float(np.linalg.norm(z)), 1e-300):
                        break
                # active-set update: drop negative multipliers, add violated rows
                changed = False
                pos = 0
                zg = z.reshape(n, d)
                worst = np.zeros(n)  # each group's largest relative violation
                for j in range(n):
                    idx = np.nonzero(act[j])[0]
                    lj = lam_rows[pos:pos + idx.size]
                    pos += idx.size
                    neg = idx[lj < 0]
                    if neg.size:
                        act[j][neg] = False
                        changed = True
                    g = sgn[j] * (M64 @ zg[j])
                    viol = np.nonzero((g < -1e-12 * float(np.linalg.norm(zg[j])) * row_norm) & ~act[j])[0]
                    if viol.size:  # the most violated few rows join (at most d/2 a round)
                        n_add = max(1, min(_POLISH_ADD, d // 2))
                        act[j][viol[np.argsort(g[viol] / row_norm[viol], kind="stable")[:n_add]]] = True
                        changed = True
                        worst[j] = float(np.max(-g[viol] / row_norm[viol])) / float(np.linalg.norm(zg[j]))
                if not changed:
                    break
            else:  # the rows did not settle: polish again without the group that violates its cone most
                if worst.max() > 0:
                    return ("drop", int(np.argmax(worst)))
            return ("ok", z, act, lam_rows)

        while groups:
            out = attempt(groups)
            if out is None:
                return None
            if out[0] == "drop":  # a group left the support: polish without it
                groups = groups[: out[1]] + groups[out[1] + 1:]
                continue
            break
        if not groups:
            continue
        _, z, act, lam_rows = out
        n = len(groups)
        zg = z.reshape(n, d)
        pos = 0
        for j, (sg, k) in enumerate(groups):
            Xp[:, sg, k, c] = zg[j]
            idx = np.nonzero(act[j])[0]
            if lam_rows is not None and lam_rows.size >= pos + idx.size:
                mu_p[idx, sg, k, c] = np.maximum(lam_rows[pos:pos + idx.size], 0.0)
            pos += idx.size
    return Xp, mu_p


def _polish_multipliers(M64, patterns, beta, lam, mu_pos, mu_neg, V, W, max_rows):
    """Lower ``ρ_{k,c,s} > β`` by re-fitting that group's ``μ ≥ 0`` with NNLS on a few rows (in place).

    For such a group, ``μ`` is restricted to the rows where the primal group's
    constraint is tight (or where ``μ`` was largest, at most ``max_rows``; for a zero group
    also, separately, the rows most violated by the ascent direction ``Mᵀ(s D_k λ_c)``) and
    ``min_{η ≥ 0} ‖Mᵀ(s D_k λ_c) + M_Cᵀ S_C η‖`` is solved by NNLS; the new ``μ`` is kept
    when it lowers ``ρ``. Any ``μ ≥ 0`` keeps the bound valid; this only tightens it.
    """
    from scipy.optimize import nnls

    if M64.shape[1] > _NNLS_MAX_D:
        return
    rho_v, rho_w = _cert.dual_constraint_values(M64, patterns, lam, mu_pos, mu_neg)
    row_norm = np.sqrt(np.einsum("md,md->m", M64, M64))
    for rho_s, mu, Z, s in ((rho_v, mu_pos, V, 1.0), (rho_w, mu_neg, W, -1.0)):
        worst = np.argsort(-rho_s, axis=None)[:_NNLS_MAX_GROUPS]  # the largest ρ first
        for k, c in zip(*np.unravel_index(worst, rho_s.shape)):
            if rho_s[k, c] <= beta:
                break
            dk = patterns[:, k].astype(np.float64)
            sgn = 2.0 * dk - 1.0
            zg = Z[k, :, c]
            zn = float(np.linalg.norm(zg))
            b = -(M64.T @ (s * dk * lam[:, c]))
            tight = sgn * (M64 @ zg) <= 1e-6 * row_norm * zn if zn > 0 else np.zeros(M64.shape[0], dtype=bool)
            sets = [_top(np.nonzero(tight | (mu[k, :, c] > 0))[0], mu[k, :, c] + np.where(tight, np.inf, 0.0),
                         max_rows)]
            if zn == 0:  # also the rows that the ascent direction −b violates (its cone projection)
                viol = sgn * (M64 @ b) / row_norm
                sets.append(_top(np.nonzero(viol > 0)[0], viol, max_rows))
            best_res = rho_s[k, c]
            for cand in sets:
                if cand.size == 0:
                    continue
                A = (sgn[cand, None] * M64[cand]).T  # (d, |C|)
                eta, res = nnls(A, b, maxiter=10 * cand.size)
                if res < best_res:
                    best_res = res
                    mu[k, :, c] = 0.0
                    mu[k, cand, c] = eta


def _top(idx, score, n):
    """The at most ``n`` indices of ``idx`` with the largest ``score`` (stable)."""
    return idx if idx.size <= n else idx[np.argsort(-score[idx], kind="stable")[:n]]





def exact_point(M64, Y64, patterns, beta, V, W):
    """``V, W`` moved exactly into their cones (:func:`_repair`, where any row is violated), their float64
    objective, and the zero network instead when that is lower; returns ``V, W, objective, dropped``."""
    dropped = 0
    if _cert.constraint_violation(M64, patterns, V, W) > 0:
        X = np.stack([V.transpose(1, 0, 2), W.transpose(1, 0, 2)], axis=1)
        V, W, dropped = _repair(SimpleNamespace(D=patterns, interior={}), M64, X)
    obj = _cert.convex_objective(M64, Y64, patterns, V, W, beta)
    zero = 0.5 * float(np.sum(Y64 * Y64))  # the zero network is exactly feasible too
    if zero < obj:
        V, W, obj = np.zeros_like(V), np.zeros_like(W), zero
    return V, W, obj, dropped


def _lift(red, M64, Y64, patterns, beta, Vr, Wr, rep, dual, tol, t_start):
    """Map a solve on ``M Q`` back (``V = Q Ṽ``) and re-certify it on ``M`` itself (float64).

    The point is re-checked for exact feasibility on ``M`` (groups that round-off pushed
    out of their cone are repaired), its objective recomputed, and the bound recomputed
    by ``dual_bound`` on ``M`` from the same ``(λ, μ)``: the report judges the original program.
    """
    import dataclasses

    Q = red[0]
    V, W = np.einsum("dr,prq->pdq", Q, Vr), np.einsum("dr,prq->pdq", Q, Wr)
    V, W, obj, _ = exact_point(M64, Y64, patterns, beta, V, W)
    bound = -np.inf if dual is None else _cert.dual_bound(M64, Y64, patterns, beta, dual[0], mu_pos=dual[1],
                                                          mu_neg=dual[2])[0]
    gap_abs, gap_rel = rep.gaps(obj, float(bound))
    status = "optimal" if gap_rel is not None and gap_rel <= tol else (
        rep.status if rep.status != "optimal" else "max_iter")
    extra = {**rep.extra, "row_space_rank": Q.shape[1]}
    viol = float(_cert.constraint_violation(M64, patterns, V, W))
    return V, W, dataclasses.replace(
        rep, status=status, objective=float(obj), bound=float(bound), gap_abs=gap_abs, gap_rel=gap_rel,
        residual=viol, solve_time_s=time.perf_counter() - t_start,
        certificate=engine_certificate_kind(gap_rel, viol, tol), extra=extra)
