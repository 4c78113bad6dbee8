"""First-order engine for the Ergen–Pilanci program (12): augmented Lagrangian + FISTA, with a dual certificate.

The loss is squared or, with ``loss="cross_entropy"``, ``Σ_i ℓ(Z0_i + F_i; y_i)`` of
:mod:`cvximplicit.solvers.cross_entropy.certificate_ce` (loss objects: :mod:`cvximplicit.solvers.engines.losses`).
Below, ``½‖Fz − Y‖²`` stands for the loss and ``λ = Y − Fz`` for ``−∇_F`` of it.

The program (see :mod:`cvximplicit.solvers.relu.certificate`; one-vs-all outputs, rows of
``M`` are samples, ``patterns[:, k]`` is the diagonal of ``D_k``, ``V, W`` are ``(P, d, q)``):

.. math::

    \\min_{V,W}\\; \\tfrac12 \\sum_c \\Big\\|\\sum_k D_k M (V_{k,:,c} - W_{k,:,c}) - Y_{:,c}\\Big\\|^2
    + \\beta \\sum_{k,c} \\big(\\|V_{k,:,c}\\|_2 + \\|W_{k,:,c}\\|_2\\big)
    \\quad \\text{s.t. } g = (2D_k - I) M z_{k,c} \\ge 0 \\text{ for every group } z \\in \\{V, W\\}.

**Method.** The method of multipliers on the cone constraints (as scnn does). With
multipliers ``μ ≥ 0`` (one per constraint row, shape ``(2, P, m, q)`` internally) and
penalty ``ϱ`` the inner problem is

.. math::

    \\min_z\\; \\tfrac12\\|F z - Y\\|^2 + \\tfrac{\\varrho}{2} \\big\\|(\\mu/\\varrho - G z)_+\\big\\|^2
    + \\beta \\sum_{\\text{groups}} \\|z_g\\|_2,

solved by FISTA with gradient-based adaptive restart (O'Donoghue & Candès) and the
group soft-threshold prox; the step is ``1/L`` found by backtracking (sufficient
decrease of the smooth part, ``L`` shrunk by 0.9 per step, doubled on failure) between
``2 κ λ_max(AᵀA)`` and the global bound ``1.02 · 2 κ λ_max(AᵀA) + ϱ ‖M‖₂²`` (``κ`` the loss
curvature: 1 squared, ½ cross-entropy)
(``A z = Σ_k D_k M z_k``, power iteration): the penalty's curvature only involves the
few rows where ``(μ/ϱ − G z)_+ > 0``, so the global bound is far too pessimistic. The
outer update is ``μ ← (μ − ϱ G z)_+``. Everything is vectorised over patterns,
signs and outputs: one iteration is one product ``M @ (d × 2Pq)`` and one
``Mᵀ @ (m × 2Pq)``; ``M y`` of the extrapolated point is the same linear combination
of ``M x`` values, so it costs no product. Nothing of size ``m·P·d`` is formed.

**Certificate.** At the extrapolated point ``y`` the smooth gradient of a group is
``−Mᵀ(s D_k λ + (2D_k − I) μ̃)`` with ``λ = Y − F y`` and ``μ̃ = (μ − ϱ G y)_+ ≥ 0``, so its
column norms are exactly the dual-constraint values ``ρ_{k,c,s}`` of
:func:`~cvximplicit.solvers.relu.certificate.dual_bound`: a cheap bound comes with every
iteration (at an exact inner minimiser, ``ρ ≤ β`` and the gap is ``μ̃ᵀ G x``). Stopping
decisions use it; the **reported** bound is always recomputed in float64 by
:func:`~cvximplicit.solvers.relu.certificate.dual_bound` (cross-entropy:
:func:`~cvximplicit.solvers.cross_entropy.certificate_ce.ce_dual_bound`), valid for any ``λ`` and
``μ ≥ 0`` whatever the iterate, and the largest such bound seen is kept.

**What ``objective`` means.** The float64 convex objective at the returned ``(V, W)``.
The augmented Lagrangian iterate may violate the cone constraints slightly; that
relative violation (:func:`~cvximplicit.solvers.relu.certificate.constraint_violation`)
is reported as ``residual``, and ``status="optimal"`` requires it to be at most
``feas_tol`` as well as ``gap_rel ≤ tol``. With a violation the convex objective is
not guaranteed to be ≥ the optimum, so ``extra["network_objective"]`` also gives the
objective of the decoded network (every non-zero group, ``V/√‖V‖``, ``±√‖V‖``), which
is always a true upper bound on the global nonconvex optimum (and hence, with all
arrangements, on the program's optimum).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..._params import Int, Real, check_params
from ..core._checks import _as_float_dtype, _as_groups, _program_data
from ..core.report import SolveReport, engine_certificate_kind
from ..relu.program import decode
from ._groups import group_shrink, to_VW
from .losses import check_loss, make_loss, polish_multipliers, power_lambda_max

__all__ = ["solve_convex_relu_first_order", "AL_PENALTY_DEFAULT"]

#: Default augmented-Lagrangian penalty ``ϱ`` (dimensionless: the penalty Hessian is
#: ``ϱ GᵀG`` with ``‖G_k‖ = ‖M‖₂``, the fit Hessian is ``FᵀF``).
AL_PENALTY_DEFAULT = 30.0

_INNER_MAX = 500
_EPS_IN0 = 0.1
_EPS_FLOOR = 0.1
_INACCURATE_VIOL = 10.0
_BT_DECREASE = 0.9
_BT_SLACK = {"float64": 1e-12, "float32": 1e-5}


def _validate(M, Y, patterns, beta, tol, max_iter, time_limit_s, dtype, V0, W0, feas_tol, rho, loss, offset):
    M, Y, patterns, beta = _program_data(M, Y, patterns, beta)
    Y, offset = check_loss(loss, Y, offset)
    (m, d), q, P = M.shape, Y.shape[1], patterns.shape[1]
    positive = Real(0.0, closed="neither")
    check_params("FISTA", locals(), {"tol": [positive], "max_iter": [Int(0)], "time_limit_s": [None, positive],
                                     "feas_tol": [None, positive], "rho": [None, positive]})
    dtype = _as_float_dtype(dtype)
    if feas_tol is None:
        feas_tol = max(float(tol), 1e-6)
    starts = [None if Z is None else _as_groups(Z, P, d, q, n).astype(float) for Z, n in ((V0, "V0"), (W0, "W0"))]
    return (M, Y, patterns, beta, float(tol), int(max_iter), time_limit_s, dtype, starts, float(feas_tol),
            None if rho is None else float(rho), offset)


class _Engine:
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


def solve_convex_relu_first_order(M, Y, patterns, beta, *, tol=1e-6, max_iter=10_000, time_limit_s=None,
                                  dtype=np.float64, V0=None, W0=None, verbose=False, feas_tol=None,
                                  rho=None, check_every=10, loss="squared", offset=None):
    """Solve the Ergen–Pilanci program for step (12) with a first-order method and certify it.

    Augmented Lagrangian on the cone constraints, FISTA with restart on each inner
    problem, group soft-thresholding for ``β Σ‖z_g‖`` (see the module docstring for
    the maths and what ``objective`` means). One function on purpose: its loops share
    about a dozen pieces of state (iterate, products, step, multipliers, best bound).

    Parameters
    ----------
    M : array_like, shape (m, d)
        Block input, **rows are samples** (``M = Ũ_iᵀ``, bias column included).
    Y : array_like, shape (m, q) or (m,)
        Targets (the residual ``Ỹᵀ``), rows are samples; 1-D means ``q = 1``. With
        ``loss="cross_entropy"``: ``(m, q)``, ``q ≥ 2``, rows in the simplex (one-hot labels).
    patterns : ndarray of bool, shape (m, P)
        Column ``k`` is the diagonal of ``D_k``.
    beta : float
        ``β > 0``.
    tol : float
        Target relative duality gap ``gap_rel = (objective − bound) / max(1, |objective|)``.
    max_iter : int
        Cap on the total number of FISTA iterations (all outer iterations together).
    time_limit_s : float, optional
        Wall-clock cap; checked every iteration.
    dtype : {numpy.float64, numpy.float32}
        Working precision of the iterations. The certificate and the objective are
        always evaluated in float64 and the returned arrays are float64.
    V0, W0 : array_like, shape (P, d, q), optional
        Warm start (e.g. the previous β of a path); zeros by default.
    verbose : bool
        Print one line per certificate check.
    feas_tol : float, optional
        Largest relative constraint violation accepted for ``"optimal"``
        (default ``max(tol, 1e-6)``).
    rho : float, optional
        Augmented-Lagrangian penalty ``ϱ``. Default: ``ϱ‖M‖₂² =`` :data:`AL_PENALTY_DEFAULT`
        ``× 2λ_max(AᵀA)`` (the penalty curvature a fixed multiple of the fit curvature).
        Larger ``ϱ`` drives the violation down in fewer multiplier updates but slows
        each inner FISTA solve.
    check_every : int
        Iterations between cheap certificate checks.
    loss : {"squared", "cross_entropy"}
        The loss of the fit (see the module docstring).
    offset : array_like, shape (m, q), optional
        Fixed logits ``Z0`` added to the fit (the earlier blocks' output); squared loss:
        the targets become ``Y − Z0``.

    Returns
    -------
    V, W : ndarray, shape (P, d, q), float64
    report : SolveReport
        ``problem="convex_relu"`` (``"convex_relu_ce"`` for cross-entropy), ``solver="FISTA"``,
        ``status`` ``"optimal"`` (certified
        ``gap_rel ≤ tol`` and violation ``≤ feas_tol``), ``"optimal_inaccurate"`` (stopped
        on a cap with ``|gap_rel| ≤ tol`` but the violation in ``(feas_tol, 10·feas_tol]``),
        else ``"max_iter"`` or ``"time_limit"``. A *negative* ``gap_rel`` means the
        iterate violates the cone constraints enough that its convex objective is
        below the (valid) bound; ``objective``, ``bound``, gaps,
        ``iterations``, ``solve_time_s``, ``certificate`` (``"restricted"`` when
        :func:`~cvximplicit.solvers.core.report.gap_certified`, else ``"none"``; callers
        relabel ``"global"`` when the patterns are all arrangements), ``residual`` =
        the relative constraint violation, ``extra`` (``n_patterns``,
        ``outer_iterations``, ``dtype``, ``network_objective``, ``al_penalty``,
        ``lipschitz``, ``certificate_checks``, ``rho``/``t`` of the bound,
        ``feasible_objective`` — the objective of an exactly feasible point, the
        returned one when its violation is 0, else ``V = W = 0`` (``½‖Y‖²``, or ``Σ ℓ(Z0_i; y_i)``) — and
        ``certified_gap_rel`` = ``(feasible_objective − bound) / max(1, |·|)``, a gap
        that holds whatever the violation).

    Raises
    ------
    ValidationError
        Shape mismatch, NaN/inf, ``β ≤ 0``, patterns not a bool ``(m, P)`` array,
        bad options, cross-entropy targets off the simplex.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> M = np.c_[rng.standard_normal((40, 2)), np.ones(40)]
    >>> y = np.maximum(M @ [1.0, -1.0, 0.2], 0)
    >>> pats = (M @ rng.standard_normal((3, 8))) >= 0
    >>> V, W, rep = solve_convex_relu_first_order(M, y, pats, 1.0, tol=1e-5, max_iter=30_000)
    >>> rep.status, V.shape, rep.bound <= rep.objective, rep.gap_rel <= 1e-5
    ('optimal', (8, 3, 1), True, True)
    """
    t_start = time.perf_counter()
    (M, Y, patterns, beta, tol, max_iter, time_limit_s, dtype, (V0, W0), feas_tol, al_rho, offset) = _validate(
        M, Y, patterns, beta, tol, max_iter, time_limit_s, dtype, V0, W0, feas_tol, rho, loss, offset)
    check_params("FISTA", {"check_every": check_every}, {"check_every": [Int(1)]})
    fit = make_loss(loss, M, Y, patterns, beta, offset, dtype)  # validated above
    program = fit.program  # the float64 objective, violation and certificate
    eng = _Engine(M, Y.shape[1], patterns, dtype)
    m, P, q = eng.m, eng.P, eng.q

    lam_a, lam_m = power_lambda_max(eng.M, eng.Dm)
    fit_L = 1.02 * 2.0 * lam_a * fit.curvature
    norm_m2 = 1.02 * lam_m
    if al_rho is None:  # penalty curvature ϱ‖M‖² a fixed multiple of the fit curvature
        al_rho = AL_PENALTY_DEFAULT * fit_L / max(norm_m2, 1e-300)

    row_scale = math.sqrt(float(np.max(np.einsum("md,md->m", M, M))))
    X = np.zeros(eng.shape, dtype=dtype)
    if V0 is not None:
        X[:, 0] = V0.transpose(1, 0, 2)
    if W0 is not None:
        X[:, 1] = W0.transpose(1, 0, 2)
    MX = eng.forward(X)
    mu = np.zeros((m, 2, P, q), dtype=dtype)  # multipliers, laid out like M X
    zero_obj = fit.zero_objective()

    best = {"bound": -math.inf, "details": {}, "iter": 0}
    n_iter = 0
    outer = 0
    checks = 0
    status = None
    last_obj = math.inf
    cheap_gap_rel = math.inf

    def elapsed():
        return time.perf_counter() - t_start

    def certify(lam, mu_t):
        """Rigorous float64 bound from (λ, μ̃); keeps the best one."""
        nonlocal checks
        checks += 1
        mu_pos = np.ascontiguousarray(mu_t[:, 0].transpose(1, 0, 2), dtype=np.float64)
        mu_neg = np.ascontiguousarray(mu_t[:, 1].transpose(1, 0, 2), dtype=np.float64)
        lam = lam.astype(np.float64)
        polish_multipliers(M, patterns, beta, lam, mu_pos, mu_neg, norm_m2)
        b, det = program.bound(lam, mu_pos, mu_neg)
        if b > best["bound"]:
            best.update(bound=b, details=det, iter=n_iter)
        return b

    def primal(Xc):
        V, W = to_VW(Xc)
        return V, W, program.objective(V, W), program.violation(V, W)

    L = fit_L  # the step's Lipschitz estimate, adapted by backtracking
    while status is None:
        outer += 1
        eps_in = max(_EPS_IN0 / outer**2, _EPS_FLOOR * tol)  # summable inexactness of the inner solves
        L_max = fit_L + al_rho * norm_m2  # global Lipschitz bound of the smooth part
        # the penalty's curvature only involves the few active rows: start low, backtrack
        L = min(L_max, max(L, fit_L))
        # --- inner FISTA on the augmented Lagrangian with multipliers mu
        Yp, MYp = X, MX  # extrapolated point and its product
        theta = 1.0
        inner = 0
        inner_done = False
        while not inner_done:
            lam, f_fit = fit.lam_value(eng.pred(MYp))  # λ = −∇ loss at the extrapolated point
            mu_t = np.maximum(mu - al_rho * eng.cone(MYp), 0.0)  # μ̃ = (μ − ϱ G y)_+
            B = eng.adjoint_weights(lam, mu_t)
            grad = eng.adjoint(B)
            grad *= -1.0
            # cheap certificate (working precision) from the gradient's group norms = ρ_{k,c,s}
            if n_iter % check_every == 0:
                rho_kcs = np.sqrt(np.einsum("dspq,dspq->spq", grad, grad).max(axis=(0, 1)))  # ρ_c
                cheap_bound = fit.cheap_bound(lam, rho_kcs, beta)
                Xn_norm = float(np.sqrt(np.einsum("dspq,dspq->spq", X, X)).sum())
                last_obj = fit.check_value(eng.pred(MX)) + beta * Xn_norm
                cheap_gap_rel = (last_obj - cheap_bound) / max(1.0, abs(last_obj))
                g_x = eng.cone(MX)
                gnorm = math.sqrt(float(np.einsum("dspq,dspq->spq", X, X).max()))
                viol_cheap = float(max(-g_x.min(), 0.0)) / max(row_scale * gnorm, 1e-300)
                if verbose:
                    print(f"it={n_iter:6d} outer={outer:3d} obj={last_obj:.8g} bound~={cheap_bound:.8g} "
                          f"gap~={cheap_gap_rel:.2e} viol~={viol_cheap:.2e} rho_al={al_rho:.3g} "
                          f"t={elapsed():.2f}s")
                if cheap_gap_rel <= tol and viol_cheap <= feas_tol:
                    certify(lam, mu_t)
                    V, W, obj, viol = primal(X)
                    gap_rel = (obj - best["bound"]) / max(1.0, abs(obj))
                    if gap_rel <= tol and viol <= feas_tol:
                        status = "optimal"
                        break
                    if gap_rel <= tol:
                        inner_done = True  # gap fine, violation not: update multipliers
                elif fit.track_bound and cheap_bound > best["bound"] + 0.1 * (last_obj - best["bound"]):
                    certify(lam, mu_t)  # a noisy cheap bound (one common t): keep its good moments
            if n_iter >= max_iter:
                status = "max_iter"
                break
            if time_limit_s is not None and elapsed() >= time_limit_s:
                status = "time_limit"
                break
            # --- FISTA step
            Yp_old = Yp
            f_y = f_fit + float(np.vdot(mu_t, mu_t)) / (2.0 * al_rho)
            L = max(fit_L, _BT_DECREASE * L)
            while True:
                Xn = group_shrink(Yp - (1.0 / L) * grad, beta / L)
                MXn = eng.forward(Xn)
                if L >= L_max:
                    break
                mt_n = np.maximum(mu - al_rho * eng.cone(MXn), 0.0)
                f_n = fit.value(eng.pred(MXn)) + float(np.vdot(mt_n, mt_n)) / (2.0 * al_rho)
                diff = Xn - Yp
                q_n = f_y + float(np.vdot(grad, diff)) + 0.5 * L * float(np.vdot(diff, diff))
                if f_n <= q_n + _BT_SLACK[dtype.name] * max(abs(f_y), 1.0):
                    break
                L = min(L_max, 2.0 * L)
            n_iter += 1
            inner += 1
            theta_n = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * theta * theta))
            # gradient-based restart: <y − x_new, x_new − x_old> > 0
            if float(np.vdot(Yp - Xn, Xn - X)) > 0.0:
                theta_n = 1.0
                Yp, MYp = Xn, MXn
            else:
                w = (theta - 1.0) / theta_n
                Yp = Xn + w * (Xn - X)
                MYp = MXn + w * (MXn - MX)
            X, MX, theta = Xn, MXn, theta_n
            if inner % 5 == 0 or inner >= _INNER_MAX:
                # gradient mapping per group, relative to β: ‖L (y − x⁺)‖_g ≤ ε β at an ε-solution
                diff = Yp_old - Xn
                gm = L * math.sqrt(float(np.einsum("dspq,dspq->spq", diff, diff).max()))
                if gm <= eps_in * beta or inner >= _INNER_MAX:
                    inner_done = True
        if status is not None:
            break
        # --- multiplier update (the penalty ϱ stays fixed)
        mu = np.maximum(mu - al_rho * eng.cone(MX), 0.0)

    V, W, obj, viol = primal(X)
    if best["bound"] == -math.inf or status in ("max_iter", "time_limit"):
        lam = fit.residual(V, W)
        mu_t = np.maximum(mu.astype(np.float64) - al_rho * (eng.cone(MX).astype(np.float64)), 0.0)
        certify(lam, mu_t)
    bound = float(best["bound"])
    gap_abs, gap_rel = SolveReport.gaps(obj, bound)
    if status in ("max_iter", "time_limit") and abs(gap_rel) <= tol and viol <= _INACCURATE_VIOL * feas_tol:
        status = "optimal_inaccurate"  # stopped on a cap with the gap met but the violation slightly above feas_tol
    W1, W2 = decode(V, W, 0.0)  # every nonzero group is a neuron
    extra = {
        "n_patterns": P,
        "loss": fit.name,
        "outer_iterations": outer,
        "dtype": np.dtype(dtype).name,
        "network_objective": program.network_objective(W1, W2) if W1.shape[0] else zero_obj,
        "constraint_violation": viol,
        "al_penalty": al_rho,
        "lipschitz": fit_L + al_rho * norm_m2,
        "certificate_checks": checks,
        "rho": best["details"].get("rho"),
        "t": best["details"].get("t"),
        "feas_tol": feas_tol,
        # an exactly feasible point's objective: the returned one if it violates nothing, else V = W = 0
        "feasible_objective": min(obj, zero_obj) if viol == 0.0 else zero_obj,
        "certified_gap_rel": None,
    }
    extra["certified_gap_rel"] = (extra["feasible_objective"] - bound) / max(1.0, abs(extra["feasible_objective"]))
    return V, W, SolveReport(
        problem=fit.problem, solver="FISTA", status=status, objective=obj, bound=bound, gap_abs=gap_abs,
        gap_rel=gap_rel, iterations=n_iter, compile_time_s=0.0, solve_time_s=elapsed(),
        certificate=engine_certificate_kind(gap_rel, viol, tol), residual=viol, extra=extra,
    )
