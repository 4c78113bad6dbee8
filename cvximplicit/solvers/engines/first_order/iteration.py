r"""The first-order engine's iteration: the method of multipliers on the cone constraints, FISTA on each inner problem.

With multipliers ``μ ≥ 0`` (one per cone row, laid out like ``M X``: ``(m, 2, P, q)``) and penalty ``ϱ``, the
inner problem

.. math::

    \min_z\; \ell(F z) + \tfrac{\varrho}{2} \big\|(\mu/\varrho - G z)_+\big\|^2 + \beta \sum_g \|z_g\|_2

is solved by restarted FISTA with the group soft-threshold prox (:mod:`cvximplicit.solvers.engines.iterations`);
the step ``1/L`` is backtracked (sufficient decrease of the smooth part; ``L`` shrunk by 0.9 per step, doubled on
failure) between ``2 κ λ_max(FᵀF)`` and the global bound ``2 κ λ_max(FᵀF) + ϱ ‖M‖₂²``. The outer update is
``μ ← (μ − ϱ G z)_+``. One iteration is one product ``M @ (d × 2Pq)`` and one ``Mᵀ @ (m × 2Pq)``; ``M y`` of the
extrapolated point is the same combination of ``M x`` values. At the extrapolated point the smooth gradient's
group norms are the dual-constraint values ``ρ`` of ``λ = −∇ℓ`` and ``μ̃ = (μ − ϱ G y)_+``: a cheap bound every
``check_every`` iterations decides when to certify in float64 (:meth:`AugmentedLagrangian.certify`).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ...relu.program import decode
from ..groups import group_norms, group_soft_threshold, multipliers_from_work, to_VW
from ..iterations import TINY, momentum, prox_step
from ..judge import final_report, judge
from ..losses import polish_multipliers, power_lambda_max

__all__ = ["AL_PENALTY_DEFAULT", "AugmentedLagrangian", "FitOperators"]

#: Default augmented-Lagrangian penalty ``ϱ`` (dimensionless: the penalty Hessian is
#: ``ϱ GᵀG`` with ``‖G_k‖ = ‖M‖₂``, the fit Hessian is ``FᵀF``).
AL_PENALTY_DEFAULT = 30.0
INNER_MAX = 500  # FISTA iterations of one inner problem at most
EPS_IN0, EPS_FLOOR = 0.1, 0.1  # inner inexactness ε_k = max(EPS_IN0/k², EPS_FLOOR·tol): summable
MAPPING_EVERY = 5  # inner iterations between two measures of the gradient mapping
INACCURATE_VIOL = 10.0  # "optimal_inaccurate": capped, gap met, violation ≤ this × feas_tol
BT_DECREASE = 0.9  # backtracking shrinks L by this per step (the penalty's curvature is local)
BT_SLACK = {"float64": 1e-12, "float32": 1e-5}  # sufficient decrease up to the precision's round-off
POWER_SLACK = 1.02  # power estimates are inflated by this (power iteration converges from below)
TRACK_FRACTION = 0.1  # certify when the cheap bound closes this fraction of the gap (track_bound)


class FitOperators:
    """Vectorised operators of program (12) on ``X`` of shape ``(d, 2, P, q)`` (sign axis: V, W)."""

    def __init__(self, M, q, patterns, dtype):
        self.M = np.ascontiguousarray(M, dtype=dtype)
        self.Dm = patterns.astype(dtype)  # (m, P)
        self.S = 2.0 * self.Dm - 1.0  # diagonal of 2D_k − I
        (self.m, self.d), self.P, self.q = M.shape, patterns.shape[1], q
        self.shape = (self.d, 2, self.P, self.q)

    def forward(self, X):
        """``M X`` as ``(m, 2, P, q)``."""
        return (self.M @ X.reshape(self.d, -1)).reshape(self.m, 2, self.P, self.q)

    def pred(self, MX):
        """``Σ_k D_k M (V_k − W_k)``, ``(m, q)``."""
        return np.einsum("mpq,mp->mq", MX[:, 0] - MX[:, 1], self.Dm)

    def cone(self, MX):
        """Constraint values ``(2D_k − I) M z``, ``(m, 2, P, q)``."""
        return MX * self.S[:, None, :, None]

    def adjoint_weights(self, lam, mu_t):
        """``B = s D_k λ + (2D_k − I) μ̃`` (m, 2, P, q); the smooth gradient is ``−Mᵀ B``."""
        B = mu_t * self.S[:, None, :, None]
        B[:, 0] += self.Dm[:, :, None] * lam[:, None, :]
        B[:, 1] -= self.Dm[:, :, None] * lam[:, None, :]
        return B

    def adjoint(self, B):
        return (self.M.T @ B.reshape(self.m, -1)).reshape(self.shape)


class AugmentedLagrangian:
    """One solve: ``AugmentedLagrangian(...).run()`` iterates until a status; :meth:`report` judges the point."""

    def __init__(self, M, Y, patterns, beta, fit, starts, *, tol, max_iter, time_limit_s, dtype, feas_tol, rho,
                 check_every, log, t_start):
        self.M, self.patterns, self.beta, self.fit, self.program = M, patterns, beta, fit, fit.program
        self.tol, self.max_iter, self.time_limit_s, self.dtype = tol, max_iter, time_limit_s, dtype
        self.feas_tol, self.check_every, self.log, self.t_start = feas_tol, check_every, log, t_start
        self.eng = eng = FitOperators(M, Y.shape[1], patterns, dtype)
        lam_a, lam_m = power_lambda_max(eng.M, eng.Dm)
        self.fit_L = POWER_SLACK * 2.0 * lam_a * fit.curvature
        self.norm_m2 = POWER_SLACK * lam_m
        if rho is None:  # penalty curvature ϱ‖M‖² a fixed multiple of the fit curvature
            rho = AL_PENALTY_DEFAULT * self.fit_L / max(self.norm_m2, TINY)
        self.al_rho = rho
        self.row_scale = math.sqrt(float(np.max(np.einsum("md,md->m", M, M))))
        self.X = np.zeros(eng.shape, dtype=dtype)
        for j, Z0 in enumerate(starts):
            if Z0 is not None:
                self.X[:, j] = Z0.transpose(1, 0, 2)
        self.MX = eng.forward(self.X)
        self.mu = np.zeros((eng.m, 2, eng.P, eng.q), dtype=dtype)  # the multipliers, laid out like M X
        self.zero_obj = fit.zero_objective()
        self.best_bound, self.best_details = -math.inf, {}
        self.n_iter = self.outer = self.checks = 0
        self.L = self.fit_L  # the step's Lipschitz estimate, adapted by backtracking

    def elapsed(self) -> float:
        return time.perf_counter() - self.t_start

    def certify(self, lam, mu_t) -> float:
        """The rigorous float64 bound from ``(λ, μ̃)`` (multipliers polished first); keeps the best one."""
        self.checks += 1
        mu = multipliers_from_work(mu_t)
        lam = lam.astype(np.float64)
        polish_multipliers(self.M, self.patterns, self.beta, lam, mu, self.norm_m2)
        b, det = self.program.bound(lam, mu[0], mu[1])
        if b > self.best_bound:
            self.best_bound, self.best_details = b, det
        return b

    def primal(self, X):
        V, W = to_VW(X)
        return V, W, self.program.objective(V, W), self.program.violation(V, W)

    def run(self) -> str:
        """Outer iterations (an inner FISTA solve, a multiplier update) until a status."""
        while True:
            self.outer += 1
            eps_in = max(EPS_IN0 / self.outer**2, EPS_FLOOR * self.tol)  # summable inexactness of the inner solves
            L_max = self.fit_L + self.al_rho * self.norm_m2  # global Lipschitz bound of the smooth part
            # the penalty's curvature only involves the few active rows: start low, backtrack
            self.L = min(L_max, max(self.L, self.fit_L))
            status = self._inner(eps_in, L_max)
            if status is not None:
                return status
            self.mu = np.maximum(self.mu - self.al_rho * self.eng.cone(self.MX), 0.0)  # ϱ stays fixed

    def _inner(self, eps_in, L_max):
        """Restarted FISTA on the augmented Lagrangian with the current multipliers; a status when the solve ends."""
        eng, fit, al_rho = self.eng, self.fit, self.al_rho
        Yp, MYp = self.X, self.MX  # extrapolated point and its product
        theta, inner = 1.0, 0
        while True:
            lam, f_fit = fit.lam_value(eng.pred(MYp))  # λ = −∇ loss at the extrapolated point
            mu_t = np.maximum(self.mu - al_rho * eng.cone(MYp), 0.0)  # μ̃ = (μ − ϱ G y)_+
            grad = eng.adjoint(eng.adjoint_weights(lam, mu_t))
            grad *= -1.0
            inner_done = False
            if self.n_iter % self.check_every == 0:
                verdict = self._cheap_check(lam, mu_t, grad)
                if verdict == "optimal":
                    return verdict
                inner_done = verdict == "next"
            if self.n_iter >= self.max_iter:
                return "max_iter"
            if self.time_limit_s is not None and self.elapsed() >= self.time_limit_s:
                return "time_limit"
            # --- FISTA step (also after a check that ends the inner solve)
            Yp_old = Yp
            f_y = f_fit + float(np.vdot(mu_t, mu_t)) / (2.0 * al_rho)
            (Xn, MXn), self.L = prox_step(lambda L: self._prox(Yp, grad, L), max(self.fit_L, BT_DECREASE * self.L),
                                          lambda point, L: self._sufficient(point, L, Yp, grad, f_y), L_max)
            self.n_iter += 1
            inner += 1
            theta, w = momentum(theta, Yp, Xn, self.X)
            if w is None:  # gradient-based restart
                Yp, MYp = Xn, MXn
            else:
                Yp = Xn + w * (Xn - self.X)
                MYp = MXn + w * (MXn - self.MX)
            self.X, self.MX = Xn, MXn
            if inner % MAPPING_EVERY == 0 or inner >= INNER_MAX:
                # gradient mapping per group, relative to β: ‖L (y − x⁺)‖_g ≤ ε β at an ε-solution
                diff = Yp_old - Xn
                gm = self.L * math.sqrt(float(np.einsum("dspq,dspq->spq", diff, diff).max()))
                inner_done = inner_done or gm <= eps_in * self.beta or inner >= INNER_MAX
            if inner_done:
                return None

    def _prox(self, Yp, grad, L):
        Xn = group_soft_threshold(Yp - (1.0 / L) * grad, self.beta / L)
        return Xn, self.eng.forward(Xn)

    def _sufficient(self, point, L, Yp, grad, f_y) -> bool:
        """Sufficient decrease of the smooth part at the prox point: ``f(x⁺) ≤ f(y) + ⟨∇f, x⁺ − y⟩ + L/2 ‖x⁺ − y‖²``."""
        Xn, MXn = point
        mt_n = np.maximum(self.mu - self.al_rho * self.eng.cone(MXn), 0.0)
        f_n = self.fit.value(self.eng.pred(MXn)) + float(np.vdot(mt_n, mt_n)) / (2.0 * self.al_rho)
        diff = Xn - Yp
        q_n = f_y + float(np.vdot(grad, diff)) + 0.5 * L * float(np.vdot(diff, diff))
        return f_n <= q_n + BT_SLACK[self.dtype.name] * max(abs(f_y), 1.0)

    def _cheap_check(self, lam, mu_t, grad):
        """The cheap certificate (working precision) from the gradient's group norms ``ρ``; a float64 one when it
        looks met. ``"optimal"``: certified; ``"next"``: gap met, violation not (update the multipliers)."""
        fit, beta, X = self.fit, self.beta, self.X
        rho_c = np.sqrt(np.einsum("dspq,dspq->spq", grad, grad).max(axis=(0, 1)))
        cheap_bound = fit.cheap_bound(lam, rho_c, beta)
        last_obj = fit.check_value(self.eng.pred(self.MX)) + beta * float(group_norms(X).sum())
        cheap_gap_rel = (last_obj - cheap_bound) / max(1.0, abs(last_obj))
        gnorm = math.sqrt(float(np.einsum("dspq,dspq->spq", X, X).max()))
        viol_cheap = float(max(-self.eng.cone(self.MX).min(), 0.0)) / max(self.row_scale * gnorm, TINY)
        if self.log:
            self.log.info("it=%6d outer=%3d obj=%.8g bound~=%.8g gap~=%.2e viol~=%.2e rho_al=%.3g t=%.2fs",
                          self.n_iter, self.outer, last_obj, cheap_bound, cheap_gap_rel, viol_cheap, self.al_rho,
                          self.elapsed())
        if cheap_gap_rel <= self.tol and viol_cheap <= self.feas_tol:
            self.certify(lam, mu_t)
            _, _, obj, viol = self.primal(X)
            gap_rel = (obj - self.best_bound) / max(1.0, abs(obj))
            if gap_rel <= self.tol and viol <= self.feas_tol:
                return "optimal"
            if gap_rel <= self.tol:
                return "next"  # gap fine, violation not: update multipliers
        elif fit.track_bound and cheap_bound > self.best_bound + TRACK_FRACTION * (last_obj - self.best_bound):
            self.certify(lam, mu_t)  # a noisy cheap bound (one common t): keep its good moments
        return None

    def report(self, status):
        """The final point, a last certificate when none ran or the run stopped at a cap, and the report."""
        fit, tol = self.fit, self.tol
        V, W, obj, viol = self.primal(self.X)
        if self.best_bound == -math.inf or status in ("max_iter", "time_limit"):
            lam = fit.residual(V, W)
            mu_t = np.maximum(self.mu.astype(np.float64) - self.al_rho * (self.eng.cone(self.MX).astype(np.float64)),
                              0.0)
            self.certify(lam, mu_t)
        bound = float(self.best_bound)
        verdict = judge(obj, bound, viol, tol, status)
        if verdict.certificate == "none" and verdict.status in ("max_iter", "time_limit") and \
                verdict.gap_rel is not None and abs(verdict.gap_rel) <= tol and viol <= INACCURATE_VIOL * self.feas_tol:
            verdict = verdict._replace(status="optimal_inaccurate")  # stopped on a cap, the gap met, not the violation
        W1, W2 = decode(V, W, 0.0)  # every nonzero group is a neuron
        # an exactly feasible point's objective: the returned one if it violates nothing, else V = W = 0
        feasible = min(obj, self.zero_obj) if viol == 0.0 else self.zero_obj
        extra = {
            "n_patterns": self.eng.P, "loss": fit.name, "outer_iterations": self.outer, "dtype": self.dtype.name,
            "network_objective": self.program.network_objective(W1, W2) if W1.shape[0] else self.zero_obj,
            "constraint_violation": viol, "al_penalty": self.al_rho,
            "lipschitz": self.fit_L + self.al_rho * self.norm_m2,
            "certificate_checks": self.checks, "rho": self.best_details.get("rho"), "t": self.best_details.get("t"),
            "feas_tol": self.feas_tol, "feasible_objective": feasible,
            "certified_gap_rel": (feasible - bound) / max(1.0, abs(feasible)),
        }
        return V, W, final_report("FISTA", verdict, objective=obj, bound=bound, violation=viol, iterations=self.n_iter,
                                  t_start=self.t_start, extra=extra, problem=fit.problem)
