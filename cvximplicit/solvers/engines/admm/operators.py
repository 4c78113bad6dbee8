"""The ADMM engine's cached operators, its linear solver ``(FᵀF/ϱ + I + γGᵀG) u = r``, the row-space basis of
``M`` and the cheap progress check (see :mod:`cvximplicit.solvers.engines.admm`)."""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from ...core._lru import LRUCache, digest
from ...relu.certificate import scaled_bound
from ..feasibility import ConeRepair
from ..groups import fit_operator_norm2, group_norms
from ..iterations import TINY

__all__ = ["ADMM_DIRECT_MAX_M", "LinearSolver", "Operators", "cheap_check", "clear_admm_cache", "operators",
           "row_space_basis"]

#: ``linear_solver="auto"`` uses the direct (Woodbury/Cholesky) path when ``m`` is at most this,
#: else preconditioned conjugate gradients (the ``m × m`` factor would be too large).
ADMM_DIRECT_MAX_M = 6000

_CACHE_SIZE = 4  # (M, patterns) pairs whose operators are kept (a pool's few blocks, a β path, the alternations)
_ROW_SPACE_SIZE = 2  # row-space bases kept
_POWER_ITERS = 25  # power iterations of λ_max(FᵀF) (float64, seeded)
_POWER_SLACK = 1.02  # the power estimate is inflated by this (it converges from below)
_RANK_TOL = 1e-12  # eigenvalues of MᵀM below this times the largest span the dropped directions
_CACHE = LRUCache(_CACHE_SIZE)  # (digest of M and patterns, dtype) → Operators
_ROW_SPACE = LRUCache(_ROW_SPACE_SIZE)  # digest of M → its row-space basis (or None)


def clear_admm_cache() -> None:
    """Drop every cached factorisation (and row-space basis) of :func:`solve_convex_relu_admm`."""
    _CACHE.clear()
    _ROW_SPACE.clear()


def row_space_basis(M64, use_cache):
    """``(Q, M Q)`` with ``Q`` ``(d, r)`` an orthonormal basis of the row space of ``M`` when ``r < d``, else None.

    Program (12) depends on ``V_k`` only through ``M V_k`` and ``‖V_k‖``; writing
    ``V_k = Q Ṽ_k + V_k^⊥`` (``M V_k^⊥ = 0``) the fit and the constraints do not see ``V^⊥``
    and ``‖V_k‖² = ‖Ṽ_k‖² + ‖V_k^⊥‖²``, so an optimum has ``V^⊥ = 0`` and the program on
    ``M Q`` has the same optimal value. Columns of ``M`` that are exactly zero are dropped
    exactly (``Q`` a column selection); if the rest is still rank deficient, ``Q`` also
    rotates onto the eigenvectors of ``MᵀM`` above ``_RANK_TOL · λ_max``.
    """
    if use_cache:
        return _ROW_SPACE.get(digest(M64), lambda: _row_space_basis(M64))[0]
    return _row_space_basis(M64)


def _row_space_basis(M64):
    d = M64.shape[1]
    keep = np.flatnonzero(np.any(M64 != 0, axis=0))
    Q = np.eye(d)[:, keep]
    Mk = np.ascontiguousarray(M64[:, keep])
    lam, E = np.linalg.eigh(Mk.T @ Mk)
    rank = int(np.sum(lam > _RANK_TOL * max(float(lam[-1]), TINY))) if keep.size else 0
    if 0 < rank < keep.size:
        Q, Mk = Q @ E[:, -rank:], Mk @ E[:, -rank:]
    return None if keep.size == d and rank == d or rank == 0 else (Q, Mk)


# --------------------------------------------------------------------------- cached operators
class Operators:
    """Data-dependent pieces shared by every solve on ``(M, patterns)`` (cached).

    Holds ``M`` in the working dtype, the pattern masks, ``MᵀM`` and its eigenpairs,
    ``DᵀD`` and its eigenpairs, ``λ_max(F_aᵀF_a)``, the factorisations per ``(ϱ, γ)`` and the
    :class:`~cvximplicit.solvers.engines.feasibility.ConeRepair` (with its interior directions).
    """

    def __init__(self, M64, patterns, dtype):
        self.dtype = dtype
        self.M = np.ascontiguousarray(M64, dtype=dtype)
        m, d = M64.shape
        self.m, self.d, self.P = m, d, patterns.shape[1]
        self.D = patterns.astype(dtype)  # (m, P)
        self.S = 2.0 * self.D - 1.0  # diagonal of 2D_k − I
        self.MtM = M64.T @ M64  # float64 (d, d)
        self.lam_M, self.Q_M = np.linalg.eigh(self.MtM)
        self.lam_M = np.maximum(self.lam_M, 0.0)
        DtD = patterns.T.astype(np.float64) @ patterns.astype(np.float64)  # (P, P) overlap counts
        self.theta, self.E = np.linalg.eigh(DtD)
        self.theta = np.maximum(self.theta, 0.0)
        self.fit_lmax = _POWER_SLACK * fit_operator_norm2(M64, patterns.astype(np.float64), np.random.default_rng(0),
                                                          _POWER_ITERS)
        self.factors: dict = {}  # (kind, rho, gamma) → factor
        self.repair = ConeRepair(M64, patterns)
        self.last_rho: tuple | None = None
        self.last_state: dict | None = None  # duals of the last solve (for warm starts)

    # ---- the b-system and H = I + γMᵀM (shared by both paths)
    def h_inverse(self, gamma):
        """``(I + γMᵀM)⁻¹`` as a dense ``d × d`` matrix (from the eigenpairs)."""
        key = ("Hinv", gamma)
        if key not in self.factors:
            Q = self.Q_M
            self.factors[key] = (Q / (1.0 + gamma * self.lam_M)) @ Q.T
        return self.factors[key]

    def direct_factor(self, rho, gamma):
        """Cholesky factor of ``C = (ϱ/2) I + (DDᵀ) ∘ (M H⁻¹ Mᵀ)`` (float64, ``m × m``)."""
        key = ("direct", rho, gamma)
        if key not in self.factors:
            for k in [k for k in self.factors if k[0] == "direct"]:
                del self.factors[k]  # keep one m × m factor per (M, patterns)
            M64 = self.M.astype(np.float64)
            L = np.linalg.cholesky(self.h_inverse(gamma))  # H⁻¹ = L Lᵀ
            ML = M64 @ L
            C = ML @ ML.T
            D64 = self.D.astype(np.float64)
            C *= D64 @ D64.T
            C[np.diag_indices_from(C)] += 0.5 * rho
            self.factors[key] = sla.cho_factor(C, lower=True, overwrite_a=True, check_finite=False)
        return self.factors[key]


def operators(M64, patterns, dtype, use_cache) -> tuple[Operators, bool]:
    """The :class:`Operators` of ``(M, patterns)`` in ``dtype`` (cached when ``use_cache``) and whether cached."""
    if not use_cache:
        return Operators(M64, patterns, dtype), False
    return _CACHE.get((digest(M64, patterns), np.dtype(dtype).name), lambda: Operators(M64, patterns, dtype))


# --------------------------------------------------------------------------- the linear solver
class LinearSolver:
    """Solves ``(FᵀF/ϱ + I + γGᵀG) u = r`` for ``u, r`` of shape ``(d, 2, P, q)``."""

    def __init__(self, ops, rho, gamma, kind, cg_tol, cg_max_iter):
        self.ops, self.rho, self.gamma, self.kind = ops, rho, gamma, kind
        self.cg_tol, self.cg_max_iter = cg_tol, cg_max_iter
        dt = ops.dtype
        self.Hinv = ops.h_inverse(gamma).astype(dt)
        self.cg_iters = 0
        self.a_prev = None
        if kind == "direct":
            self.chol = ops.direct_factor(rho, gamma)
        else:  # Kronecker preconditioner of I⊗H + (2/ϱ)(DᵀD)⊗(MᵀM/m), diagonal in (E ⊗ Q_M)
            self.MtM = ops.MtM.astype(dt)
            self.Q, self.E = ops.Q_M.astype(dt), ops.E.astype(dt)
            diag = (1.0 + gamma * ops.lam_M[:, None]) + (2.0 / (rho * ops.m)) * np.outer(ops.lam_M, ops.theta)
            self.pdiag_inv = (1.0 / diag).astype(dt)  # (d, P)

    def fa(self, A):
        """``F_a a = Σ_k D_k M a_k`` for ``a`` ``(d, P, q)`` → ``(m, q)``."""
        ops = self.ops
        MA = (ops.M @ A.reshape(ops.d, -1)).reshape(ops.m, ops.P, -1)
        return np.einsum("mpq,mp->mq", MA, ops.D)

    def fa_t(self, t):
        """``F_aᵀ t``: ``Mᵀ D_k t`` for every ``k`` → ``(d, P, q)``."""
        ops = self.ops
        B = ops.D[:, :, None] * t[:, None, :]
        return (ops.M.T @ B.reshape(ops.m, -1)).reshape(ops.d, ops.P, -1)

    def _apply_A(self, A):
        """``(I⊗H + (2/ϱ)F_aᵀF_a) a``."""
        HA = A + self.gamma * (self.MtM @ A.reshape(self.ops.d, -1)).reshape(A.shape)
        return HA + (2.0 / self.rho) * self.fa_t(self.fa(A)).reshape(A.shape)

    def _precond(self, R):
        Q, E = self.Q, self.E
        out = np.empty_like(R)
        for c in range(R.shape[2]):
            T = Q.T @ R[:, :, c] @ E
            T *= self.pdiag_inv
            out[:, :, c] = Q @ T @ E.T
        return out

    def solve_a(self, Ra):
        ops = self.ops
        if self.kind == "direct":
            X = (self.Hinv @ Ra.reshape(ops.d, -1)).reshape(Ra.shape)
            t = self.fa(X).astype(np.float64)
            s = sla.cho_solve(self.chol, t, check_finite=False).astype(ops.dtype)
            return X - (self.Hinv @ self.fa_t(s).reshape(ops.d, -1)).reshape(Ra.shape)
        # preconditioned CG, batched over the q outputs (one step length per output)
        A = self.a_prev if self.a_prev is not None and self.a_prev.shape == Ra.shape else self._precond(Ra)
        R = Ra - self._apply_A(A)
        Z = self._precond(R)
        Pd = Z.copy()
        rz = np.einsum("dpq,dpq->q", R, Z)
        bnorm = np.sqrt(np.einsum("dpq,dpq->q", Ra, Ra))
        for _ in range(self.cg_max_iter):
            rnorm = np.sqrt(np.einsum("dpq,dpq->q", R, R))
            if np.all(rnorm <= self.cg_tol * np.maximum(bnorm, TINY)):
                break
            AP = self._apply_A(Pd)
            pap = np.einsum("dpq,dpq->q", Pd, AP)
            step = _ratio(rz, pap, ops.dtype)
            A = A + step[None, None, :] * Pd
            R = R - step[None, None, :] * AP
            Z = self._precond(R)
            rz_new = np.einsum("dpq,dpq->q", R, Z)
            beta = _ratio(rz_new, rz, ops.dtype)
            Pd = Z + beta[None, None, :] * Pd
            rz = rz_new
            self.cg_iters += 1
        self.a_prev = A
        return A

    def solve(self, R):
        """``u`` for the right-hand side ``R`` (both ``(d, 2, P, q)``)."""
        ops = self.ops
        Ra = R[:, 0] - R[:, 1]
        Rb = R[:, 0] + R[:, 1]
        B = (self.Hinv @ Rb.reshape(ops.d, -1)).reshape(Rb.shape)
        A = self.solve_a(Ra)
        U = np.empty_like(R)
        U[:, 0] = 0.5 * (A + B)
        U[:, 1] = 0.5 * (B - A)
        return U


def _ratio(num, den, dtype):
    """``num / den`` where ``den > 0``, else 0 (CG's step and ``β`` per output, safe once converged)."""
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0).astype(dtype)


def cheap_check(ops, Yw, Y64, Z, MU, dual_vec, beta):
    """Cheap progress estimates at a check: ``λ = y − F u`` (float64), the objective at ``z``, a bound estimate
    from the group norms of ``Fᵀλ + Gᵀμ ≈ ϱ(u + α − z)`` (not rigorous) and ``z``'s relative cone violation."""
    m, d, P, q = ops.m, ops.d, ops.P, Y64.shape[1]
    lam64 = (Yw - np.einsum("mpq,mp->mq", MU[:, 0] - MU[:, 1], ops.D)).astype(np.float64)
    rho_c = group_norms(dual_vec).max(axis=(0, 1)).astype(np.float64)
    lin_c, quad_c = np.einsum("mq,mq->q", lam64, Y64), np.einsum("mq,mq->q", lam64, lam64)
    bound = float(scaled_bound(lin_c, quad_c, rho_c, beta)[0].sum())
    norms2 = np.einsum("dspq,dspq->spq", Z, Z).reshape(-1)
    act = np.nonzero(norms2 > 0)[0]  # non-zero groups of z
    Zf = Z.reshape(d, -1)[:, act]
    MZ = ops.M @ Zf  # (m, n_active)
    sgn = np.broadcast_to(np.array([1.0, -1.0])[:, None, None], (2, P, q)).reshape(-1)[act]
    pat_of = np.broadcast_to(np.arange(P)[None, :, None], (2, P, q)).reshape(-1)[act]
    out_of = np.broadcast_to(np.arange(q)[None, None, :], (2, P, q)).reshape(-1)[act]
    fitz = np.zeros((m, q))
    np.add.at(fitz.T, out_of, (MZ * (ops.D[:, pat_of] * sgn)).T)
    r_fit = Y64 - fitz
    obj = 0.5 * float(np.sum(r_fit * r_fit)) + beta * float(np.sqrt(norms2).sum())
    scale = np.sqrt(max(float(ops.lam_M[-1]), TINY) * float(np.einsum("dn,dn->n", Zf, Zf).max(initial=0.0)))
    viol = float(np.maximum(-(MZ * ops.S[:, pat_of]), 0.0).max(initial=0.0)) / max(float(scale), TINY)
    return lam64, obj, bound, viol
