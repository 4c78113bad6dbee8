r"""What the ADMM engine does with an iterate at a certificate check: polish its support, re-fit its multipliers,
and lift a solve on ``M Q`` back to ``M``.

**Support polish** (:func:`newton_polish`). ADMM identifies the active groups early and converges slowly. Per
output ``c``, with the non-zero groups ``z_j`` (sign ``s_j``, pattern ``k_j``) and the rows ``A_j`` where ADMM's
multiplier is positive, Newton steps on the equality-constrained problem

.. math::

    \min_z \tfrac12\|\sum_j s_j D_{k_j} M z_j - y_c\|^2 + \beta \sum_j \|z_j\|
    \quad\text{s.t. } (2D_{k_j} - I)_{A_j} M_{A_j} z_j = 0,

then rows with a negative multiplier leave ``A_j`` and violated rows join it, until neither happens; a group
whose rows have not settled after the rounds leaves the support (the one that violates its cone most), and so
does a group that collapses to zero. Its work is counted in multiply-adds (:class:`PolishBudget`), never time.

**Multiplier re-fit** (:func:`refit_multipliers`): the groups with ``ρ > β`` get their ``μ ≥ 0`` by NNLS on a
few rows. Multipliers are ``(2, P, m, q)`` (:mod:`cvximplicit.solvers.engines.groups`).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np
import scipy.linalg as sla

from ...relu.certificate import constraint_violation, dual_bound, dual_constraint_values
from ..cones import ROW_VIOLATED, nnls_multipliers, tight_rows, violated_rows
from ..feasibility import exact_point
from ..groups import SIGNS, add_norm_curvature, block_pairs
from ..iterations import TINY, backtrack
from ..judge import final_report, judge

__all__ = ["MIN_WORK", "PRUNE", "PolishBudget", "lift", "newton_polish", "refit_multipliers"]

PRUNE = (0.0, 1e-3)  # a check's polish attempts: the support, then without groups below 1e-3 of the largest
MIN_WORK = 2e8  # multiply-adds a check's polish may always spend (PolishBudget)
MAX_UNKNOWNS = 600  # unknowns n·d of one output's dense Newton system at most
ROWS_ADDED = 4  # violated rows joining a group per round (at most d/2)
NEAR_TIGHT = 1e-3  # rows with ADMM's μ > 0 within this of tight start in a group's set
MERIT_PENALTY = 1e3  # weight of |C z| in the merit, per max(β, 1): the constraints come first
MERIT_SLACK = 1e-12  # the merit may rise by round-off and the step still count
MIN_TAU = 1e-3  # the merit's shortest step (then taken anyway: the next step corrects it)
COLLAPSED = 1e-8  # a group below this fraction of the point has collapsed: it leaves the support
STEP_TOL = 1e-13  # a Newton step below this fraction of the point has converged
REFIT_MAX_GROUPS = 64  # groups whose multipliers are re-fitted per certificate, the worst first
REFIT_MAX_D = 256  # no multiplier re-fit above this d (the NNLS cost grows like d³)
REFIT_TIGHT = 1e-6  # a row of a non-zero group within this of tight joins its re-fit
REFIT_NNLS_ITERS = 10  # NNLS iterations per row of a re-fit


class PolishBudget:
    """Work a polish may spend, counted in multiply-adds (never in seconds: the answer must not depend on the clock).

    ``charge(n)`` subtracts ``n`` and says whether the budget still holds. The ADMM engine gives a
    check's polish the work of the iterations so far (two multiply-adds per entry of each GEMM
    ``m × d × 2P × q``) less twice what earlier polishes spent, and at least :data:`MIN_WORK`.
    """

    def __init__(self, work):
        self.left = float(work)
        self.spent = 0.0

    def charge(self, work):
        self.left -= work
        self.spent += work
        return self.left >= 0.0


class _Polished(NamedTuple):
    """One output's polished support: the point ``z`` ``(n d,)``, the tight rows ``act`` and their multipliers."""

    z: np.ndarray
    act: list
    lam_rows: np.ndarray | None


def newton_polish(M64, Y64, patterns, beta, Xz, mu, rounds=24, steps=10, deadline=None, budget=None):
    """Polish the group-sparse iterate ``Xz`` ``(d, 2, P, q)`` on its support (see the module docstring).

    ``mu`` ``(2, P, m, q)`` are ADMM's multipliers. Returns ``(Xp, mu_p)`` in the same layouts, or None when the
    support is too large for the dense ``(n d) × (n d)`` Newton system (more than :data:`MAX_UNKNOWNS`), when the
    work counted in ``budget`` (one ``m × (n d)²`` Gram product per attempt, one ``(n d + r)³/3`` factorisation per
    Newton step) runs out, or when the clock passes ``deadline`` (the caller's ``time_limit_s``).
    """
    m, d = M64.shape
    _, _, P, q = Xz.shape
    Xp = np.zeros(Xz.shape)
    mu_p = np.zeros(mu.shape)
    row_norm = np.sqrt(np.einsum("md,md->m", M64, M64))
    D = patterns.astype(np.float64)
    for c in range(q):
        groups = [(sg, k) for sg in range(2) for k in range(P) if np.any(Xz[:, sg, k, c] != 0)]
        out = None
        while groups:
            support = _Support(M64, D, Y64[:, c], beta, row_norm, Xz, mu, c, groups)
            out = support.polish(rounds, steps, deadline, budget)
            if out is None:
                return None
            if isinstance(out, int):  # a group left the support: polish without it
                groups = groups[:out] + groups[out + 1:]
                continue
            break
        if not groups:
            continue
        zg = out.z.reshape(len(groups), d)
        pos = 0
        for j, (sg, k) in enumerate(groups):
            Xp[:, sg, k, c] = zg[j]
            idx = np.nonzero(out.act[j])[0]
            if out.lam_rows is not None and out.lam_rows.size >= pos + idx.size:
                mu_p[sg, k, idx, c] = np.maximum(out.lam_rows[pos:pos + idx.size], 0.0)
            pos += idx.size
    return Xp, mu_p


class _Support:
    """One output's support under polish: the groups' Gram form, their tight rows, the KKT Newton steps."""

    def __init__(self, M64, D, y, beta, row_norm, Xz, mu, c, groups):
        self.M, self.D, self.y, self.beta, self.row_norm = M64, D, y, beta, row_norm
        self.Xz, self.mu, self.c, self.groups = Xz, mu, c, groups
        self.n, self.d = len(groups), M64.shape[1]

    def polish(self, rounds, steps, deadline, budget):
        """Rounds of Newton steps and row updates: a :class:`_Polished`, the index of a group to drop, or None."""
        M, D, n, d, c, mu = self.M, self.D, self.n, self.d, self.c, self.mu
        if n * d > MAX_UNKNOWNS:
            return None
        if budget is not None and not budget.charge(float(M.shape[0]) * (n * d) ** 2):
            return None
        B = np.hstack([SIGNS[sg] * D[:, [k]] * M for sg, k in self.groups])  # (m, n d)
        self.BtB, self.Bty, self.y2 = B.T @ B, B.T @ self.y, float(self.y @ self.y)
        self.z = np.concatenate([self.Xz[:, sg, k, c] for sg, k in self.groups]).astype(np.float64)
        self.sgn = [2.0 * D[:, k] - 1.0 for _, k in self.groups]
        self.act = []
        for j, (sg, k) in enumerate(self.groups):  # near-tight rows with a positive multiplier, at most d − 1
            zj = self.z[j * d:(j + 1) * d]
            g = self.sgn[j] * (M @ zj)
            cand = np.nonzero((mu[sg, k, :, c] > 0) & tight_rows(g, self.row_norm, float(np.linalg.norm(zj)),
                                                                   NEAR_TIGHT))[0]
            cand = cand[np.argsort(-mu[sg, k, cand, c], kind="stable")[: d - 1]]
            a = np.zeros(M.shape[0], dtype=bool)
            a[cand] = True
            self.act.append(a)
        lam_rows, worst = None, np.zeros(n)
        for _ in range(rounds):
            if deadline is not None and time.perf_counter() > deadline:
                return None
            out = self._newton(self._constraints(), steps, deadline, budget)
            if out is None or isinstance(out, int):
                return out
            lam_rows = out
            changed, worst = self._update_rows(lam_rows)
            if not changed:
                return _Polished(self.z, self.act, lam_rows)
        if worst.max() > 0:  # the rows did not settle: polish again without the group that violates its cone most
            return int(np.argmax(worst))
        return _Polished(self.z, self.act, lam_rows)

    def _constraints(self):
        """The tight rows of every group as one block-diagonal matrix ``C`` ``(r, n d)``."""
        blocks = [self.sgn[j][self.act[j], None] * self.M[self.act[j]] for j in range(self.n)]
        C = sla.block_diag(*blocks) if self.n > 1 else blocks[0]
        return C.reshape(-1, self.n * self.d)

    def _merit(self, x, C) -> float:
        """``½‖Bx − y‖²`` from ``BᵀB`` (``O((nd)²)``, not ``O(m nd)``), ``+ β Σ‖x_j‖`` and a penalty on ``C x``."""
        nr = np.linalg.norm(x.reshape(self.n, self.d), axis=1).sum()
        pen = np.abs(C @ x).sum() * MERIT_PENALTY * max(self.beta, 1.0)
        quad = 0.5 * float(x @ (self.BtB @ x)) - float(self.Bty @ x) + 0.5 * self.y2
        return quad + self.beta * float(nr) + float(pen)

    def _newton(self, C, steps, deadline, budget):
        """KKT Newton steps with the rows ``C`` held: their multipliers, the index of a collapsed group, or None."""
        n, d, beta = self.n, self.d, self.beta
        pairs, lam_rows = block_pairs(np.arange(0, n * d + 1, d)), None
        for _ in range(steps):
            if deadline is not None and time.perf_counter() > deadline:
                return None
            z = self.z
            zg = z.reshape(n, d)
            nrm = np.maximum(np.linalg.norm(zg, axis=1), TINY)
            u = (zg / nrm[:, None]).ravel()
            grad = self.BtB @ z - self.Bty + beta * u
            Hn = self.BtB.copy()
            add_norm_curvature(Hn, pairs, u, beta / nrm)
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
            f0 = self._merit(z, C)
            tau, _ = backtrack(lambda t: self._merit(z + t * dz, C), 1.0,
                               lambda t, f: f <= f0 + MERIT_SLACK * abs(f0), min_step=MIN_TAU)
            self.z = z = z + tau * dz
            norms = np.linalg.norm(z.reshape(n, d), axis=1)
            if norms.min() <= COLLAPSED * float(np.linalg.norm(z)):
                return int(np.argmin(norms))
            if float(np.linalg.norm(tau * dz)) <= STEP_TOL * max(float(np.linalg.norm(z)), TINY):
                break
        return lam_rows

    def _update_rows(self, lam_rows):
        """Rows with a negative multiplier leave, the most violated few join: whether any did, and each group's
        largest relative violation."""
        M, row_norm, d = self.M, self.row_norm, self.d
        changed, pos = False, 0
        zg = self.z.reshape(self.n, d)
        worst = np.zeros(self.n)
        for j in range(self.n):
            act = self.act[j]
            idx = np.nonzero(act)[0]
            neg = idx[lam_rows[pos:pos + idx.size] < 0]
            pos += idx.size
            if neg.size:
                act[neg] = False
                changed = True
            g = self.sgn[j] * (M @ zg[j])
            size = float(np.linalg.norm(zg[j]))
            viol = np.nonzero(violated_rows(g, row_norm, size, ROW_VIOLATED) & ~act)[0]
            if viol.size:  # the most violated few rows join (at most d/2 a round)
                n_add = max(1, min(ROWS_ADDED, d // 2))
                act[viol[np.argsort(g[viol] / row_norm[viol], kind="stable")[:n_add]]] = True
                changed = True
                worst[j] = float(np.max(-g[viol] / row_norm[viol])) / size
        return changed, worst


def refit_multipliers(M64, patterns, beta, lam, mu, V, W, max_rows):
    """Lower ``ρ_{k,c,s} > β`` by re-fitting that group's ``μ ≥ 0`` with NNLS on a few rows (``mu`` in place).

    For such a group, ``μ`` is restricted to the rows where the primal group's
    constraint is tight (or where ``μ`` was largest, at most ``max_rows``; for a zero group
    also, separately, the rows most violated by the ascent direction ``Mᵀ(s D_k λ_c)``) and
    ``min_{η ≥ 0} ‖Mᵀ(s D_k λ_c) + M_Cᵀ S_C η‖`` is solved by NNLS; the new ``μ`` is kept
    when it lowers ``ρ``. Any ``μ ≥ 0`` keeps the bound valid; this only tightens it.
    """
    if M64.shape[1] > REFIT_MAX_D:
        return
    rho = dual_constraint_values(M64, patterns, lam, mu[0], mu[1])
    row_norm = np.sqrt(np.einsum("md,md->m", M64, M64))
    for si, Z in enumerate((V, W)):
        worst = np.argsort(-rho[si], axis=None)[:REFIT_MAX_GROUPS]  # the largest ρ first
        for k, c in zip(*np.unravel_index(worst, rho[si].shape)):
            if rho[si][k, c] <= beta:
                break
            _refit_group(M64, patterns[:, k], lam[:, c], mu[si, k, :, c], Z[k, :, c], SIGNS[si], rho[si][k, c],
                         row_norm, max_rows)


def _refit_group(M64, pattern, lam_c, mu_g, z, s, rho, row_norm, max_rows):
    """:func:`refit_multipliers` of one group (``mu_g`` ``(m,)``, a view, in place)."""
    dk = pattern.astype(np.float64)
    sgn = 2.0 * dk - 1.0
    zn = float(np.linalg.norm(z))
    a = M64.T @ (s * dk * lam_c)  # the ascent direction; NNLS on −a
    tight = tight_rows(sgn * (M64 @ z), row_norm, zn, REFIT_TIGHT) if zn > 0 else np.zeros(M64.shape[0], bool)
    sets = [_top(np.nonzero(tight | (mu_g > 0))[0], mu_g + np.where(tight, np.inf, 0.0), max_rows)]
    if zn == 0:  # also the rows that the ascent direction violates (its cone projection)
        viol = sgn * (M64 @ -a) / row_norm
        sets.append(_top(np.nonzero(viol > 0)[0], viol, max_rows))
    best_res = rho
    for cand in sets:
        if cand.size == 0:
            continue
        eta, _, res = nnls_multipliers(sgn[cand, None] * M64[cand], a, REFIT_NNLS_ITERS * cand.size)
        if res < best_res:
            best_res = res
            mu_g[:] = 0.0
            mu_g[cand] = eta


def _top(idx, score, n):
    """The at most ``n`` indices of ``idx`` with the largest ``score`` (stable)."""
    return idx if idx.size <= n else idx[np.argsort(-score[idx], kind="stable")[:n]]


def lift(red, M64, Y64, patterns, beta, Vr, Wr, rep, dual, tol, t_start):
    """Map a solve on ``M Q`` back (``V = Q Ṽ``) and re-certify it on ``M`` itself (float64).

    The point is re-checked for exact feasibility on ``M`` (groups that round-off pushed
    out of their cone are repaired), its objective recomputed, and the bound recomputed
    by ``dual_bound`` on ``M`` from the same ``(λ, μ)``: the report judges the original program.
    """
    Q = red[0]
    V, W = np.einsum("dr,prq->pdq", Q, Vr), np.einsum("dr,prq->pdq", Q, Wr)
    V, W, obj, _ = exact_point(M64, Y64, patterns, beta, V, W)
    bound = -np.inf if dual is None else dual_bound(M64, Y64, patterns, beta, dual[0], mu_pos=dual[1][0],
                                                    mu_neg=dual[1][1])[0]
    viol = float(constraint_violation(M64, patterns, V, W))
    extra = {**rep.extra, "row_space_rank": Q.shape[1]}
    return V, W, final_report("ADMM", judge(obj, float(bound), viol, tol, rep.status), objective=obj, bound=bound,
                              violation=viol, iterations=rep.iterations, t_start=t_start,
                              compile_time_s=rep.compile_time_s, extra=extra)
