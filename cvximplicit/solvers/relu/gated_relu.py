"""The gated-ReLU program (Mishkin, Sahiner & Pilanci 2022), its certificate, and its cone decomposition.

Orientation: ``M`` is ``(m, d)`` with **rows as samples** (``M = Ũ_iᵀ``, bias column
included); ``Y`` is ``(m, q)`` (a 1-D ``y`` is ``q = 1``); ``gates`` is an ``(m, P)`` bool
pattern matrix whose column ``k`` is the diagonal of ``D_k`` (the same layout as the
``patterns`` of program (12)); the variables ``U`` (and the decomposition ``V, W``) are
``(P, d, q)``.

**The program.** A gated-ReLU network keeps the activation patterns fixed
(``D_k = diag(1[M g_k ≥ 0])`` for gate vectors ``g_k``) and learns one linear map per
pattern; with the weight decay of program (12) its convex form is an unconstrained group
lasso, one-vs-all over the outputs like program (12):

.. math::

    \\min_{U}\\; \\tfrac12 \\sum_c \\Big\\|\\sum_k D_k M U_{k,:,c} - Y_{:,c}\\Big\\|^2
    + \\beta \\sum_{k,c} \\|U_{k,:,c}\\|_2 .

**Lower bound for program (12).** A feasible ``(V, W)`` of program (12) on the same
patterns gives ``U = V − W`` with the same fit and ``‖U_k‖ ≤ ‖V_k‖ + ‖W_k‖``, so the gated
optimum is at most program (12)'s. The dual bound below is therefore a certified lower
bound of program (12) as well: it is exactly :func:`~cvximplicit.solvers.dual_bound` of
program (12) with zero cone multipliers (``μ = 0``), and the report carries it as
``extra["lower_bound_for_program_12"]``.

**Certificate.** The group-lasso dual: any ``λ_c`` with ``max_k ‖Mᵀ D_k λ_c‖ ≤ β`` gives
``Σ_c (½‖Y_c‖² − ½‖Y_c − λ_c‖²) ≤`` optimum. The residual ``r = Y − Σ_k D_k M U_k``, scaled
per output by ``t_c = clip(r_cᵀY_c/‖r_c‖², 0, β/ρ_c)`` with ``ρ_c = max_k ‖Mᵀ D_k r_c‖``,
is such a point (the standard one; at the optimum ``t_c = 1`` and the gap is zero). The
bound is recomputed in float64 over *every* gate; the certificate kind follows the rule of
program (12) (:func:`~cvximplicit.solvers.report.relu_certificate_kind`): ``"restricted"``
(optimal, within ``tol``, for the gated program actually solved: never a claim about ReLU
networks) or ``"none"``.

**Method.** Working sets of groups (as celer and skglm do): start from the groups with the
largest dual scores ``‖Mᵀ D_k r_c‖``; on the working set, form its Gram matrix once and run
FISTA with gradient restart on it (the step ``1/L`` from a power estimate, guarded by a
backtracking check), then polish the support FISTA found with Newton's method (the group
norms are smooth away from zero; Armijo line search); check the dual bound over all gates,
and add the groups that violate ``‖Mᵀ D_k r_c‖ ≤ β`` (at most doubling the set) until the
relative gap meets ``tol``. Deterministic; the budget counts FISTA iterations
(``max_iter``) and working-set rounds, never time.

**Cone decomposition** (to a ReLU network, a feasible point of program (12)). For every
non-zero group ``u = U_{k,:,c}`` with sign matrix ``S = 2D_k − I``, write ``u = v − w`` with
``S M v ≥ 0`` and ``S M w ≥ 0``: take the smallest ``w`` (in ``ℓ₂``) with
``S M w ≥ (−S M u)_+`` and ``v = u + w``. That least-distance problem is solved exactly by one
non-negative least-squares problem of size ``(d + 1) × m`` (Lawson & Hanson, *Solving Least
Squares Problems*, ch. 23: the LDP via NNLS). Then ``Σ_k D_k M (V_k − W_k)`` is the gated fit
and ``(V, W)`` is feasible for program (12), so its objective is an upper bound of program
(12)'s optimum. A group whose cone system has no solution (a column of ``gates`` that is not an
arrangement of ``M``) is set to zero in ``V, W`` and counted in the report.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from ..._params import BOOL, Int, Real, check_params
from ...exceptions import ValidationError
from ..core._checks import _as_groups, _program_data
from ..core._threads import one_blas_thread as _one_blas_thread
from ..core.report import (
    CERTIFIED_CLASS,
    SolveReport,
    relu_certificate_kind,
    warn_uncertified,
)
from .certificate import bound_kernel, pattern_fit
from .program import NEURON_TOL, ReluProgram, decode

__all__ = ["GATED_SOLVER_NAME", "GatedReLUSolution", "cone_decomposition", "solve_gated_relu"]

#: The ``solver`` field of a gated solve's report.
GATED_SOLVER_NAME = "GATED_WS"

_WS_START = 10  # groups in the first working set
_CHECK_EVERY = 10  # FISTA iterations between two working-set gap checks
_POWER_ITERS = 30  # power iterations for the first step-size estimate
_NEWTON_MAX = 50  # Newton iterations per polish
_INNER_TOL0 = 1e-3  # first FISTA tolerance (relative gap on the working set) before a Newton polish
_DROP_RATIO = 1e-9  # a group this small relative to the largest is dropped from the Newton support


# --------------------------------------------------------------------------- solution
@dataclass
class GatedReLUSolution:
    """Solution of the gated-ReLU program, its certificate, and its cone decomposition.

    Attributes
    ----------
    U : ndarray, shape (P, d, q)
        ``U[k, :, c]``: the linear map of gate ``k`` for output ``c``.
    gates : ndarray of bool, shape (m, P)
        The gate patterns (column ``k`` is the diagonal of ``D_k``).
    beta : float
        The regularisation weight β.
    report : SolveReport
        ``problem="gated_relu"``; ``objective`` the gated objective at ``U``, ``bound`` its
        certified lower bound, ``certificate`` ``"restricted"`` or ``"none"``; ``extra`` holds
        ``lower_bound_for_program_12`` (the same bound: a lower bound of program (12) on the
        same patterns), ``n_active_groups``, ``rounds``, ``newton_iterations`` and, when the
        decomposition ran, ``program_12_objective`` and ``program_12_violation`` of ``(V, W)``,
        ``n_groups_not_decomposed`` and ``decomposition_time_s``.
    V, W : ndarray, shape (P, d, q), or None
        The cone decomposition ``U = V − W`` (``None`` when ``decompose=False``): a feasible
        point of program (12) on the same patterns.
    scale : float
        ``‖Y‖_F / ‖M‖_F`` (the neuron threshold's floor, as in program (12)).
    """

    U: np.ndarray
    gates: np.ndarray
    beta: float
    report: SolveReport
    V: np.ndarray | None = None
    W: np.ndarray | None = None
    scale: float = 0.0

    def neurons(self, tol: float = NEURON_TOL) -> tuple[np.ndarray, np.ndarray]:
        """The ReLU network of the cone decomposition: ``W1`` ``(k, d)``, ``W2`` ``(q, k)``.

        Decoded from ``(V, W)`` as for program (12) (``V/√‖V‖`` with output weight ``+√‖V‖``,
        ``W`` groups with ``−√‖W‖``). Prediction: ``relu(M @ W1.T) @ W2.T``.

        Raises
        ------
        ValidationError
            If the solve ran with ``decompose=False``.
        """
        if self.V is None or self.W is None:
            raise ValidationError("this gated-ReLU solution has no cone decomposition: solve with decompose=True")
        return decode(self.V, self.W, tol, self.scale)


# --------------------------------------------------------------------------- public entry point
def solve_gated_relu(M, Y, beta, *, gates, tol=1e-8, max_iter=20_000, max_rounds=50, warm_start=None,
                     decompose=True, reductions=()) -> GatedReLUSolution:
    """Solve the gated-ReLU program (a group lasso), certify it, and decompose it into a ReLU network.

    .. math::

        \\min_{U}\\; \\tfrac12 \\sum_c \\Big\\|\\sum_k D_k M U_{k,:,c} - Y_{:,c}\\Big\\|^2
        + \\beta \\sum_{k,c} \\|U_{k,:,c}\\|_2

    Its optimum is a lower bound of program (12) on the same patterns (see the module
    docstring for the method, the certificate and the decomposition).

    Parameters
    ----------
    M : array_like, shape (m, d)
        Block input, **rows are samples** (bias column included).
    Y : array_like, shape (m, q) or (m,)
        Targets, rows are samples.
    beta : float
        Regularisation weight β > 0.
    gates : ndarray of bool, shape (m, P)
        Column ``k`` is the diagonal of ``D_k`` (e.g. from
        :func:`~cvximplicit.solvers.sample_patterns`).
    tol : float
        Relative gap ``(objective − bound) / max(1, |objective|)`` to certify.
    max_iter : int
        Budget of FISTA iterations (all outputs and working-set rounds together).
    max_rounds : int
        Budget of working-set rounds per output.
    warm_start : array_like, shape (P, d, q), optional
        A starting ``U`` (its non-zero groups start in the working set).
    decompose : bool
        Compute the cone decomposition ``(V, W)`` and program (12)'s objective at it.
    reductions : sequence of str
        How ``M`` and ``Y`` were derived from the block's data, recorded in the report.

    Returns
    -------
    GatedReLUSolution
        ``report.certificate`` is ``"restricted"`` when the gap meets ``tol`` (else ``"none"``,
        with an :class:`~cvximplicit.exceptions.InaccurateSolutionWarning`).

    Raises
    ------
    ValidationError
        Bad shapes or non-finite data, ``β ≤ 0``, ``gates`` not an ``(m, P)`` bool array,
        options out of range, malformed ``reductions``.

    Examples
    --------
    >>> import numpy as np
    >>> from cvximplicit.solvers import sample_patterns, solve_gated_relu
    >>> rng = np.random.default_rng(0)
    >>> M = np.c_[rng.standard_normal((50, 2)), np.ones(50)]
    >>> y = np.abs(M[:, 0])
    >>> sol = solve_gated_relu(M, y, 0.5, gates=sample_patterns(M, 10, seed=0))
    >>> sol.report.certificate
    'restricted'
    >>> sol.report.extra["lower_bound_for_program_12"] <= sol.report.extra["program_12_objective"]
    True
    """
    M, Y, gates, beta = _program_data(M, Y, gates, beta)
    check_params("solve_gated_relu", {"tol": tol, "max_iter": max_iter, "max_rounds": max_rounds,
                                      "decompose": decompose},
                 {"tol": [Real(0.0, 1.0, closed="neither")], "max_iter": [Int(1)], "max_rounds": [Int(1)],
                  "decompose": [BOOL]})
    if isinstance(reductions, str) or not all(isinstance(r, str) and r for r in reductions):
        raise ValidationError(f"reductions must be a sequence of non-empty strings; got {reductions!r}")
    reductions = tuple(reductions)
    m, d = M.shape
    P, q = gates.shape[1], Y.shape[1]
    U0 = None if warm_start is None else _as_groups(np.asarray(warm_start, dtype=float), P, d, q, "warm_start")
    t0 = time.perf_counter()
    D = gates.astype(float)
    U = np.zeros((P, d, q))
    iters = rounds = newton = 0
    budget_hit = False
    for c in range(q):
        u0 = None if U0 is None else U0[:, :, c]
        out = _solve_output(M, D, Y[:, c], beta, tol / q, max_iter - iters, max_rounds, u0)
        U[:, :, c] = out.U
        iters, rounds, newton = iters + out.iterations, max(rounds, out.rounds), newton + out.newton
        budget_hit |= out.budget_hit
    solve_s = time.perf_counter() - t0
    r = Y - pattern_fit(M, gates, U)
    objective = 0.5 * float(np.sum(r * r)) + beta * float(np.linalg.norm(U, axis=1).sum())
    bound, info = bound_kernel(M, Y, gates, beta, r)
    gap_abs, gap_rel = SolveReport.gaps(objective, bound)
    certified = gap_rel is not None and -tol <= gap_rel <= tol
    kind = relu_certificate_kind(all_arrangements=False, q=q, reductions=reductions, certified=certified)
    status = "optimal" if certified else ("max_iter" if budget_hit else "stalled")
    if not certified:
        warn_uncertified("gated-ReLU program", GATED_SOLVER_NAME, status, objective, bound, tol, 0.0, iters,
                         "; raise max_iter or max_rounds")
    program = ReluProgram(M, Y, gates, beta)
    extra = {
        "n_patterns": P, "beta": beta, "m": m, "d": d, "q": q, "rounds": rounds, "newton_iterations": newton,
        "n_active_groups": int(np.count_nonzero(np.linalg.norm(U, axis=1))),
        "lower_bound_for_program_12": float(bound),
        "dual_bound_info": {k: v for k, v in info.items() if np.isscalar(v)},
    }
    V = W = None
    if decompose:
        t_dec = time.perf_counter()
        V, W, failed = cone_decomposition(M, gates, U)
        extra.update(program_12_objective=program.objective(V, W), program_12_violation=program.violation(V, W),
                     n_groups_not_decomposed=failed, decomposition="least-distance problem per group (NNLS)",
                     decomposition_time_s=time.perf_counter() - t_dec)
    scope = {
        "program": "gated ReLU (group lasso; Mishkin, Sahiner & Pilanci 2022)", "loss": "squared", "rows": m,
        "features": d, "outputs": q, "patterns": "gates given", "all_arrangements": False, "n_patterns": P,
        "network_class": CERTIFIED_CLASS[kind][0], "gap_tol": float(tol),
    }
    report = SolveReport(
        problem="gated_relu", solver=GATED_SOLVER_NAME, status=status, objective=objective, bound=float(bound),
        gap_abs=gap_abs, gap_rel=gap_rel, iterations=iters, compile_time_s=0.0, solve_time_s=float(solve_s),
        certificate=kind, residual=0.0, requested_solver=GATED_SOLVER_NAME, solver_reason="requested",
        reductions=reductions, scope=scope, extra=extra,
    )
    return GatedReLUSolution(U=U, gates=gates, beta=beta, report=report, V=V, W=W, scale=program.scale)


# --------------------------------------------------------------------------- one output
@dataclass
class _OutputResult:
    U: np.ndarray  # (P, d)
    iterations: int
    rounds: int
    newton: int
    budget_hit: bool


def _scores(M, D, r) -> np.ndarray:
    """``‖Mᵀ D_k r‖`` for every gate ``k`` (one GEMM)."""
    return np.linalg.norm(M.T @ (D * r[:, None]), axis=0)


def _gap(objective: float, lin: float, quad: float, rho: float, beta: float) -> float:
    """``objective`` minus the bound of the residual scaled into the dual-feasible set (one output)."""
    if quad <= 0.0:
        return objective
    t = max(lin / quad, 0.0)
    if rho > 0.0:
        t = min(t, beta / rho)
    return objective - (t * lin - 0.5 * t * t * quad)


def _solve_output(M, D, y, beta, tol, max_iter, max_rounds, u0) -> _OutputResult:
    """Working-set rounds for one output ``y`` ``(m,)``; ``tol`` is this output's share of the relative gap."""
    d = M.shape[1]
    P = D.shape[1]
    U = np.zeros((P, d)) if u0 is None else np.array(u0, dtype=float)
    yy = float(y @ y)
    iters = newton = rounds = 0
    inner_tol = max(_INNER_TOL0, tol)
    ws = np.zeros(P, dtype=bool)
    budget_hit = False
    while True:
        r = y - np.einsum("mp,mp->m", D, M @ U.T)
        scores = _scores(M, D, r)
        objective = 0.5 * float(r @ r) + beta * float(np.linalg.norm(U, axis=1).sum())
        gap = _gap(objective, float(r @ y), float(r @ r), float(scores.max()), beta)
        if gap <= tol * max(1.0, objective) or yy == 0.0:
            break
        if rounds >= max_rounds or iters >= max_iter:
            budget_hit = True
            break
        rounds += 1
        ws |= np.linalg.norm(U, axis=1) > 0
        if rounds == 1:  # the first set: the largest scores (and a warm start's groups)
            outside, grow = ~ws, max(_WS_START, 2 * int(ws.sum()))
        else:  # then the violators of the dual constraint, at most doubling the set
            outside, grow = ~ws & (scores > beta), max(int(ws.sum()), 1)
        if outside.any():
            cand = np.flatnonzero(outside)
            ws[cand[np.argsort(-scores[cand], kind="stable")[:grow]]] = True
        else:  # the working set holds every violator: solve it tighter
            inner_tol = max(inner_tol * 1e-3, 1e-15)
        idx = np.flatnonzero(ws)
        u, it, nt = _solve_working_set(M, D[:, idx], y, yy, beta, U[idx], min(inner_tol, tol), inner_tol,
                                       max_iter - iters)
        iters, newton = iters + it, newton + nt
        U[:] = 0.0
        U[idx] = u
    return _OutputResult(U, iters, rounds, newton, budget_hit)


def _solve_working_set(M, Dw, y, yy, beta, u0, tol, fista_tol, budget):
    """FISTA then a Newton polish of the group lasso on the working set ``Dw`` ``(m, n)``; returns ``(u, iters, newton)``."""
    m, d = M.shape
    n = Dw.shape[1]
    X = (Dw[:, :, None] * M[:, None, :]).reshape(m, n * d)
    H = X.T @ X
    b = X.T @ y
    x = np.array(u0, dtype=float).reshape(n * d)
    with _one_blas_thread():
        return _fista_newton(H, b, yy, beta, x, n, d, tol, fista_tol, budget)


def _fista_newton(H, b, yy, beta, x, n, d, tol, fista_tol, budget):
    """FISTA to ``fista_tol``, Newton polish, and tighter FISTA while the working-set gap exceeds ``tol``."""
    iters = newton = 0
    L = _power_lambda_max(H)
    target = fista_tol
    while True:
        x, it, L = _fista(H, b, yy, beta, x, n, d, L, target, budget - iters)
        iters += it
        x_newton, nt = _newton_polish(H, b, beta, x, n, d)
        newton += nt
        if _ws_gap(H, b, yy, beta, x_newton, n, d) <= _ws_gap(H, b, yy, beta, x, n, d):
            x = x_newton
        obj, gap = _ws_objective_gap(H, b, yy, beta, x, n, d)
        if gap <= tol * max(1.0, obj) or iters >= budget or target <= 1e-15:
            return x.reshape(n, d), iters, newton
        target = max(target * 1e-3, 1e-15)


def _power_lambda_max(H) -> float:
    """Power estimate of ``λ_max(H)`` (deterministic start); FISTA's backtracking guards an underestimate."""
    v = np.ones(H.shape[0]) / math.sqrt(H.shape[0])
    lam = 0.0
    for _ in range(_POWER_ITERS):
        w = H @ v
        lam = float(np.linalg.norm(w))
        if lam == 0.0:
            return 1.0
        v = w / lam
    return 1.01 * lam


def _shrink(x, thresh: float, n: int, d: int):
    Z = x.reshape(n, d)
    norms = np.sqrt(np.einsum("kd,kd->k", Z, Z))
    scale = np.maximum(1.0 - thresh / np.maximum(norms, 1e-300), 0.0)
    return (Z * scale[:, None]).reshape(n * d)


def _ws_objective_gap(H, b, yy, beta, x, n, d) -> tuple[float, float]:
    """Objective and duality gap of the working-set problem, from the Gram form (``λ = y − X x``)."""
    Hx = H @ x
    bx = float(b @ x)
    quad = max(yy - 2.0 * bx + float(x @ Hx), 0.0)  # ‖λ‖²
    lin = yy - bx  # λᵀy
    G = (b - Hx).reshape(n, d)  # Xᵀλ, group by group
    rho = float(np.sqrt(np.einsum("kd,kd->k", G, G).max()))
    objective = 0.5 * quad + beta * float(np.linalg.norm(x.reshape(n, d), axis=1).sum())
    return objective, _gap(objective, lin, quad, rho, beta)


def _ws_gap(H, b, yy, beta, x, n, d) -> float:
    return _ws_objective_gap(H, b, yy, beta, x, n, d)[1]


def _fista(H, b, yy, beta, x, n, d, L, tol, budget):
    """FISTA with gradient restart on ``½xᵀHx − bᵀx + β Σ‖x_k‖`` until the relative gap is ``≤ tol``."""
    z = x.copy()
    tk = 1.0
    it = 0
    while it < budget:
        for _ in range(_CHECK_EVERY):
            g = H @ z - b
            while True:  # backtracking guard on the step 1/L: δᵀHδ ≤ L‖δ‖²
                x_new = _shrink(z - g / L, beta / L, n, d)
                delta = x_new - z
                dd = float(delta @ delta)
                if dd == 0.0 or float(delta @ (H @ delta)) <= L * dd * (1.0 + 1e-12):
                    break
                L *= 2.0
            t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * tk * tk))
            if float((z - x_new) @ (x_new - x)) > 0.0:  # gradient restart (O'Donoghue & Candès)
                t_new, z = 1.0, x_new.copy()
            else:
                z = x_new + ((tk - 1.0) / t_new) * (x_new - x)
            x, tk = x_new, t_new
            it += 1
        obj, gap = _ws_objective_gap(H, b, yy, beta, x, n, d)
        if gap <= tol * max(1.0, obj):
            break
    return x, it, L


def _newton_polish(H, b, beta, x, n, d) -> tuple[np.ndarray, int]:
    """Newton's method on the support of ``x`` (group norms are smooth away from zero), Armijo line search.

    Groups that shrink below ``_DROP_RATIO`` of the largest leave the support and Newton
    restarts on the rest. Returns the polished point and the Newton iterations.
    """
    support = np.flatnonzero(np.linalg.norm(x.reshape(n, d), axis=1) > 0)
    z = x.reshape(n, d)[support].ravel()
    it = 0
    while support.size and it < _NEWTON_MAX:
        cols = (support[:, None] * d + np.arange(d)).ravel()
        Hs, bs = H[np.ix_(cols, cols)], b[cols]
        z, it = _newton(Hs, bs, beta, z, d, it)
        norms = np.linalg.norm(z.reshape(-1, d), axis=1)
        keep = norms > _DROP_RATIO * norms.max(initial=0.0)
        if keep.all():
            break
        support, z = support[keep], z.reshape(-1, d)[keep].ravel()
    out = np.zeros(n * d)
    out.reshape(n, d)[support] = z.reshape(-1, d)
    return out, it


def _newton(Hs, bs, beta, z, d, it) -> tuple[np.ndarray, int]:
    """Damped Newton steps on ``½zᵀHs z − bsᵀz + β Σ‖z_k‖`` (every group non-zero) while ``it < _NEWTON_MAX``."""
    eye = np.eye(d)
    while it < _NEWTON_MAX:
        it += 1
        Z = z.reshape(-1, d)
        norms = np.linalg.norm(Z, axis=1)
        if not norms.min() > 0.0:
            break
        unit = Z / norms[:, None]
        grad = Hs @ z - bs + beta * unit.ravel()
        hess = Hs.copy()
        for j in range(norms.size):
            sl = slice(j * d, (j + 1) * d)
            hess[sl, sl] += (beta / norms[j]) * (eye - np.outer(unit[j], unit[j]))
        try:
            step = -np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = -np.linalg.lstsq(hess, grad, rcond=None)[0]
        slope = float(grad @ step)
        if not slope < 0.0:
            break
        f0, alpha = _smooth_objective(Hs, bs, beta, z, d), 1.0
        while _smooth_objective(Hs, bs, beta, z + alpha * step, d) > f0 + 1e-4 * alpha * slope:
            alpha *= 0.5
            if alpha < 1e-12:
                return z, it
        z = z + alpha * step
        if float(np.linalg.norm(alpha * step)) <= 1e-15 * float(np.linalg.norm(z)):
            break
    return z, it


def _smooth_objective(Hs, bs, beta, z, d) -> float:
    return 0.5 * float(z @ (Hs @ z)) - float(bs @ z) + beta * float(np.linalg.norm(z.reshape(-1, d), axis=1).sum())


# --------------------------------------------------------------------------- cone decomposition
def cone_decomposition(M, gates, U) -> tuple[np.ndarray, np.ndarray, int]:
    """Split every group ``U_{k,:,c} = V_{k,:,c} − W_{k,:,c}`` into the cones of program (12).

    ``(2D_k − I) M V_k ≥ 0`` and ``(2D_k − I) M W_k ≥ 0``: ``W_k`` is the least-norm ``w`` with
    ``(2D_k − I) M w ≥ (−(2D_k − I) M u)_+``, found by one NNLS (the least-distance problem of
    Lawson & Hanson), and ``V_k = U_k + W_k``. So ``Σ_k D_k M (V_k − W_k) = Σ_k D_k M U_k``.

    Parameters
    ----------
    M : array_like, shape (m, d)
        Rows are samples.
    gates : ndarray of bool, shape (m, P)
        Column ``k`` is the diagonal of ``D_k``.
    U : array_like, shape (P, d, q)
        The groups (``(P, d)`` accepted when ``q = 1``).

    Returns
    -------
    V, W : ndarray, shape (P, d, q)
        Feasible for program (12) on ``gates``.
    n_failed : int
        Groups whose cone system has no solution (``gates[:, k]`` is not an arrangement of
        ``M``); they are zero in ``V`` and ``W``.

    Raises
    ------
    ValidationError
        Bad shapes or non-finite data.
    """
    M, _, gates, _ = _program_data(M, np.zeros(np.shape(M)[0]), gates, 1.0)
    P, d = gates.shape[1], M.shape[1]
    U = np.asarray(U, dtype=float)
    q = U.shape[2] if U.ndim == 3 else 1
    U = _as_groups(U, P, d, q, "U")
    V, W = np.zeros_like(U), np.zeros_like(U)
    failed = 0
    sign = 2.0 * gates - 1.0
    with _one_blas_thread():
        for k, c in zip(*np.nonzero(np.linalg.norm(U, axis=1))):
            failed += _split_group(M, sign[:, k], U, V, W, k, c)
    return V, W, failed


def _split_group(M, sign, U, V, W, k, c) -> int:
    """Write the cone split of ``U[k, :, c]`` into ``V``, ``W``; 1 when it has none (then both stay 0)."""
    A = sign[:, None] * M  # (m, d): rows of the cone (2D_k − I) M
    u = U[k, :, c]
    h = np.maximum(-(A @ u), 0.0)
    if not h.any():
        V[k, :, c] = u
        return 0
    w = _least_distance(A, h)
    if w is None:
        return 1
    V[k, :, c], W[k, :, c] = u + w, w
    return 0


def _least_distance(A, h) -> np.ndarray | None:
    """``argmin ‖w‖ s.t. A w ≥ h`` by NNLS (Lawson & Hanson, ch. 23); None when infeasible.

    With ``E = [Aᵀ; hᵀ]`` and ``f = e_{d+1}``, ``z = argmin_{z ≥ 0} ‖E z − f‖`` gives the residual
    ``ρ = E z − f``; ``ρ = 0`` means the system is infeasible, else ``w = −ρ_{1:d} / ρ_{d+1}``.
    The result is checked against the constraints (scale-relative round-off allowed).
    """
    scale = float(np.abs(h).max())
    E = np.vstack([A.T, h[None, :] / scale])
    f = np.zeros(E.shape[0])
    f[-1] = 1.0
    z, _ = nnls(E, f, maxiter=50 * E.shape[1])
    res = E @ z - f
    if not res[-1] < -1e-12:
        return None
    w = -res[:-1] / res[-1] * scale
    Aw = A @ w
    slack = np.maximum(h - Aw, 0.0)
    if slack.max() > 1e-8 * max(scale, float(np.abs(Aw).max())):
        return None
    return w
