r"""The gated-ReLU program's solver: working sets of groups, and on each set a group lasso in Gram form.

One output ``y`` ``(m,)`` at a time (the program separates over outputs), with ``D`` the ``(m, P)`` gates as
numbers. :func:`solve_output` runs the working-set rounds (celer's and skglm's scheme): start from the groups
with the largest scores ``‖Mᵀ D_k r‖``; solve the set; check the dual bound over every gate; add the groups that
violate ``‖Mᵀ D_k r‖ ≤ β`` (at most doubling the set) until the relative gap meets the output's share of ``tol``.
On a set of ``n`` groups with features ``X = [D_{k_1} M, …]`` ``(m, n d)`` the problem is :class:`GramGroupLasso`,

.. math::

    \min_x\; \tfrac12 x^\top H x - b^\top x + \tfrac12 y^\top y + \beta \sum_j \|x_j\|_2,
    \qquad H = X^\top X,\; b = X^\top y,

solved by restarted FISTA (step ``1/L`` from a power estimate, backtracked) and a Newton polish of the support
FISTA found (the group norms are smooth away from zero; Armijo line search). Its gap uses the residual
``λ = y − X x`` scaled into the dual-feasible set (:func:`~cvximplicit.solvers.relu.certificate.scaled_bound_one`).
Budgets count FISTA iterations and rounds, never time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ..core._threads import one_blas_thread
from ..engines.groups import add_norm_curvature, block_pairs, group_soft_threshold
from ..engines.iterations import armijo, backtrack, momentum, power_iteration, prox_step
from .certificate import group_scores, scaled_bound_one

__all__ = ["GramGroupLasso", "OutputResult", "solve_output"]

WS_START = 10  # groups in the first working set
CHECK_EVERY = 10  # FISTA iterations between two gap checks (a check costs about one iteration)
POWER_ITERS = 30  # power iterations of the first step size (backtracking guards an underestimate)
NEWTON_MAX = 50  # Newton iterations per polish (a handful suffice once the support is right)
INNER_TOL0 = 1e-3  # first FISTA tolerance (relative gap) before a polish: coarse, the polish sharpens it
INNER_TOL_MIN = 1e-15  # the finest FISTA tolerance: the round-off of the objective
TIGHTEN = 1e-3  # each tightening multiplies the FISTA tolerance by this
DROP_RATIO = 1e-9  # a group this small relative to the largest leaves the Newton support
POWER_SLACK = 1.01  # the power estimate is inflated by this, so that FISTA rarely backtracks
CURVATURE_SLACK = 1e-12  # backtracking accepts δᵀHδ ≤ L‖δ‖²(1 + 1e-12): round-off
STEP_TOL = 1e-15  # a Newton step below this fraction of the point has converged


@dataclass
class OutputResult:
    """One output's solution ``U`` ``(P, d)`` and the work it took."""

    U: np.ndarray
    iterations: int
    rounds: int
    newton: int
    budget_hit: bool


def solve_output(M, D, y, beta, tol, max_iter, max_rounds, u0) -> OutputResult:
    """Working-set rounds for one output ``y`` ``(m,)``; ``tol`` is this output's share of the relative gap."""
    d = M.shape[1]
    P = D.shape[1]
    U = np.zeros((P, d)) if u0 is None else np.array(u0, dtype=float)
    yy = float(y @ y)
    iters = newton = rounds = 0
    inner_tol = max(INNER_TOL0, tol)
    ws = np.zeros(P, dtype=bool)
    budget_hit = False
    while True:
        r = y - np.einsum("mp,mp->m", D, M @ U.T)
        scores = group_scores(M, D * r[:, None])[1]
        objective = 0.5 * float(r @ r) + beta * float(np.linalg.norm(U, axis=1).sum())
        gap = objective - scaled_bound_one(float(r @ y), float(r @ r), float(scores.max()), beta)[0]
        if gap <= tol * max(1.0, objective) or yy == 0.0:
            break
        if rounds >= max_rounds or iters >= max_iter:
            budget_hit = True
            break
        rounds += 1
        ws |= np.linalg.norm(U, axis=1) > 0
        if rounds == 1:  # the first set: the largest scores (and a warm start's groups)
            outside, grow = ~ws, max(WS_START, 2 * int(ws.sum()))
        else:  # then the violators of the dual constraint, at most doubling the set
            outside, grow = ~ws & (scores > beta), max(int(ws.sum()), 1)
        if outside.any():
            cand = np.flatnonzero(outside)
            ws[cand[np.argsort(-scores[cand], kind="stable")[:grow]]] = True
        else:  # the working set holds every violator: solve it tighter
            inner_tol = max(inner_tol * TIGHTEN, INNER_TOL_MIN)
        idx = np.flatnonzero(ws)
        lasso = GramGroupLasso.on_working_set(M, D[:, idx], y, yy, beta)
        with one_blas_thread():
            u, it, nt = lasso.solve(np.array(U[idx], dtype=float).reshape(-1), min(inner_tol, tol), inner_tol,
                                    max_iter - iters)
        iters, newton = iters + it, newton + nt
        U[:] = 0.0
        U[idx] = u
    return OutputResult(U, iters, rounds, newton, budget_hit)


class GramGroupLasso:
    """``½xᵀHx − bᵀx + ½yy + β Σ_j ‖x_j‖`` over ``n`` groups ``x_j`` of size ``d`` (``x`` flat, ``n·d``)."""

    def __init__(self, H, b, yy: float, beta: float, n: int, d: int):
        self.H, self.b, self.yy, self.beta, self.n, self.d = H, b, yy, beta, n, d

    @classmethod
    def on_working_set(cls, M, Dw, y, yy, beta) -> "GramGroupLasso":
        """The problem on the groups of ``Dw`` ``(m, n)``: ``X = [D_{k_1} M, …]``, ``H = XᵀX``, ``b = Xᵀy``."""
        m, d = M.shape
        n = Dw.shape[1]
        X = (Dw[:, :, None] * M[:, None, :]).reshape(m, n * d)
        return cls(X.T @ X, X.T @ y, yy, beta, n, d)

    def objective_gap(self, x, Hx=None) -> tuple[float, float]:
        """Objective and duality gap at ``x`` from the Gram form (``λ = y − X x``; ``Hx``: ``H x`` if known)."""
        n, d, beta = self.n, self.d, self.beta
        Hx = self.H @ x if Hx is None else Hx
        bx = float(self.b @ x)
        quad = max(self.yy - 2.0 * bx + float(x @ Hx), 0.0)  # ‖λ‖²
        lin = self.yy - bx  # λᵀy
        G = (self.b - Hx).reshape(n, d)  # Xᵀλ, group by group
        rho = float(np.sqrt(np.einsum("kd,kd->k", G, G).max()))
        objective = 0.5 * quad + beta * float(np.linalg.norm(x.reshape(n, d), axis=1).sum())
        return objective, objective - scaled_bound_one(lin, quad, rho, beta)[0]

    def solve(self, x, tol, fista_tol, budget):
        """FISTA to ``fista_tol``, a Newton polish, and tighter FISTA while the gap exceeds ``tol``.

        Returns ``(x (n, d), FISTA iterations, Newton iterations)``.
        """
        iters = newton = 0
        lam = power_iteration(lambda v: self.H @ v, np.ones(self.H.shape[0]), POWER_ITERS)
        L = POWER_SLACK * lam if lam > 0.0 else 1.0
        target = fista_tol
        while True:
            x, it, L = self.fista(x, L, target, budget - iters)
            iters += it
            x_newton, nt = self.newton_polish(x)
            newton += nt
            if self.objective_gap(x_newton)[1] <= self.objective_gap(x)[1]:
                x = x_newton
            obj, gap = self.objective_gap(x)
            if gap <= tol * max(1.0, obj) or iters >= budget or target <= INNER_TOL_MIN:
                return x.reshape(self.n, self.d), iters, newton
            target = max(target * TIGHTEN, INNER_TOL_MIN)

    def fista(self, x, L, tol, budget):
        """Restarted FISTA until the relative gap is ``≤ tol`` (checked every :data:`CHECK_EVERY` iterations).

        The step ``1/L`` is doubled back while ``δᵀHδ > L‖δ‖²`` (the quadratic's own curvature along the step).
        """
        H, b, n, d, beta = self.H, self.b, self.n, self.d, self.beta
        z = x.copy()
        tk = 1.0
        it = 0

        # One product with H per step: each candidate's H x⁺ serves the curvature test and, by linearity,
        # the next gradient (H z⁺ = H x⁺ + w (H x⁺ − H x): two fresh products, no recurrence to drift).
        Hx = H @ x
        Hz = Hx.copy()

        def candidate(L):
            x_new = group_soft_threshold((z - (Hz - b) / L).reshape(n, d), beta / L, axis=-1).reshape(n * d)
            return x_new, H @ x_new

        def short_enough(point, L):
            delta = point[0] - z
            dd = float(delta @ delta)
            return dd == 0.0 or float(delta @ (point[1] - Hz)) <= L * dd * (1.0 + CURVATURE_SLACK)

        while it < budget:
            for _ in range(CHECK_EVERY):
                (x_new, Hx_new), L = prox_step(candidate, L, short_enough)
                tk, w = momentum(tk, z, x_new, x)
                if w is None:
                    z, Hz = x_new.copy(), Hx_new.copy()
                else:
                    z, Hz = x_new + w * (x_new - x), Hx_new + w * (Hx_new - Hx)
                x, Hx = x_new, Hx_new
                it += 1
            obj, gap = self.objective_gap(x, Hx)
            if gap <= tol * max(1.0, obj):
                break
        return x, it, L

    def newton_polish(self, x) -> tuple[np.ndarray, int]:
        """Newton's method on the support of ``x``; groups that shrink below :data:`DROP_RATIO` of the largest leave
        the support and Newton restarts on the rest. Returns the polished point and the Newton iterations."""
        n, d = self.n, self.d
        support = np.flatnonzero(np.linalg.norm(x.reshape(n, d), axis=1) > 0)
        z = x.reshape(n, d)[support].ravel()
        it = 0
        while support.size and it < NEWTON_MAX:
            cols = (support[:, None] * d + np.arange(d)).ravel()
            z, it = self._newton(self.H[np.ix_(cols, cols)], self.b[cols], z, it)
            norms = np.linalg.norm(z.reshape(-1, d), axis=1)
            keep = norms > DROP_RATIO * norms.max(initial=0.0)
            if keep.all():
                break
            support, z = support[keep], z.reshape(-1, d)[keep].ravel()
        out = np.zeros(n * d)
        out.reshape(n, d)[support] = z.reshape(-1, d)
        return out, it

    def _newton(self, Hs, bs, z, it) -> tuple[np.ndarray, int]:
        """Damped Newton steps on ``½zᵀHs z − bsᵀz + β Σ‖z_k‖`` (every group non-zero) while ``it < NEWTON_MAX``."""
        d, beta = self.d, self.beta
        pairs = block_pairs(np.arange(0, z.size + 1, d))

        def smooth(v) -> float:
            norms = np.linalg.norm(v.reshape(-1, d), axis=1)
            return 0.5 * float(v @ (Hs @ v)) - float(bs @ v) + beta * float(norms.sum())

        while it < NEWTON_MAX:
            it += 1
            Z = z.reshape(-1, d)
            norms = np.linalg.norm(Z, axis=1)
            if not norms.min() > 0.0:
                break
            unit = Z / norms[:, None]
            grad = Hs @ z - bs + beta * unit.ravel()
            hess = Hs.copy()
            add_norm_curvature(hess, pairs, unit.ravel(), beta / norms)
            step = -_spd_solve(hess, grad)
            slope = float(grad @ step)
            if not slope < 0.0:
                break
            alpha, f = backtrack(lambda a: smooth(z + a * step), 1.0, armijo(smooth(z), slope))
            if f is None:
                return z, it
            z = z + alpha * step
            if float(np.linalg.norm(alpha * step)) <= STEP_TOL * float(np.linalg.norm(z)):
                break
        return z, it


def _spd_solve(A, g):
    """``A⁻¹ g`` for the Newton matrix ``A`` (symmetric positive semi-definite: a Gram matrix plus the group norms'
    curvature): Cholesky, half the work of LU; least squares where ``A`` is singular."""
    try:
        return sla.cho_solve(sla.cho_factor(A, check_finite=False), g, check_finite=False)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(A, g, rcond=None)[0]
