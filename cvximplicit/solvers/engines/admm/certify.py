"""The certificate checks of one ADMM solve: float64 bounds from ``(λ, μ)``, exactly feasible points, the polish.

After a ``u``-step, ``λ = y − F u`` and ``μ = −ϱγ ν ≥ 0`` form a dual point; any ``λ`` and any ``μ ≥ 0`` give a
valid lower bound (:func:`~cvximplicit.solvers.relu.certificate.dual_bound`, float64), after the multipliers of
the worst groups are re-fitted. The point judged is the iterate's groups moved exactly into their cones
(:class:`~cvximplicit.solvers.engines.feasibility.ConeRepair`); with ``polish``, also its support polished by
active-set Newton (:func:`~.polish.newton_polish`). The best bound and the best point seen are kept.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ...relu.certificate import convex_objective, dual_bound, pattern_fit
from ..groups import group_norms, to_VW
from .polish import MIN_WORK, PRUNE, PolishBudget, newton_polish, refit_multipliers

__all__ = ["Certifier"]

REFIT_ROWS_PER_FEATURE = 4  # rows a group's re-fit may use, per feature (enough for a face)


class Certifier:
    """The best certified bound (with its ``(λ, μ)``) and the best exactly feasible point of one solve."""

    def __init__(self, ops, M64, Y64, patterns, beta, tol, polish, deadline):
        self.ops, self.M, self.Y, self.patterns, self.beta = ops, M64, Y64, patterns, beta
        self.tol, self.polish, self.deadline = tol, polish, deadline
        self.bound, self.details, self.dual = -math.inf, {}, None
        self.V = self.W = None
        self.obj, self.dropped = math.inf, 0
        self.checks = self.polished = 0
        self.polish_spent = 0.0  # multiply-adds spent in the polish so far

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.perf_counter() > self.deadline

    def gap(self) -> float:
        """The relative gap of the best point and the best bound."""
        return (self.obj - self.bound) / max(1.0, abs(self.obj))

    def evaluate(self, lam, mu, Xz) -> None:
        """float64 bound from ``(λ, μ ≥ 0)`` (``μ`` ``(2, P, m, q)``, re-fitted on a copy) and the objective at the
        repaired groups ``Xz`` ``(d, 2, P, q)``; keeps the best of each."""
        mu = np.array(mu, dtype=np.float64)
        lam = np.asarray(lam, dtype=np.float64)
        Vz, Wz = to_VW(Xz)
        if not self.out_of_time():
            refit_multipliers(self.M, self.patterns, self.beta, lam, mu, Vz, Wz,
                              max_rows=REFIT_ROWS_PER_FEATURE * self.M.shape[1])
        b, det = dual_bound(self.M, self.Y, self.patterns, self.beta, lam, mu_pos=mu[0], mu_neg=mu[1])
        if b > self.bound:
            self.bound, self.details, self.dual = float(b), det, (lam, mu)
        if self.V is not None and self.out_of_time():
            return
        Vr, Wr, dr = self.ops.repair(Xz, deadline=self.deadline)
        o = convex_objective(self.M, self.Y, self.patterns, Vr, Wr, self.beta)
        if o < self.obj or self.V is None:
            self.V, self.W, self.obj, self.dropped = Vr, Wr, o, dr

    def rigorous(self, lam, mu, Xz, work: float) -> float:
        """Certify the ADMM point and, with ``polish``, its active-set Newton polish; returns the relative gap.

        The polish may do as much work as the iterations so far (``work`` multiply-adds; counted, not timed) less
        twice what earlier polishes spent, and at least :data:`~.polish.MIN_WORK`.
        """
        self.checks += 1
        self.evaluate(lam, mu, Xz)
        norms = group_norms(Xz)
        tried = set()
        budget = PolishBudget(max(work - 2 * self.polish_spent, MIN_WORK))
        for rel in PRUNE:  # polish on the support, without its smallest groups
            if not self.polish or self.gap() <= self.tol or self.out_of_time():
                break
            keep = norms > rel * norms.max(axis=(0, 1), keepdims=True)
            if keep.tobytes() in tried or not keep.any():
                continue
            tried.add(keep.tobytes())
            out = newton_polish(self.M, self.Y, self.patterns, self.beta, np.where(keep[None], Xz, 0.0), mu,
                                deadline=self.deadline, budget=budget)
            if out is None:
                continue
            Xp, mu_p = out
            self.polished += 1
            mu_c = np.where(np.any(Xp != 0, axis=0)[:, :, None, :], mu_p, mu)
            Vp, Wp = to_VW(Xp)
            self.evaluate(self.Y - pattern_fit(self.M, self.patterns, Vp - Wp), mu_c, Xp)
        self.polish_spent += budget.spent
        return self.gap()
