"""ADMM engine for the Ergen–Pilanci program (12), with factorisations reused across calls and a dual certificate.

The program (see :mod:`cvximplicit.solvers.relu.certificate`; one-vs-all outputs, **rows of
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
``ρ_{k,c,s}`` of :func:`~cvximplicit.solvers.relu.certificate.dual_bound`; they approach
``≤ β`` as ``z`` settles. Stopping uses that cheap value; the **reported** bound is
always :func:`~cvximplicit.solvers.relu.certificate.dual_bound` recomputed in float64 from
``(λ, μ)`` (valid for any ``λ`` and ``μ ≥ 0``), the best one seen is kept.

**What ``objective`` means.** The float64
:func:`~cvximplicit.solvers.relu.certificate.convex_objective` at the **returned** ``(V, W)``,
which is exactly feasible (``constraint_violation == 0``): each non-zero group of ``z`` is
moved into its cone (minimum-norm correction on its violated rows with a round-off margin,
else along an interior direction of the cone, else set to zero; see :mod:`._admm_repair`).
So ``objective ≥ p* ≥ bound`` and ``gap_rel`` is a true certificate.

**Row space.** Rank-deficient ``M`` is solved exactly on ``M Q`` (``Q`` an orthonormal
basis of its row space; same optimal value) and re-certified on ``M``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ...exceptions import ValidationError
from ..core.report import SolveReport, engine_certificate_kind
from ..relu import certificate as _cert
from . import _admm_ops as _ops
from . import _admm_repair as _rep
from . import _admm_rho as _rho
from ._admm_ops import ADMM_DIRECT_MAX_M, clear_admm_cache
from ._admm_rho import ADMM_OPTIONS
from ._groups import group_shrink, to_VW

__all__ = ["ADMM_DIRECT_MAX_M", "ADMM_OPTIONS", "clear_admm_cache", "solve_convex_relu_admm"]

# --------------------------------------------------------------------------- the engine
def solve_convex_relu_admm(M, Y, patterns, beta, *, tol=1e-6, max_iter=5000, time_limit_s=None, rho=None,
                           gamma=None, dtype="float64", V0=None, W0=None, linear_solver="auto", cg_tol=1e-3,
                           cg_max_iter=20, check_every=20, adapt_rho=False, relax=1.6, polish=True, cache=True,
                           verbose=False, row_space=True, **unknown):
    """Solve the Ergen–Pilanci program for step (12) by ADMM and certify it with a float64 dual bound.

    The iteration is one loop over shared state (:func:`_solve`); the operators and linear
    solver, the repair/polish/re-fit and the options/penalty are in :mod:`._admm_ops`,
    :mod:`._admm_repair` and :mod:`._admm_rho`.

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
        Wall-clock cap from the call, read every iteration and inside the polish, the
        multiplier re-fit and the repair; past it only one ``dual_bound`` (and, with the
        row-space reduction, its recomputation on ``M``) runs, and groups not yet repaired are zeroed.
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
    row_space : bool
        Solve on ``M Q`` (``Q`` an orthonormal basis of the row space of ``M``, zero columns
        dropped) when ``M`` is rank deficient, then map back ``V = Q Ṽ`` and re-certify on
        ``M``: exact (same optimal value, norms preserved; ``extra["row_space_rank"]``).

    Returns
    -------
    V, W : ndarray, shape (P, d, q), float64
        Exactly feasible (``constraint_violation(M, patterns, V, W) == 0``).
    report : SolveReport
        ``solver="ADMM"``, ``status`` ``"optimal"`` (certified ``gap_rel ≤ tol``),
        ``"max_iter"`` or ``"time_limit"``; ``objective`` (at the returned point),
        ``bound`` (best float64 ``dual_bound``), gaps, ``iterations``,
        ``compile_time_s`` (operator set-up and factorisation), ``solve_time_s`` (total
        wall time), ``certificate`` ``"restricted"`` when certified to ``tol``, else ``"none"``
        (the rule of :func:`~cvximplicit.solvers.core.report.gap_certified`; callers relabel ``"global"``
        with all arrangements), ``residual`` (the constraint violation, 0), ``extra`` (``rho``,
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
    dt = _rho._check_options(tol, max_iter, time_limit_s, rho, gamma, dtype, linear_solver, cg_tol, cg_max_iter,
                        check_every, adapt_rho, relax, polish, cache, verbose)
    M64, Y64, patterns, beta = _cert._program_data(M, Y, patterns, beta)
    d, q, P = M64.shape[1], Y64.shape[1], patterns.shape[1]
    starts = [None if Z0 is None else _cert._as_groups(Z0, P, d, q, name).astype(np.float64)
              for Z0, name in ((V0, "V0"), (W0, "W0"))]
    if not isinstance(row_space, (bool, np.bool_)):
        raise ValidationError(f"row_space must be True or False; got row_space={row_space!r}")
    red = _ops._row_space(M64, bool(cache)) if row_space else None
    Mr = M64 if red is None else red[1]
    if red is not None:  # solve on M Q, V = Q Ṽ (exact: M V = (M Q)(Qᵀ V) and ‖Qᵀ v‖ ≤ ‖v‖)
        starts = [None if Z0 is None else np.einsum("dr,pdq->prq", red[0], Z0) for Z0 in starts]
    V, W, rep, dual = _solve(Mr, Y64, patterns, beta, starts, t_start, dt, float(tol), max_iter, time_limit_s,
                             rho, gamma, linear_solver, cg_tol, cg_max_iter, check_every, adapt_rho, float(relax),
                             polish, cache, verbose)
    if red is None:
        return V, W, rep
    return _rep._lift(red, M64, Y64, patterns, beta, V, W, rep, dual, float(tol), t_start)


def _solve(M64, Y64, patterns, beta, starts, t_start, dt, tol, max_iter, time_limit_s, rho, gamma, linear_solver,
           cg_tol, cg_max_iter, check_every, adapt_rho, relax, polish, cache, verbose):
    """The ADMM loop on validated float64 data; returns ``V, W, report`` and the best ``(λ, μ⁺, μ⁻)``."""
    (m, d), q, P = M64.shape, Y64.shape[1], patterns.shape[1]
    ops, cache_hit = _ops._operators(M64, patterns, dt, bool(cache))
    kind = linear_solver if linear_solver != "auto" else ("direct" if m <= ADMM_DIRECT_MAX_M else "cg")
    lam_mtm = max(float(ops.lam_M[-1]), 1e-300)
    rho, gamma = _rho._penalty(ops, rho, gamma)
    had_factor = ("direct", rho, gamma) in ops.factors
    lin = _ops._LinearSolver(ops, rho, gamma, kind, float(cg_tol), int(cg_max_iter))
    cache_hit = bool(cache_hit and (kind == "cg" or had_factor))
    setup_s = time.perf_counter() - t_start

    Yw = np.ascontiguousarray(Y64, dtype=dt)
    Mw, Dw, Sw = ops.M, ops.D, ops.S
    shape = (d, 2, P, q)
    y_norm2 = float(np.sum(Y64 * Y64))
    DY = Dw[:, :, None] * Yw[:, None, :]  # (m, P, q): D_k y_c, used in Fᵀy

    # --- state
    Z = np.zeros(shape, dtype=dt)
    for j, Z0 in enumerate(starts):
        if Z0 is not None:
            Z[:, j] = Z0.transpose(1, 0, 2)
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
    n_iter, rho_updates, checks, polished, dropped = 0, 0, 0, 0, 0
    status, V, W, obj, cheap_gap = None, None, None, math.inf, math.inf
    last_support, next_rigorous = b"", 0
    polish_spent = [0.0]  # multiply-adds spent in the polish so far
    iter_work = 2.0 * m * d * 2 * P * q * 2  # the two GEMMs with M of one iteration
    deadline = None if time_limit_s is None else t_start + float(time_limit_s)

    def elapsed():
        return time.perf_counter() - t_start

    def out_of_time():
        return deadline is not None and time.perf_counter() > deadline

    def evaluate(lam, mu, Xz):
        """float64 bound from (λ, μ ≥ 0) and objective at the repaired groups ``Xz``; keeps the best of each."""
        nonlocal V, W, obj, dropped
        mu_pos = np.ascontiguousarray(mu[:, 0].transpose(1, 0, 2), dtype=np.float64)
        mu_neg = np.ascontiguousarray(mu[:, 1].transpose(1, 0, 2), dtype=np.float64)
        lam = np.asarray(lam, dtype=np.float64)
        Vz, Wz = to_VW(Xz)
        if not out_of_time():
            _rep._polish_multipliers(M64, patterns, beta, lam, mu_pos, mu_neg, Vz, Wz, max_rows=4 * d)
        b, det = _cert.dual_bound(M64, Y64, patterns, beta, lam, mu_pos=mu_pos, mu_neg=mu_neg)
        if b > best["bound"]:
            best.update(bound=float(b), details=det, dual=(lam, mu_pos, mu_neg))
        if V is not None and out_of_time():
            return
        Vr, Wr, dr = _rep._repair(ops, M64, Xz, deadline=deadline)
        o = _cert.convex_objective(M64, Y64, patterns, Vr, Wr, beta)
        if o < obj or V is None:
            V, W, obj, dropped = Vr, Wr, o, dr

    def rigorous(lam, mu, Xz):
        """Certify the ADMM point and, with ``polish``, its active-set Newton polish; returns gap_rel."""
        nonlocal checks, polished
        checks += 1
        evaluate(lam, mu, Xz)
        norms = np.sqrt(np.einsum("dspq,dspq->spq", Xz, Xz))
        tried = set()  # the polish may do as much work as the iterations so far (counted, not timed)
        budget = _rep.PolishBudget(max(n_iter * iter_work - 2 * polish_spent[0], _rep._POLISH_MIN_WORK))
        for rel in _rep._POLISH_PRUNE:  # polish on the support, without its smallest groups
            if not polish or (obj - best["bound"]) / max(1.0, abs(obj)) <= tol or out_of_time():
                break
            keep = norms > rel * norms.max(axis=(0, 1), keepdims=True)
            if keep.tobytes() in tried or not keep.any():
                continue
            tried.add(keep.tobytes())
            out = _rep._newton_polish(M64, Y64, patterns, beta, np.where(keep[None], Xz, 0.0), mu,
                                      deadline=deadline, budget=budget)
            if out is None:
                continue
            Xp, mu_p = out
            polished += 1
            mu_c = np.where(np.any(Xp != 0, axis=0)[None], mu_p, mu)
            Vp, Wp = to_VW(Xp)
            evaluate(Y64 - _cert.pattern_fit(M64, patterns, Vp - Wp), mu_c, Xp)
        polish_spent[0] += budget.spent
        return (obj - best["bound"]) / max(1.0, abs(obj))

    while True:
        if n_iter >= max_iter:
            status = "max_iter"
            break
        if out_of_time():
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
        lam64, cheap_obj, cheap_bound, viol_z = _ops._cheap_check(ops, Yw, Y64, Z, MU, dual_vec, beta)
        cheap_gap = (cheap_obj - cheap_bound) / max(1.0, abs(cheap_obj))
        r_prim = math.sqrt(float(np.vdot(U - Z, U - Z)) + gamma * float(np.vdot(GU - s, GU - s)))
        r_dual = rho * math.sqrt(float(np.vdot(Z - Z_old, Z - Z_old)) + gamma * lam_mtm * float(
            np.vdot(s - s_old, s - s_old)))
        if verbose:
            print(f"it={n_iter:6d} obj~={cheap_obj:.10g} bound~={cheap_bound:.10g} gap~={cheap_gap:.2e} "
                  f"viol={viol_z:.1e} r_p={r_prim:.2e} r_d={r_dual:.2e} rho={rho:.3g} cg={lin.cg_iters} "
                  f"t={elapsed():.2f}s")
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
        factor = _rho._balance_factor(r_prim, r_dual) if adapt_rho and rho_updates < _rho._RHO_MAX_UPDATES and \
            n_iter % (5 * check_every) == 0 else 1.0
        if factor != 1.0:  # ϱ fixed per factorisation: a change refactors
            rho *= factor
            alpha, nu = (alpha / factor).astype(dt, copy=False), (nu / factor).astype(dt, copy=False)
            a_prev, cg_done = lin.a_prev, lin.cg_iters
            lin = _ops._LinearSolver(ops, rho, gamma, kind, float(cg_tol), int(cg_max_iter))
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
        certificate=engine_certificate_kind(gap_rel, float(viol), tol), residual=float(viol), extra=extra,
    ), best.get("dual")
