"""The ReLU step (12) of Algorithm 2 with the softmax cross-entropy loss, solved and certified.

.. math::

    \\min_{V,W}\\; \\sum_i \\ell\\Big(Z_{0,i} + \\big(\\textstyle\\sum_k D_k M (V_k - W_k)\\big)_i;\\, y_i\\Big)
    + \\beta \\sum_{k,c} \\big(\\|V_{k,:,c}\\|_2 + \\|W_{k,:,c}\\|_2\\big)
    \\quad \\text{s.t. } (2D_k - I) M V_{k,:,c} \\ge 0,\\; (2D_k - I) M W_{k,:,c} \\ge 0,

``ℓ(z; y) = logsumexp(z) − yᵀz`` summed over rows, ``Z0`` a fixed logit offset (the earlier
blocks' logits), ``Y`` one-hot (rows in the simplex). The maths and the dual bound are in
:mod:`cvximplicit.solvers.cross_entropy.certificate_ce`. Two ways to solve it:

- the **exponential-cone program** in cvxpy (``cp.log_sum_exp``; Clarabel), the reference
  and the small-size path (about ``3·m·d·P·q`` constraint non-zeros plus ``m·q`` exponential cones);
- the **first-order engine** ``"FISTA"`` with ``loss="cross_entropy"``
  (:func:`~cvximplicit.solvers.engines.first_order.solve_convex_relu_first_order`).

Either way the result is certified independently in float64: the objective, the
cone-constraint violation and the dual bound ``max_t g(tλ)`` at ``λ = Y − softmax(Z0 + fit)``.

Certificate kinds: the map between groups and neurons (a group ``V_{k,:,c}`` is the neuron
``(V/√‖V‖, +√‖V‖ e_c)`` with pattern ``D_k``; neurons of one pattern, sign and output merge
into one group at no larger regulariser, by the triangle inequality) preserves the logits
``Z`` exactly, whatever the loss. So with **all** arrangements of an unreduced ``M`` the
program's optimum is the global optimum over two-layer ReLU networks whose neurons each feed
**one** logit (``"global_one_vs_all"``; the loss coupling the outputs changes nothing in that
argument), ``"restricted"`` for sampled/given patterns or reductions, ``"none"`` when the gap
misses its tolerance.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping

import cvxpy as cp
import numpy as np

from ...exceptions import (
    SolverUnavailableError,
    ValidationError,
)
from ..core._checks import _as_matrix
from ..core.backend import CLARABEL_OPTS, check_solver, solve_cvxpy
from ..core.bias import apply_bias, bias_scope
from ..core.report import CERTIFIED_CLASS, SolveReport, relu_certificate_kind, warn_uncertified
from ..engines.first_order import solve_convex_relu_first_order
from ..engines.losses import polish_multipliers
from ..relu.arrangements import DEFAULT_N_PATTERNS, resolve_patterns
from ..relu.convex_relu import ConvexReLUSolution
from ..relu.program import NEURON_TOL, decode
from .certificate_ce import CEReluProgram

__all__ = ["solve_convex_relu_ce", "ce_conic_problem", "CE_CONIC_AUTO_MAX_NNZ", "CE_CONIC_GAP_TOL"]

#: Clarabel options of the exponential-cone program: tolerances 1e-8, the qdldl solver.
_CLARABEL_CE_OPTS = dict(CLARABEL_OPTS, direct_solve_method="qdldl")
#: Clarabel re-solves, in turn, when the bound misses the tolerance and the caller set no options
#: (an inexact primal makes ``ρ > β`` and ``t < 1``; measured: gap_rel 3.3e-6 at 1e-8, 4.7e-8 at 1e-10).
_REFINE_LADDER = tuple(dict(_CLARABEL_CE_OPTS, tol_gap_abs=t, tol_gap_rel=t, tol_feas=t) for t in (1e-10, 1e-12))
#: What ``solver_opts`` may hold when ``"FISTA"`` runs: its keyword options but ``loss`` and ``offset``.
_FISTA_OPTIONS = tuple(p.name for p in inspect.signature(solve_convex_relu_first_order).parameters.values()
                       if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in ("loss", "offset"))

#: ``"auto"`` solves the exponential-cone program when ``3·m·d·P·q`` is at most this, else
#: runs ``"FISTA"`` with ``loss="cross_entropy"``. Measured (Clarabel, 2 shared loaded cores,
#: single runs, random data, q = 10, β = 0.1 β_max, wall time with cvxpy's compilation):
#: 1.8e5 (m=100, d=6, P=10) 3.6 s, gap_rel 9e-9; 6.6e5 (m=200, d=11, P=10) 60 s, 1e-7;
#: 2.0e6 (m=300, d=11, P=20) 239 s, 2e-7. FISTA (default max_iter 10⁴) took 4.9 s, 10.8 s,
#: 33.5 s on the same programs but stopped uncertified (violation above feas_tol).
CE_CONIC_AUTO_MAX_NNZ = 300_000

#: Relative gap within which the exponential-cone solve is certified (Clarabel at 1e-8).
CE_CONIC_GAP_TOL = 1e-6


def ce_conic_problem(program: CEReluProgram):
    """The cvxpy program of :class:`CEReluProgram`: ``(problem, Vs, Ws, cons_v, cons_w)``.

    ``Vs[c]``, ``Ws[c]`` are ``(d, P)`` variables (column ``k`` is group ``k`` of output ``c``);
    ``cons_v[c]``, ``cons_w[c]`` the cone constraints ``(2D_k − I) M V ≥ 0`` as ``(m, P)``
    inequalities, whose duals are the multipliers ``μ ≥ 0`` of the certificate.
    """
    M, Y, Z0, beta = program.M, program.Y, program.Z0, program.beta
    _, d, P, q = program.shape
    mask = program.patterns.astype(float)
    sign = 2.0 * mask - 1.0
    Vs = [cp.Variable((d, P), name=f"V{c}") for c in range(q)]
    Ws = [cp.Variable((d, P), name=f"W{c}") for c in range(q)]
    cols, cons_v, cons_w, reg = [], [], [], 0
    for c in range(q):
        MV, MW = M @ Vs[c], M @ Ws[c]
        cols.append(cp.sum(cp.multiply(mask, MV - MW), axis=1))
        cons_v.append(cp.multiply(sign, MV) >= 0)
        cons_w.append(cp.multiply(sign, MW) >= 0)
        reg = reg + cp.sum(cp.norm(Vs[c], 2, axis=0)) + cp.sum(cp.norm(Ws[c], 2, axis=0))
    Z = Z0 + cp.vstack(cols).T
    loss = cp.sum(cp.log_sum_exp(Z, axis=1)) - cp.sum(cp.multiply(Y, Z))
    problem = cp.Problem(cp.Minimize(loss + beta * reg), cons_v + cons_w)
    return problem, Vs, Ws, cons_v, cons_w


def _solve_conic(program, solver, solver_opts):
    problem, Vs, Ws, cons_v, cons_w = ce_conic_problem(program)
    t0 = time.perf_counter()
    solved = solve_cvxpy(problem, solver=solver, solver_opts=solver_opts, fallback=("SCS",) if solver == "auto"
                         else (), problem_name="the cross-entropy ReLU program",
                         default_opts={"CLARABEL": _CLARABEL_CE_OPTS}, warn_inaccurate=False)
    build_s = time.perf_counter() - t0 - solved.solve_time_s
    stack = lambda vs: np.stack([v.value for v in vs], axis=-1).transpose(1, 0, 2)
    duals = lambda cs: np.stack([np.maximum(c.dual_value, 0.0).T for c in cs], axis=-1)
    return stack(Vs), stack(Ws), (duals(cons_v), duals(cons_w)), solved, max(build_s, 0.0)


def _conic_bound(program, V, W, mu_pos, mu_neg):
    """The bound at ``λ = Y − softmax(Z0 + fit)`` with the conic duals, and with them polished (the larger)."""
    lam = program.residual(V, W)
    first = program.bound(lam, mu_pos, mu_neg)
    norm_m2 = 1.01 * float(np.linalg.norm(program.M, 2)) ** 2
    mu = np.stack([mu_pos, mu_neg])  # the multipliers' layout (2, P, m, q)
    polish_multipliers(program.M, program.patterns, program.beta, lam, mu, norm_m2)
    return max(first, program.bound(lam, mu[0], mu[1]), key=lambda bi: bi[0])


def _choose(name: str, m: int, d: int, P: int, q: int) -> tuple[str, str]:
    """The solver that runs and why (the rule: :data:`CE_CONIC_AUTO_MAX_NNZ`)."""
    if name != "auto":
        return name, "requested"
    nnz = 3 * m * d * P * q
    if nnz <= CE_CONIC_AUTO_MAX_NNZ:
        return "auto", f"auto: exponential-cone program with {nnz:.3g} <= {CE_CONIC_AUTO_MAX_NNZ:.3g} non-zeros"
    return "FISTA", f"auto: exponential-cone program would have {nnz:.3g} > {CE_CONIC_AUTO_MAX_NNZ:.3g} non-zeros"


def _engine_options(name: str, solver_opts) -> dict:
    """``solver_opts`` of ``"FISTA"`` checked strictly (``"ADMM"`` has no cross-entropy)."""
    if name != "FISTA":
        raise SolverUnavailableError(f"engine {name!r} solves the squared-loss program only; the cross-entropy "
                                     "program runs on 'FISTA' or a conic solver with exponential cones ('CLARABEL')")
    if solver_opts is None:
        return {}
    if not isinstance(solver_opts, Mapping):
        raise ValidationError(f"solver_opts must be a dict of FISTA options or None; got {solver_opts!r}")
    unknown = [k for k in solver_opts if k not in _FISTA_OPTIONS]
    if unknown:
        raise ValidationError(f"unknown option(s) {unknown} for engine 'FISTA' on the cross-entropy program; valid "
                              f"options are {list(_FISTA_OPTIONS)} (loss and offset are set by solve_convex_relu_ce)")
    return dict(solver_opts)


def solve_convex_relu_ce(M, Y, *, beta, offset=None, patterns="auto", n_patterns=DEFAULT_N_PATTERNS, seed=0,
                         bias=None, solver="auto", solver_opts=None, reductions=(),
                         gap_tol=None) -> ConvexReLUSolution:
    """Solve the cross-entropy ReLU program (12) and certify it (see the module docstring).

    The loss is the softmax cross-entropy of the logits ``offset + Σ_k D_k M (V_k − W_k)``; the certificate is the
    softmax Fenchel dual's bound.

    Parameters
    ----------
    M : array_like, shape (m, d)
        Block input, as for :func:`~cvximplicit.solvers.solve_convex_relu`.
    Y : array_like, shape (m, q)
        Labels: rows are samples in the probability simplex (one-hot), ``q ≥ 2``.
    beta : float
        ``β > 0``; :func:`~cvximplicit.solvers.cross_entropy.certificate_ce.ce_beta_max` gives the β from
        which the zero network is optimal.
    offset : array_like, shape (m, q), optional
        Fixed logits ``Z0`` (the earlier blocks' logits); zero by default.
    patterns, n_patterns, seed, bias
        As in :func:`~cvximplicit.solvers.solve_convex_relu` (``bias=True`` appends a column of ones,
        and ``predict`` appends it to new inputs).
    solver : str
        ``"auto"``: the exponential-cone program (Clarabel, SCS after it on failure) when
        ``3·m·d·P·q ≤`` :data:`CE_CONIC_AUTO_MAX_NNZ`, else ``"FISTA"``; or a named
        solver (a cvxpy solver with exponential cones, or ``"FISTA"``), which runs alone.
    solver_opts : dict, optional
        Options of the solver that runs, checked strictly (``FISTA``: its keyword options
        except ``loss`` and ``offset``).
    reductions : sequence of str
        How ``M``/``Y`` were derived from the block's data (any entry: ``"restricted"``).
    gap_tol : float, optional
        Certificate tolerance on ``gap_rel``: default :data:`CE_CONIC_GAP_TOL` (conic) or the
        engine's ``tol``.

    Returns
    -------
    ConvexReLUSolution
        ``report.problem == "convex_relu_ce"``, ``scope["loss"] == "cross_entropy"``;
        ``predict`` gives the network's logits **without** the offset.

    Raises
    ------
    ValidationError
        Bad shapes, non-finite data, ``Y`` rows off the simplex, ``β ≤ 0``, bad options.
    SolverUnavailableError, SolverFailedError
        An engine without cross-entropy (``"ADMM"``), or the conic solve failed.
    """
    M = _as_matrix(M).astype(float, copy=False)
    M, appended = apply_bias(M, bias, where="solve_convex_relu_ce")
    program = CEReluProgram.from_data(M, Y, np.ones((M.shape[0], 1), bool), beta, offset)
    if isinstance(reductions, str) or not all(isinstance(r, str) and r for r in reductions):
        raise ValidationError(f"reductions must be a sequence of non-empty strings; got {reductions!r}")
    reductions = tuple(reductions)
    name = check_solver(solver)
    pattern_set = resolve_patterns(program.M, patterns, n_patterns, seed)
    program = CEReluProgram(program.M, program.Y, pattern_set.patterns, program.beta, program.Z0)
    m, d, P, q = program.shape
    name, reason = _choose(name, m, d, P, q)
    t0 = time.perf_counter()
    if name in ("FISTA", "ADMM"):
        options = _engine_options(name, solver_opts)
        V, W, rep = solve_convex_relu_first_order(program.M, program.Y, program.patterns, program.beta,
                                                  loss="cross_entropy", offset=program.Z0, **options)
        tol = float(options.get("tol", 1e-6)) if gap_tol is None else float(gap_tol)
        used, status, iters, compile_s, solve_s = "FISTA", rep.status, rep.iterations, 0.0, rep.solve_time_s
        bound, info, formulation = float(rep.bound), dict(rep.extra), "first_order"
    else:
        tol = CE_CONIC_GAP_TOL if gap_tol is None else float(gap_tol)
        compile_s = solve_s = 0.0
        ladder = (solver_opts,) + (_REFINE_LADDER if solver_opts is None and name in ("auto", "CLARABEL") else ())
        for attempt, opts in enumerate(ladder):
            V, W, (mu_pos, mu_neg), solved, build_s = _solve_conic(program, name, opts)
            compile_s, solve_s = compile_s + build_s, solve_s + solved.solve_time_s
            bound, info = _conic_bound(program, V, W, mu_pos, mu_neg)
            gap_rel = SolveReport.gaps(program.objective(V, W), bound)[1]
            if attempt:
                reason += f"; re-solved at tolerance {opts['tol_gap_rel']:g} (the bound missed the tolerance)"
            if abs(gap_rel) <= tol or solved.solver != "CLARABEL":
                break
        used, status, iters = solved.solver, solved.status, solved.iterations
        if name == "auto" and not solved.reason.startswith("auto: CLARABEL"):
            reason = f"{reason}; {solved.reason}"
        formulation = "exponential_cone"
    t_cert = time.perf_counter()
    objective, violation = program.objective(V, W), program.violation(V, W)
    feasible = violation <= max(tol, 1e-6)
    gap_abs, gap_rel = SolveReport.gaps(objective, bound) if feasible else (None, None)
    certified = gap_rel is not None and -tol <= gap_rel <= tol
    kind = relu_certificate_kind(all_arrangements=pattern_set.all_arrangements, q=q, reductions=reductions,
                                 certified=certified)
    if not certified:
        warn_uncertified("cross-entropy ReLU program", used, status, objective, bound, tol, violation, iters)
    scale = program.scale
    extra = {
        "n_patterns": P, "beta": program.beta, "beta_max": program.beta_max(), "m": m, "d": d, "q": q,
        "n_active_neurons": int(decode(V, W, NEURON_TOL, scale)[0].shape[0]), "formulation": formulation,
        "network_objective": program.network_objective(*decode(V, W, 0.0)), "constraint_violation": violation,
        "zero_objective": program.zero_objective(), "certificate_time_s": time.perf_counter() - t_cert,
        "wall_time_s": time.perf_counter() - t0,
        "dual_bound_info": {k: v for k, v in info.items() if np.isscalar(v)},
    }
    scope = {
        "program": "Ergen-Pilanci program (12), cross-entropy loss", "loss": "cross_entropy", "rows": m,
        "features": d, "outputs": q, "patterns": pattern_set.source, "all_arrangements": pattern_set.all_arrangements,
        "n_patterns": P, "offset": offset is not None, "network_class": CERTIFIED_CLASS[kind][0], "gap_tol": tol,
        "bias": bias_scope(program.M, appended),
    }
    report = SolveReport(
        problem="convex_relu_ce", solver=used, status=status, objective=objective, bound=bound, gap_abs=gap_abs,
        gap_rel=gap_rel, iterations=iters, compile_time_s=float(compile_s), solve_time_s=float(solve_s),
        certificate=kind, residual=violation, requested_solver=str(solver), solver_reason=reason,
        reductions=reductions, scope=scope, extra=extra)
    return ConvexReLUSolution(V=V, W=W, patterns=program.patterns, beta=program.beta, report=report, scale=scale,
                              bias=appended)
