"""The ADMM iteration on validated float64 data: set-up, the steps, the checks and the final report.

Per output, ``u = (v_1..v_P, w_1..w_P)``, the splits ``z = u`` (group norms) and ``s = G u ≥ 0`` (cones) with
penalties ``ϱ`` and ``ϱγ`` and scaled duals ``α``, ``ν`` (all ``(d, 2, P, q)`` or ``(m, 2, P, q)``, every output
at once)::

    u ← (FᵀF/ϱ + I + γ GᵀG)⁻¹ (Fᵀy/ϱ + z − α + γ Gᵀ(s − ν))       (the linear solver of .operators)
    z ← group soft-threshold of û + α at β/ϱ;     α ← α + û − z
    s ← (Ĝu + ν)_+;                              ν ← ν + Ĝu − s

with the over-relaxed ``û = r u + (1 − r) z`` and ``Ĝu = r G u + (1 − r) s``. Every ``check_every`` iterations a
cheap (working-precision) gap and the residuals are measured; a rigorous check (:class:`~.certify.Certifier`) runs
when the support settled or the cheap gap met ``tol``, each later one spaced twice as far.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ...relu.certificate import constraint_violation
from ..groups import group_norms, group_soft_threshold, multipliers_from_work
from ..iterations import TINY
from ..judge import final_report, judge
from ..options import progress_logger
from .certify import Certifier
from .operators import ADMM_DIRECT_MAX_M, LinearSolver, cheap_check, operators
from .penalty import RHO_MAX_UPDATES, AdmmOptions, balance_factor, penalty

__all__ = ["AdmmRun"]

SETTLED_VIOLATION = 1e-2  # a support unchanged at a cheap violation below this: a check is due
SPACING_DOUBLINGS = 3  # rigorous checks are check_every · 2^min(checks, 3) iterations apart
BALANCE_EVERY = 5  # residual balancing is considered every this many checks
ACTIVE_GROUP = 1e-6  # a group above this fraction of the largest counts as active (in the report)


class AdmmRun:
    """One ADMM solve (see the module docstring): ``AdmmRun(...).run()`` gives ``V, W, report`` and its ``(λ, μ)``."""

    def __init__(self, M64, Y64, patterns, beta, starts, t_start, opts: AdmmOptions):
        (m, d), q, P = M64.shape, Y64.shape[1], patterns.shape[1]
        self.M64, self.Y64, self.patterns, self.beta, self.opts, self.t_start = M64, Y64, patterns, beta, opts, t_start
        self.ops, cache_hit = operators(M64, patterns, opts.dtype, opts.cache)
        ops = self.ops
        self.kind = opts.linear_solver if opts.linear_solver != "auto" else (
            "direct" if m <= ADMM_DIRECT_MAX_M else "cg")
        self.lam_mtm = max(float(ops.lam_M[-1]), TINY)
        self.rho, self.gamma = penalty(ops, opts.rho, opts.gamma)
        had_factor = ("direct", self.rho, self.gamma) in ops.factors
        self.lin = LinearSolver(ops, self.rho, self.gamma, self.kind, opts.cg_tol, opts.cg_max_iter)
        self.cache_hit = bool(cache_hit and (self.kind == "cg" or had_factor))
        self.setup_s = time.perf_counter() - t_start
        self.Yw = np.ascontiguousarray(Y64, dtype=opts.dtype)
        self.shape = (d, 2, P, q)
        self.y_norm2 = float(np.sum(Y64 * Y64))
        self.DY = ops.D[:, :, None] * self.Yw[:, None, :]  # (m, P, q): D_k y_c, used in Fᵀy
        self._start(starts)
        deadline = None if opts.time_limit_s is None else t_start + float(opts.time_limit_s)
        self.cert = Certifier(ops, M64, Y64, patterns, beta, opts.tol, opts.polish, deadline)
        self.n_iter, self.rho_updates, self.cheap_gap = 0, 0, math.inf
        self.last_support, self.next_rigorous = b"", 0
        self.iter_work = 2.0 * m * d * 2 * P * q * 2  # the two GEMMs with M of one iteration
        self.log = progress_logger(opts.verbose)

    def _start(self, starts):
        """The iterates at the warm start (zero without one) and, for a warm start, the duals: those of the last
        solve on these ``(M, patterns)`` and ``ϱ`` (``α`` rescaled by the ratio of the β values), else ``α`` a
        subgradient of the group norms."""
        ops, dt, shape, beta, rho = self.ops, self.opts.dtype, self.shape, self.beta, self.rho
        d, _, P, q = shape
        self.Z = np.zeros(shape, dtype=dt)
        for j, Z0 in enumerate(starts):
            if Z0 is not None:
                self.Z[:, j] = Z0.transpose(1, 0, 2)
        self.alpha = np.zeros(shape, dtype=dt)
        self.MU = (ops.M @ self.Z.reshape(d, -1)).reshape(ops.m, 2, P, q)
        self.GU = self.MU * ops.S[:, None, :, None]
        self.s = np.maximum(self.GU, 0.0)
        self.nu = np.zeros_like(self.s)
        self.warm_duals = False
        if starts[0] is not None or starts[1] is not None:
            last = ops.last_state
            if self.opts.cache and last is not None and last["alpha"].shape == shape and last["rho"] == rho \
                    and last["gamma"] == self.gamma:  # duals of the last solve on these (M, patterns), α rescaled by β
                self.alpha = (last["alpha"] * (beta / last["beta"])).astype(dt)
                self.nu = last["nu"].astype(dt, copy=True)
                self.warm_duals = True
            else:  # α ∈ (β/ϱ) ∂‖z‖ on the active groups
                nz = group_norms(self.Z)
                self.alpha = (self.Z * (beta / rho / np.maximum(nz, TINY))[None]).astype(dt)

    def run(self):
        """Iterate until certified or a budget is spent; returns ``V, W, report`` and the best ``(λ, μ)``."""
        opts = self.opts
        while True:
            if self.n_iter >= opts.max_iter:
                status = "max_iter"
                break
            if self.cert.out_of_time():
                status = "time_limit"
                break
            self.n_iter += 1
            check = self.n_iter % opts.check_every == 0 or self.n_iter == opts.max_iter
            dual_vec, Z_old, s_old = self._step(check)
            if check and self._check(dual_vec, Z_old, s_old):
                status = "optimal"
                break
        return self._finish(status)

    def _step(self, check):
        """One iteration: the ``u``-update, over-relaxation, the ``z``- and ``s``-updates and the duals."""
        ops, rho, gamma, beta, relax = self.ops, self.rho, self.gamma, self.beta, self.opts.relax
        Sw, shape = ops.S, self.shape
        d, _, P, q = shape
        T = Sw[:, None, :, None] * (self.s - self.nu)  # (m, 2, P, q)
        Ea = gamma * (T[:, 0] - T[:, 1]) + (2.0 / rho) * self.DY
        Eb = gamma * (T[:, 0] + T[:, 1])
        RHS_ab = (ops.M.T @ np.stack([Ea, Eb], axis=1).reshape(ops.m, -1)).reshape(shape)
        R = self.Z - self.alpha
        R[:, 0] += 0.5 * (RHS_ab[:, 0] + RHS_ab[:, 1])  # back from (a, b) to (v, w) coordinates
        R[:, 1] += 0.5 * (RHS_ab[:, 1] - RHS_ab[:, 0])
        self.U = self.lin.solve(R)
        self.MU = (ops.M @ self.U.reshape(d, -1)).reshape(ops.m, 2, P, q)
        self.GU = self.MU * Sw[:, None, :, None]
        Uh = relax * self.U + (1.0 - relax) * self.Z
        GUh = relax * self.GU + (1.0 - relax) * self.s
        dual_vec = rho * (self.U + self.alpha - self.Z) if check else None  # Fᵀλ + Gᵀμ (relax = 1): ≈ ρ_{k,c,s}
        Z_old, s_old = self.Z, self.s
        self.Z = group_soft_threshold(Uh + self.alpha, beta / rho)
        self.alpha = self.alpha + Uh - self.Z
        self.s = np.maximum(GUh + self.nu, 0.0)
        self.nu = self.nu + GUh - self.s
        return dual_vec, Z_old, s_old

    def _check(self, dual_vec, Z_old, s_old) -> bool:
        """The cheap check, a rigorous one when due, residual balancing. True: certified."""
        opts, cert, rho, gamma, Z, s = self.opts, self.cert, self.rho, self.gamma, self.Z, self.s
        lam64, cheap_obj, cheap_bound, viol_z = cheap_check(self.ops, self.Yw, self.Y64, Z, self.MU, dual_vec,
                                                            self.beta)
        self.cheap_gap = (cheap_obj - cheap_bound) / max(1.0, abs(cheap_obj))
        r_prim = math.sqrt(float(np.vdot(self.U - Z, self.U - Z)) + gamma * float(np.vdot(self.GU - s, self.GU - s)))
        r_dual = rho * math.sqrt(float(np.vdot(Z - Z_old, Z - Z_old)) + gamma * self.lam_mtm * float(
            np.vdot(s - s_old, s - s_old)))
        if self.log:
            self.log.info("it=%6d obj~=%.10g bound~=%.10g gap~=%.2e viol=%.1e r_p=%.2e r_d=%.2e rho=%.3g cg=%d t=%.2fs",
                          self.n_iter, cheap_obj, cheap_bound, self.cheap_gap, viol_z, r_prim, r_dual, rho,
                          self.lin.cg_iters, time.perf_counter() - self.t_start)
        support = np.packbits(np.einsum("dspq,dspq->spq", Z, Z).reshape(-1) > 0).tobytes()
        settled = support == self.last_support and viol_z <= SETTLED_VIOLATION and self.n_iter >= self.next_rigorous
        self.last_support = support
        if settled or (self.cheap_gap <= opts.tol and viol_z <= opts.tol and self.n_iter >= self.next_rigorous):
            self.next_rigorous = self.n_iter + opts.check_every * 2 ** min(cert.checks, SPACING_DOUBLINGS)
            gap = cert.rigorous(lam64, self._multipliers(), Z, self.n_iter * self.iter_work)
            if self.log:
                self.log.info("         rigorous: obj=%.10g t=%.2fs bound=%.10g gap=%.2e", cert.obj,
                              time.perf_counter() - self.t_start, cert.bound, gap)
            if gap <= opts.tol:
                return True
        self._rebalance(r_prim, r_dual)
        return False

    def _multipliers(self):
        """``μ = (−ϱγ ν)_+`` in the layout ``(2, P, m, q)``."""
        return multipliers_from_work(np.maximum((-(self.rho * self.gamma)) * self.nu, 0.0))

    def _rebalance(self, r_prim, r_dual):
        """Residual balancing (``adapt_rho``): ``ϱ`` is fixed per factorisation, so a change refactors."""
        opts = self.opts
        factor = balance_factor(r_prim, r_dual) if opts.adapt_rho and self.rho_updates < RHO_MAX_UPDATES and \
            self.n_iter % (BALANCE_EVERY * opts.check_every) == 0 else 1.0
        if factor != 1.0:
            dt = opts.dtype
            self.rho *= factor
            self.alpha = (self.alpha / factor).astype(dt, copy=False)
            self.nu = (self.nu / factor).astype(dt, copy=False)
            a_prev, cg_done = self.lin.a_prev, self.lin.cg_iters
            self.lin = LinearSolver(self.ops, self.rho, self.gamma, self.kind, opts.cg_tol, opts.cg_max_iter)
            self.lin.a_prev, self.lin.cg_iters = a_prev, cg_done
            self.rho_updates += 1

    def _finish(self, status):
        """A last rigorous check if none certified, the zero network if better, the cache, the report."""
        cert, ops, M64, Y64, patterns = self.cert, self.ops, self.M64, self.Y64, self.patterns
        if cert.V is None or status != "optimal":
            lam = Y64 - np.einsum("mpq,mp->mq", (self.MU[:, 0] - self.MU[:, 1]).astype(np.float64),
                                  patterns.astype(np.float64))
            cert.rigorous(lam, self._multipliers(), self.Z, self.n_iter * self.iter_work)
        V, W, obj = cert.V, cert.W, cert.obj
        if 0.5 * self.y_norm2 < obj:  # the zero network is exactly feasible too
            V, W, obj = np.zeros_like(V), np.zeros_like(W), 0.5 * self.y_norm2
        ops.last_rho = (self.rho, self.gamma)
        if self.opts.cache:
            ops.last_state = {"alpha": self.alpha, "nu": self.nu, "rho": self.rho, "gamma": self.gamma,
                              "beta": self.beta}
        viol = float(constraint_violation(M64, patterns, V, W))
        nv, nw = np.linalg.norm(V, axis=1), np.linalg.norm(W, axis=1)
        top = max(float(nv.max()), float(nw.max()), 0.0)
        extra = {
            "n_patterns": patterns.shape[1], "iterations": self.n_iter, "rho": self.rho, "gamma": self.gamma,
            "linear_solver": self.kind, "cache_hit": self.cache_hit, "setup_time_s": self.setup_s,
            "cg_iterations": self.lin.cg_iters, "rho_updates": self.rho_updates, "certificate_checks": cert.checks,
            "polished": cert.polished, "dtype": self.opts.dtype.name,
            "n_active_groups": int((nv > ACTIVE_GROUP * top).sum() + (nw > ACTIVE_GROUP * top).sum()) if top > 0 else 0,
            "dropped_groups": cert.dropped, "cheap_gap_rel": self.cheap_gap, "warm_duals": self.warm_duals,
            "bound_rho": cert.details.get("rho"), "bound_t": cert.details.get("t"),
            "zero_objective": 0.5 * self.y_norm2,
        }
        report = final_report("ADMM", judge(obj, cert.bound, viol, self.opts.tol, status), objective=obj,
                              bound=cert.bound, violation=viol, iterations=self.n_iter, t_start=self.t_start,
                              compile_time_s=self.setup_s, extra=extra)
        return V, W, report, cert.dual
