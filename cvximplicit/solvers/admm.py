"""ADMM engine for the Ergen–Pilanci program (12), with factorisations reused across calls and a dual certificate.

The program (see :mod:`cvximplicit.solvers.certificate`; one-vs-all outputs, **rows of
``M`` are samples**, ``patterns[:, k]`` is the diagonal of ``D_k``, ``V, W`` are
``(P, d, q)``), written per output ``c`` with ``u = (v_1..v_P, w_1..w_P)``:

.. math::

    \\min_u\\; \\tfrac12\\|F u - y\\|^2 + \\beta \\sum_g \\|u_g\\|_2
    \\quad\\text{s.t. } G u \\ge 0,\\qquad
    F u = \\sum_k D_k M (v_k - w_k),\\quad G = \\mathrm{blockdiag}\\big((2D_k - I) M\\big).

**Splitting.** ``z = u`` (group norms) and ``s = G u`` (``s ≥ 0``) with penalties
``ϱ`` and ``ϱγ`` (scaled duals ``α``, ``ν``)::

    u ← (FᵀF/ϱ + I + γ GᵀG)⁻¹ (Fᵀy/ϱ + z − α + γ Gᵀ(s − ν))
    z ← group soft-threshold of u + α at β/ϱ;     α ← α + u − z
    s ← (G u + ν)_+;                              ν ← ν + G u − s

``γ`` only weighs the two splits (``γ = 1`` is the textbook form; here
``γ = 1/median eigenvalue of MᵀM``, so that ``γ GᵀG`` and ``I`` have the same scale in a typical direction) and ``ϱ`` is
set from the data (``ϱ = 0.1·λ_max(FᵀF)``): an unscaled ``ϱ = 1`` stalls.

**The linear system.** ``(2D_k − I)² = I``, so ``GᵀG`` is block diagonal with every
block ``MᵀM``. In the coordinates ``a_k = v_k − w_k``, ``b_k = v_k + w_k`` the system
splits: ``(I + γMᵀM) b_k = r_{b,k}`` (one ``d × d`` Cholesky) and

.. math::

    \\big(I_P \\otimes H + \\tfrac{2}{\\varrho} F_a^\\top F_a\\big)\\, a = r_a,
    \\qquad H = I + \\gamma M^\\top M,\\quad F_a a = \\sum_k D_k M a_k .

*Direct* (moderate ``m``): Woodbury in sample space,
``a = x − K̃F_aᵀ C⁻¹ F_a x`` with ``x = K̃ r_a`` (``K̃ = I_P ⊗ H⁻¹``) and the ``m × m`` matrix
``C = (ϱ/2) I + (D Dᵀ) ∘ (M H⁻¹ Mᵀ)`` (``D`` the ``m × P`` pattern matrix), factored once
by Cholesky. *Conjugate gradients* (large ``m``): the ``a``-system by PCG, warm-started
from the previous ``a``, with a Kronecker preconditioner built from
``F_aᵀF_a ≈ (DᵀD) ⊗ (MᵀM/m)`` (exact when pattern membership does not depend on the
row), inverted in the eigenbases of ``MᵀM`` and ``DᵀD``. Both cost ``O(m·d·P·q)`` per
iteration as GEMMs over all outputs at once; memory is ``O(m·d + m·P·q)`` (plus the
``m × m`` factor on the direct path), never ``m·P·d``. Factorisations are cached on
digests of ``(M, patterns)`` and keyed by ``(ϱ, γ)``, so a β path, a pool and the
alternations of a block reuse them (``extra["cache_hit"]``).

**Certificate.** After the ``u``-step, ``λ = y − F u`` and ``μ = −ϱγ ν ≥ 0`` (the
new ``ν = min(Gu + ν_old, 0) ≤ 0``) satisfy ``Fᵀλ + Gᵀμ = ϱ(u + α_old − z_old)``
exactly (for an exact linear solve), whose group norms are the dual-constraint values
``ρ_{k,c,s}`` of :func:`~cvximplicit.solvers.certificate.dual_bound`; they approach
``≤ β`` as ``z`` settles. Stopping uses that cheap value; the **reported** bound is
always :func:`~cvximplicit.solvers.certificate.dual_bound` recomputed in float64 from
``(λ, μ)`` (valid for any ``λ`` and ``μ ≥ 0``), the best one seen is kept.

**What ``objective`` means.** The float64
:func:`~cvximplicit.solvers.certificate.convex_objective` at the **returned**
``(V, W)``, which is exactly feasible (``constraint_violation == 0``): the group-sparse
iterate ``z`` is repaired by moving each non-zero group ``z_g`` of pattern ``k`` along an
interior direction ``h_k`` of its cone (``(2D_k − I) M h_k > 0`` on every non-zero row)
just far enough that every constraint holds with a round-off margin. ``h_k`` is the
least-squares linear classifier of the pattern's ±1 labels, refined by a few
perceptron passes, else a small LP (HiGHS); a group whose cone has no interior
direction is set to zero. So ``objective ≥ p* ≥ bound`` and ``gap_rel`` is a true
certificate.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict

import numpy as np
import scipy.linalg as sla

from ..exceptions import ValidationError
from . import certificate as _cert
from ._groups import group_shrink, to_VW
from .report import SolveReport

__all__ = ["ADMM_DIRECT_MAX_M", "ADMM_OPTIONS", "clear_admm_cache", "solve_convex_relu_admm"]

#: Keyword options of :func:`solve_convex_relu_admm` (anything else raises ``ValidationError``).
ADMM_OPTIONS = (
    "tol", "max_iter", "time_limit_s", "rho", "gamma", "dtype", "V0", "W0", "linear_solver", "cg_tol",
    "cg_max_iter", "check_every", "adapt_rho", "relax", "polish", "cache", "verbose",
)

#: ``linear_solver="auto"`` uses the direct (Woodbury/Cholesky) path when ``m`` is at most this,
#: else preconditioned conjugate gradients (the ``m × m`` factor would be too large).
ADMM_DIRECT_MAX_M = 6000

#: Default ``ϱ = RHO_SCALE · λ_max(FᵀF)`` (``F`` the fit operator).
RHO_SCALE = 0.1

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 4
_RHO_FACTOR = 4.0  # residual balancing: multiply/divide ϱ by this
_RHO_RATIO = 10.0  # ... when one residual exceeds the other by this
_RHO_MAX_UPDATES = 6
_REPAIR_MARGIN = 1e-12
_POLISH_PRUNE = (0.0, 1e-3)  # relative group-norm thresholds of the polish attempts
_NNLS_MAX_GROUPS = 64  # groups whose multipliers are re-fitted per certificate
_NNLS_MAX_D = 256  # no multiplier re-fit above this d (the NNLS cost grows like d³)
_POLISH_ADD = 2  # violated rows added per group and active-set round
_POLISH_MAX_UNKNOWNS = 600  # unknowns n·d of one output's dense Newton system


def clear_admm_cache() -> None:
    """Drop every cached factorisation of :func:`solve_convex_relu_admm`."""
    _CACHE.clear()


# --------------------------------------------------------------------------- validation
def _check_options(tol, max_iter, time_limit_s, rho, gamma, dtype, linear_solver, cg_tol, cg_max_iter,
                   check_every, adapt_rho, relax, polish, cache, verbose):
    def pos(x):
        return isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, bool) and x > 0 \
            and math.isfinite(x)

    def nonneg_int(x):
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 0

    if not pos(tol):
        raise ValidationError(f"tol must be a positive finite float (relative duality gap); got tol={tol!r}")
    if not nonneg_int(max_iter):
        raise ValidationError(f"max_iter must be a non-negative integer; got max_iter={max_iter!r}")
    if time_limit_s is not None and not pos(time_limit_s):
        raise ValidationError(f"time_limit_s must be None or a positive number of seconds; got {time_limit_s!r}")
    for name, val in (("rho", rho), ("gamma", gamma)):
        if val is not None and not pos(val):
            raise ValidationError(f"{name} must be None (scaled to the data) or a positive float; got {name}={val!r}")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValidationError(f"dtype must be 'float64' or 'float32'; got dtype={dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValidationError(f"dtype must be 'float64' or 'float32'; got dtype={dtype!r}")
    if linear_solver not in ("auto", "direct", "cg"):
        raise ValidationError(f"linear_solver must be 'auto', 'direct' or 'cg'; got {linear_solver!r}")
    if not pos(cg_tol):
        raise ValidationError(f"cg_tol must be a positive float; got cg_tol={cg_tol!r}")
    if not nonneg_int(cg_max_iter) or cg_max_iter < 1:
        raise ValidationError(f"cg_max_iter must be a positive integer; got cg_max_iter={cg_max_iter!r}")
    if not nonneg_int(check_every) or check_every < 1:
        raise ValidationError(f"check_every must be a positive integer; got check_every={check_every!r}")
    for name, val in (("adapt_rho", adapt_rho), ("polish", polish), ("cache", cache), ("verbose", verbose)):
        if not isinstance(val, (bool, np.bool_)):
            raise ValidationError(f"{name} must be True or False; got {name}={val!r}")
    if not (pos(relax) and relax < 2):
        raise ValidationError(f"relax (over-relaxation) must be in (0, 2); got relax={relax!r}")
    return dt


def _digest(*arrays) -> str:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.shape, a.dtype)).encode())
        h.update(a.view(np.uint8).reshape(-1) if a.size else b"")
    return h.hexdigest()


# --------------------------------------------------------------------------- cached operators
class _Operators:
    """Data-dependent pieces shared by every solve on ``(M, patterns)`` (cached).

    Holds ``M`` in the working dtype, the pattern masks, ``MᵀM`` and its eigenpairs,
    ``DᵀD`` and its eigenpairs, ``λ_max(F_aᵀF_a)`` and the factorisations per ``(ϱ, γ)``.
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
        self.fit_lmax = self._power(M64, patterns)
        self.factors: dict = {}  # (kind, rho, gamma) → factor
        self.interior: dict = {}  # pattern k → interior direction (or None)
        self.last_rho: tuple | None = None
        self.last_state: dict | None = None  # duals of the last solve (for warm starts)

    def _power(self, M64, patterns, n_iter=25):
        """``λ_max(F_aᵀF_a)`` by power iteration (float64, seeded)."""
        rng = np.random.default_rng(0)
        D = patterns.astype(np.float64)
        z = rng.standard_normal((self.d, self.P))
        lam = 0.0
        for _ in range(n_iter):
            z /= max(float(np.linalg.norm(z)), 1e-300)
            t = np.einsum("mp,mp->m", D, M64 @ z)
            z = M64.T @ (D * t[:, None])
            lam = float(np.linalg.norm(z))
        return 1.02 * lam

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


def _operators(M64, patterns, dtype, use_cache):
    key = (_digest(M64, patterns), np.dtype(dtype).name)
    if use_cache and key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key], True
    ops = _Operators(M64, patterns, dtype)
    if use_cache:
        _CACHE[key] = ops
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return ops, False


# --------------------------------------------------------------------------- helpers
class _LinearSolver:
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
        Ra.shape[2]
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
            if np.all(rnorm <= self.cg_tol * np.maximum(bnorm, 1e-300)):
                break
            AP = self._apply_A(Pd)
            pap = np.einsum("dpq,dpq->q", Pd, AP)
            step = np.where(pap > 0, rz / np.where(pap > 0, pap, 1.0), 0.0).astype(ops.dtype)
            A = A + step[None, None, :] * Pd
            R = R - step[None, None, :] * AP
            Z = self._precond(R)
            rz_new = np.einsum("dpq,dpq->q", R, Z)
            beta = np.where(rz > 0, rz_new / np.where(rz > 0, rz, 1.0), 0.0).astype(ops.dtype)
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


def _repair(ops, M64, Xz):
    """Move every non-zero group of ``Xz`` ``(d, 2, P, q)`` into its cone; returns float64 ``V, W`` and #dropped.

    First the minimum-norm correction on the violated rows (:func:`_project_into_cone`);
    if that does not settle, a step along an interior direction of the cone; a group
    whose cone has none is set to zero (counted in the second return value).
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
            fixed = _project_into_cone(M64, sgn, z, nonzero_rows, row_norm)
            if fixed is None:
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


def _newton_polish(M64, Y64, patterns, beta, Xz, mu, rounds=12, steps=10):
    r"""Polish the group-sparse ADMM iterate on its support by an active-set Newton method.

    Per output ``c``, with the non-zero groups ``z_j`` (sign ``s_j``, pattern ``k_j``) of ``Xz``
    and the rows ``A_j`` where ADMM's multiplier is positive, Newton steps on the
    equality-constrained problem

    .. math::

        \min_z \tfrac12\|\sum_j s_j D_{k_j} M z_j - y_c\|^2 + \beta \sum_j \|z_j\|
        \quad\text{s.t. } (2D_{k_j} - I)_{A_j} M_{A_j} z_j = 0,

    then rows with a negative multiplier leave ``A_j`` and violated rows join it, until
    neither happens. Returns ``(Xp, mu_p)`` (polished groups and multipliers, same layouts
    as ``Xz`` ``(d, 2, P, q)`` and ``mu`` ``(m, 2, P, q)``), or None when the support is too
    large for the dense ``(n d) × (n d)`` Newton system (more than :data:`_POLISH_MAX_UNKNOWNS`).
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

            def merit(x, C, c=c):
                r = B @ x - Y64[:, c]
                nr = np.linalg.norm(x.reshape(n, d), axis=1).sum()
                pen = np.abs(C @ x).sum() * 1e3 * max(beta, 1.0)
                return 0.5 * float(r @ r) + beta * float(nr) + float(pen)

            for _ in range(rounds):
                C_blocks = [sgn[j][act[j], None] * M64[act[j]] for j in range(n)]
                C = sla.block_diag(*C_blocks) if n > 1 else C_blocks[0]
                C = C.reshape(-1, n * d)
                for _ in range(steps):
                    zg = z.reshape(n, d)
                    nrm = np.maximum(np.linalg.norm(zg, axis=1), 1e-300)
                    grad = BtB @ z - Bty + beta * (zg / nrm[:, None]).ravel()
                    Hn = BtB.copy()
                    for j in range(n):
                        u = zg[j] / nrm[j]
                        sl = slice(j * d, (j + 1) * d)
                        Hn[sl, sl] += (beta / nrm[j]) * (np.eye(d) - np.outer(u, u))
                    r = C.shape[0]
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
                    if viol.size:  # the most violated few rows join
                        act[j][viol[np.argsort(g[viol] / row_norm[viol], kind="stable")[:_POLISH_ADD]]] = True
                        changed = True
                if not changed:
                    break
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
    constraint is tight (or where ``μ`` was largest, at most ``max_rows``) and
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
            tight = np.zeros(M64.shape[0], dtype=bool)
            if zn > 0:
                tight = sgn * (M64 @ zg) <= 1e-6 * row_norm * zn
            cand = np.nonzero(tight | (mu[k, :, c] > 0))[0]
            if cand.size > max_rows:
                score = mu[k, cand, c] + np.where(tight[cand], np.inf, 0.0)
                cand = cand[np.argsort(-score, kind="stable")[:max_rows]]
            b = -(M64.T @ (s * dk * lam[:, c]))
            if cand.size == 0:
                continue
            A = (sgn[cand, None] * M64[cand]).T  # (d, |C|)
            eta, res = nnls(A, b, maxiter=10 * cand.size)
            if res < rho_s[k, c]:
                mu[k, :, c] = 0.0
                mu[k, cand, c] = eta


# --------------------------------------------------------------------------- the engine
def solve_convex_relu_admm(M, Y, patterns, beta, *, tol=1e-6, max_iter=5000, time_limit_s=None, rho=None,
                           gamma=None, dtype="float64", V0=None, W0=None, linear_solver="auto", cg_tol=1e-3,
                           cg_max_iter=20, check_every=20, adapt_rho=False, relax=1.6, polish=True, cache=True,
                           verbose=False, **unknown):
    """Solve the Ergen–Pilanci program for step (12) by ADMM and certify it with a float64 dual bound.

    .. math::

        \\min_{V,W}\\; \\tfrac12 \\sum_c \\Big\\|\\sum_k D_k M (V_{k,:,c} - W_{k,:,c}) - Y_{:,c}\\Big\\|^2
        + \\beta \\sum_{k,c} \\big(\\|V_{k,:,c}\\|_2 + \\|W_{k,:,c}\\|_2\\big)
        \\quad \\text{s.t. } (2D_k - I) M V_{k,:,c} \\ge 0,\\; (2D_k - I) M W_{k,:,c} \\ge 0.

    See the module docstring for the splitting, the linear algebra, the certificate
    and what ``objective`` means.

    Parameters
    ----------
    M : array_like, shape (m, d)
        Block input, **rows are samples** (``M = Ũ_iᵀ``, bias column included).
    Y : array_like, shape (m, q) or (m,)
        Targets (the residual), rows are samples; 1-D means ``q = 1``.
    patterns : ndarray of bool, shape (m, P)
        Column ``k`` is the diagonal of ``D_k``.
    beta : float
        ``β > 0``.
    tol : float
        Target relative gap ``(objective − bound) / max(1, |objective|)``.
    max_iter : int
        Cap on ADMM iterations.
    time_limit_s : float, optional
        Wall-clock cap (checked every iteration; the final repair and bound come on top).
    rho : float, optional
        ADMM penalty ``ϱ``; default ``0.1·λ_max(FᵀF)`` (or the last ``ϱ`` used on these
        ``(M, patterns)`` when cached), then adapted by residual balancing when ``adapt_rho``.
    gamma : float, optional
        Relative weight of the cone split; default ``1/median(eig(MᵀM))``.
    dtype : {"float64", "float32"}
        Working precision of the iterations; the repair, objective and bound are float64.
    V0, W0 : array_like, shape (P, d, q), optional
        Warm start (e.g. the solution at the previous β of a path). With ``cache`` the
        duals of the last solve on the same ``(M, patterns)`` and ``ϱ`` are reused (``α``
        rescaled by the ratio of the β values; ``extra["warm_duals"]``), else ``α`` is set to
        a subgradient of the group norms at the start.
    linear_solver : {"auto", "direct", "cg"}
        ``"direct"``: Woodbury with an ``m × m`` Cholesky factor; ``"cg"``: PCG;
        ``"auto"``: direct when ``m ≤`` :data:`ADMM_DIRECT_MAX_M`.
    cg_tol, cg_max_iter : float, int
        Relative residual and iteration cap of each PCG solve (warm-started).
    check_every : int
        Iterations between cheap certificate checks.
    adapt_rho : bool
        Residual balancing (``ϱ`` ×/÷ 4 when one residual is 10× the other; at most 6
        changes; each change refactors on the direct path).
    relax : float
        Over-relaxation ``∈ (0, 2)`` (1 = none).
    cache : bool
        Reuse (and store) factorisations keyed on digests of ``(M, patterns)``.
    verbose : bool
        One line per check.

    Returns
    -------
    V, W : ndarray, shape (P, d, q), float64
        Exactly feasible (``constraint_violation(M, patterns, V, W) == 0``).
    report : SolveReport
        ``solver="ADMM"``, ``status`` ``"optimal"`` (certified ``gap_rel ≤ tol``),
        ``"max_iter"`` or ``"time_limit"``; ``objective`` (at the returned point),
        ``bound`` (best float64 ``dual_bound``), gaps, ``iterations``,
        ``compile_time_s`` (operator set-up and factorisation), ``solve_time_s`` (total
        wall time), ``certificate="restricted"`` (callers relabel ``"global"`` with all
        arrangements), ``residual`` (the constraint violation, 0), ``extra`` (``rho``,
        ``gamma``, ``linear_solver``, ``cache_hit``, ``setup_time_s``, ``cg_iterations``,
        ``rho_updates``, ``n_active_groups``, ``dropped_groups``, ``dtype``, ...).

    Raises
    ------
    ValidationError
        Bad shapes, NaN/inf, ``β ≤ 0``, a bad option value, or an unknown option
        (the message lists :data:`ADMM_OPTIONS`).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> M = np.c_[rng.standard_normal((40, 2)), np.ones(40)]
    >>> y = np.maximum(M @ [1.0, -1.0, 0.2], 0)
    >>> pats = (M @ rng.standard_normal((3, 8))) >= 0
    >>> V, W, rep = solve_convex_relu_admm(M, y, pats, 1.0, tol=1e-6)
    >>> rep.status, V.shape, rep.bound <= rep.objective, rep.residual
    ('optimal', (8, 3, 1), True, 0.0)
    """
    t_start = time.perf_counter()
    if unknown:
        raise ValidationError(
            f"unknown ADMM option(s) {sorted(unknown)}; valid options are {', '.join(ADMM_OPTIONS)}"
        )
    dt = _check_options(tol, max_iter, time_limit_s, rho, gamma, dtype, linear_solver, cg_tol, cg_max_iter,
                        check_every, adapt_rho, relax, polish, cache, verbose)
    M64, Y64, patterns, beta = _cert._program_data(M, Y, patterns, beta)
    (m, d), q, P = M64.shape, Y64.shape[1], patterns.shape[1]
    starts = [None if Z0 is None else _cert._as_groups(Z0, P, d, q, name).astype(np.float64)
              for Z0, name in ((V0, "V0"), (W0, "W0"))]
    tol, relax = float(tol), float(relax)

    ops, cache_hit = _operators(M64, patterns, dt, bool(cache))
    kind = linear_solver if linear_solver != "auto" else ("direct" if m <= ADMM_DIRECT_MAX_M else "cg")
    lam_mtm = max(float(ops.lam_M[-1]), 1e-300)
    if gamma is None:  # the cone split weighted like I in the median direction of MᵀM
        pos_eigs = ops.lam_M[ops.lam_M > 1e-12 * lam_mtm]
        gamma = 1.0 / float(np.median(pos_eigs))
    gamma = float(gamma)
    if rho is not None:
        rho = float(rho)
    elif ops.last_rho is not None and ops.last_rho[1] == gamma:
        rho = ops.last_rho[0]
    else:
        rho = RHO_SCALE * max(ops.fit_lmax, 1e-300)
    had_factor = ("direct", rho, gamma) in ops.factors
    lin = _LinearSolver(ops, rho, gamma, kind, float(cg_tol), int(cg_max_iter))
    cache_hit = bool(cache_hit and (kind == "cg" or had_factor))
    setup_s = time.perf_counter() - t_start

    Yw = np.ascontiguousarray(Y64, dtype=dt)
    Mw, Dw, Sw = ops.M, ops.D, ops.S
    shape = (d, 2, P, q)
    y_norm2 = float(np.sum(Y64 * Y64))
    DY = Dw[:, :, None] * Yw[:, None, :]  # (m, P, q): D_k y_c, used in Fᵀy

    # --- state
    Z = np.zeros(shape, dtype=dt)
    if starts[0] is not None:
        Z[:, 0] = starts[0].transpose(1, 0, 2)
    if starts[1] is not None:
        Z[:, 1] = starts[1].transpose(1, 0, 2)
    alpha = np.zeros(shape, dtype=dt)
    MU = (Mw @ Z.reshape(d, -1)).reshape(m, 2, P, q)
    GU = MU * Sw[:, None, :, None]
    s = np.maximum(GU, 0.0)
    nu = np.zeros_like(s)
    warm_duals = False
    if starts[0] is not None or starts[1] is not None:
        last = ops.last_state
        if cache and last is not None and last["alpha"].shape == shape and last["rho"] == rho \
                and last["gamma"] == gamma:  # duals of the last solve on these (M, patterns), α rescaled by β
            alpha = (last["alpha"] * (beta / last["beta"])).astype(dt)
            nu = last["nu"].astype(dt, copy=True)
            warm_duals = True
        else:  # α ∈ (β/ϱ) ∂‖z‖ on the active groups
            nz = np.sqrt(np.einsum("dspq,dspq->spq", Z, Z))
            alpha = (Z * (beta / rho / np.maximum(nz, 1e-300))[None]).astype(dt)

    best = {"bound": -math.inf, "details": {}}
    n_iter, rho_updates, checks, polished = 0, 0, 0, 0
    status = None
    cheap_gap = math.inf
    last_support, next_rigorous = b"", 0
    V = W = None
    obj = math.inf
    dropped = 0

    def elapsed():
        return time.perf_counter() - t_start

    def evaluate(lam, mu, Xz):
        """float64 bound from (λ, μ ≥ 0) and objective at the repaired groups ``Xz``; keeps the best of each."""
        nonlocal V, W, obj, dropped
        mu_pos = np.ascontiguousarray(mu[:, 0].transpose(1, 0, 2), dtype=np.float64)
        mu_neg = np.ascontiguousarray(mu[:, 1].transpose(1, 0, 2), dtype=np.float64)
        lam = np.asarray(lam, dtype=np.float64)
        Vz, Wz = to_VW(Xz)
        _polish_multipliers(M64, patterns, beta, lam, mu_pos, mu_neg, Vz, Wz, max_rows=4 * d)
        b, det = _cert.dual_bound(M64, Y64, patterns, beta, lam, mu_pos=mu_pos, mu_neg=mu_neg)
        if b > best["bound"]:
            best.update(bound=float(b), details=det)
        Vr, Wr, dr = _repair(ops, M64, Xz)
        o = _cert.convex_objective(M64, Y64, patterns, Vr, Wr, beta)
        if o < obj or V is None:
            V, W, obj, dropped = Vr, Wr, o, dr

    def rigorous(lam, mu, Xz):
        """Certify the ADMM point and, with ``polish``, its active-set Newton polish; returns gap_rel."""
        nonlocal checks, polished
        checks += 1
        evaluate(lam, mu, Xz)
        norms = np.sqrt(np.einsum("dspq,dspq->spq", Xz, Xz))
        tried = set()
        for rel in _POLISH_PRUNE:  # polish on the support, without its smallest groups
            if not polish or (obj - best["bound"]) / max(1.0, abs(obj)) <= tol:
                break
            keep = norms > rel * norms.max(axis=(0, 1), keepdims=True)
            if keep.tobytes() in tried or not keep.any():
                continue
            tried.add(keep.tobytes())
            out = _newton_polish(M64, Y64, patterns, beta, np.where(keep[None], Xz, 0.0), mu)
            if out is None:
                continue
            Xp, mu_p = out
            polished += 1
            active = np.any(Xp != 0, axis=0)  # (2, P, q)
            mu_c = np.where(active[None], mu_p, mu)
            Vp, Wp = to_VW(Xp)
            evaluate(Y64 - _cert.pattern_fit(M64, patterns, Vp - Wp), mu_c, Xp)
        return (obj - best["bound"]) / max(1.0, abs(obj))

    while True:
        if n_iter >= max_iter:
            status = "max_iter"
            break
        if time_limit_s is not None and elapsed() >= time_limit_s:
            status = "time_limit"
            break
        n_iter += 1
        # ---- u-update
        T = Sw[:, None, :, None] * (s - nu)  # (m, 2, P, q)
        Ea = gamma * (T[:, 0] - T[:, 1]) + (2.0 / rho) * DY
        Eb = gamma * (T[:, 0] + T[:, 1])
        RHS_ab = (Mw.T @ np.stack([Ea, Eb], axis=1).reshape(m, -1)).reshape(shape)
        R = Z - alpha
        R[:, 0] += 0.5 * (RHS_ab[:, 0] + RHS_ab[:, 1])  # back from (a, b) to (v, w) coordinates
        R[:, 1] += 0.5 * (RHS_ab[:, 1] - RHS_ab[:, 0])
        U = lin.solve(R)
        MU = (Mw @ U.reshape(d, -1)).reshape(m, 2, P, q)
        GU = MU * Sw[:, None, :, None]
        # ---- over-relaxation, z- and s-updates, duals
        Uh = relax * U + (1.0 - relax) * Z
        GUh = relax * GU + (1.0 - relax) * s
        check = n_iter % check_every == 0 or n_iter == max_iter
        if check:
            dual_vec = rho * (U + alpha - Z)  # Fᵀλ + Gᵀμ (relax = 1); an estimate of ρ_{k,c,s}
        Z_old, s_old = Z, s
        Z = group_shrink(Uh + alpha, beta / rho)
        alpha = alpha + Uh - Z
        s = np.maximum(GUh + nu, 0.0)
        nu = nu + GUh - s
        if not check:
            continue
        # ---- cheap certificate and residuals
        lam = Yw - np.einsum("mpq,mp->mq", MU[:, 0] - MU[:, 1], Dw)
        lam64 = lam.astype(np.float64)
        rho_c = np.sqrt(np.einsum("dspq,dspq->spq", dual_vec, dual_vec)).max(axis=(0, 1)).astype(np.float64)
        lin_c = np.einsum("mq,mq->q", lam64, Y64)
        quad_c = np.einsum("mq,mq->q", lam64, lam64)
        cheap_bound = float(_cert.scaled_bound(lin_c, quad_c, rho_c, beta)[0].sum())
        act = np.nonzero(np.einsum("dspq,dspq->spq", Z, Z).reshape(-1) > 0)[0]  # non-zero groups of z
        Zf = Z.reshape(d, -1)[:, act]
        MZ = Mw @ Zf  # (m, n_active)
        sgn_pq = np.broadcast_to(np.array([1.0, -1.0])[:, None, None], (2, P, q)).reshape(-1)[act]
        pat_of = np.broadcast_to(np.arange(P)[None, :, None], (2, P, q)).reshape(-1)[act]
        out_of = np.broadcast_to(np.arange(q)[None, None, :], (2, P, q)).reshape(-1)[act]
        fitz = np.zeros((m, q))
        np.add.at(fitz.T, out_of, (MZ * (Dw[:, pat_of] * sgn_pq)).T)
        r_fit = Y64 - fitz
        cheap_obj = 0.5 * float(np.sum(r_fit * r_fit)) + beta * float(
            np.sqrt(np.einsum("dspq,dspq->spq", Z, Z)).sum())
        viol_z = float(np.maximum(-(MZ * Sw[:, pat_of]), 0.0).max(initial=0.0)) / max(
            math.sqrt(lam_mtm) * math.sqrt(float(np.einsum("dn,dn->n", Zf, Zf).max(initial=0.0))), 1e-300)
        cheap_gap = (cheap_obj - cheap_bound) / max(1.0, abs(cheap_obj))
        r_prim = math.sqrt(float(np.vdot(U - Z, U - Z)) + gamma * float(np.vdot(GU - s, GU - s)))
        r_dual = rho * math.sqrt(float(np.vdot(Z - Z_old, Z - Z_old)) + gamma * lam_mtm * float(
            np.vdot(s - s_old, s - s_old)))
        if verbose:
            print(f"it={n_iter:6d} obj~={cheap_obj:.10g} bound~={cheap_bound:.10g} gap~={cheap_gap:.2e} "
                  f"viol={viol_z:.1e} r_p={r_prim:.2e} r_d={r_dual:.2e} rho={rho:.3g} cg={lin.cg_iters} t={elapsed():.2f}s")
        support = np.packbits(np.einsum("dspq,dspq->spq", Z, Z).reshape(-1) > 0).tobytes()
        settled = support == last_support and viol_z <= 1e-2 and n_iter >= next_rigorous
        last_support = support
        if settled or (cheap_gap <= tol and viol_z <= tol and n_iter >= next_rigorous):
            next_rigorous = n_iter + check_every * 2 ** min(checks, 3)
            mu = (-(rho * gamma)) * nu
            gap = rigorous(lam64, np.maximum(mu, 0.0), Z)
            if verbose:
                print(f"         rigorous: obj={obj:.10g} t={elapsed():.2f}s bound={best['bound']:.10g} gap={gap:.2e}")
            if gap <= tol:
                status = "optimal"
                break
        # ---- residual balancing (ϱ fixed per factorisation; a change refactors)
        if adapt_rho and rho_updates < _RHO_MAX_UPDATES and n_iter % (5 * check_every) == 0:
            factor = 1.0
            if r_prim > _RHO_RATIO * r_dual:
                factor = _RHO_FACTOR
            elif r_dual > _RHO_RATIO * r_prim:
                factor = 1.0 / _RHO_FACTOR
            if factor != 1.0:
                rho *= factor
                alpha = (alpha / factor).astype(dt, copy=False)
                nu = (nu / factor).astype(dt, copy=False)
                a_prev = lin.a_prev
                cg_done = lin.cg_iters
                lin = _LinearSolver(ops, rho, gamma, kind, float(cg_tol), int(cg_max_iter))
                lin.a_prev, lin.cg_iters = a_prev, cg_done
                rho_updates += 1

    if V is None or status != "optimal":
        lam = Y64 - np.einsum("mpq,mp->mq", (MU[:, 0] - MU[:, 1]).astype(np.float64), patterns.astype(np.float64))
        rigorous(lam, np.maximum((-(rho * gamma)) * nu, 0.0), Z)
    if 0.5 * y_norm2 < obj:  # the zero network is exactly feasible too
        V, W, obj = np.zeros_like(V), np.zeros_like(W), 0.5 * y_norm2
    ops.last_rho = (rho, gamma)
    if cache:
        ops.last_state = {"alpha": alpha, "nu": nu, "rho": rho, "gamma": gamma, "beta": beta}
    bound = float(best["bound"])
    gap_abs, gap_rel = SolveReport.gaps(obj, bound)
    if status != "optimal" and gap_rel is not None and gap_rel <= tol:
        status = "optimal"  # the final repair and bound met the tolerance
    viol = _cert.constraint_violation(M64, patterns, V, W)
    nv, nw = np.linalg.norm(V, axis=1), np.linalg.norm(W, axis=1)
    top = max(float(nv.max()), float(nw.max()), 0.0)
    extra = {
        "n_patterns": P, "iterations": n_iter, "rho": rho, "gamma": gamma, "linear_solver": kind,
        "cache_hit": cache_hit, "setup_time_s": setup_s, "cg_iterations": lin.cg_iters,
        "rho_updates": rho_updates, "certificate_checks": checks, "polished": polished, "dtype": dt.name,
        "n_active_groups": int((nv > 1e-6 * top).sum() + (nw > 1e-6 * top).sum()) if top > 0 else 0,
        "dropped_groups": dropped, "cheap_gap_rel": cheap_gap, "warm_duals": warm_duals,
        "bound_rho": best["details"].get("rho"), "bound_t": best["details"].get("t"),
        "zero_objective": 0.5 * y_norm2,
    }
    return V, W, SolveReport(
        problem="convex_relu", solver="ADMM", status=status, objective=float(obj), bound=bound, gap_abs=gap_abs,
        gap_rel=gap_rel, iterations=n_iter, compile_time_s=setup_s, solve_time_s=elapsed(),
        certificate="restricted", residual=float(viol), extra=extra,
    )
