"""Solve the Ergen–Pilanci program (12) with the engine or solver that fits, and certify the result.

The program, its data and its maths are :class:`~cvximplicit.solvers.relu.program.ReluProgram`;
what solves it is an :class:`~cvximplicit.solvers.engines.Engine` (our own ``"FISTA"``,
``"ADMM"``, or the conic engine of :mod:`cvximplicit.solvers.relu.conic`). This module chooses what
runs (the ``"auto"`` rule is :func:`_choose`, recorded in the report), runs it through the
engine protocol, and certifies the result independently: the objective, the constraint
violation and a dual bound recomputed in float64 (or the engine's own float64 certificate).

Certificate kinds (:data:`~cvximplicit.solvers.core.report.CERTIFIED_CLASS`): with *all*
arrangements of ``M`` the program's optimum equals, output by output, the global optimum
of the weight-decayed two-layer ReLU network ``½‖Σ_j (M a_j)_+ b_j − y‖² + (β/2) Σ_j
(‖a_j‖² + b_j²)`` (Pilanci & Ergen 2020). So a certified solve over every arrangement of
the block's *unreduced* input is ``"global"`` for a scalar output; for ``q > 1`` it is
global only for networks whose neurons each feed one output (``"global_one_vs_all"``).
Sampled patterns, or any reduction of rows, features or outputs, give ``"restricted"``
(optimal for the program solved); a gap that misses its tolerance gives ``"none"``.

Data orientation: ``M`` is ``(m, d)`` with **rows as samples** (``M = Ũ_iᵀ``, the
block's stacked input with its bias column); ``Y`` is ``(m, q)`` (a 1-D ``y`` is
``q = 1``); ``patterns`` is ``(m, P)`` bool; the variables ``V, W`` are ``(P, d, q)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ...exceptions import ValidationError
from ..core._checks import _real_block_data
from ..core.backend import check_solver
from ..core.bias import apply_bias, bias_scope, prediction_input
from ..core.report import (
    CERTIFIED_CLASS,
    SolveReport,
    gap_certified,
    relu_certificate_kind,
    warn_uncertified,
)
from ..engines.registry import (
    Engine,
    EngineSolution,
    WarmStart,
    engine_available,
    get_engine,
)
from .arrangements import DEFAULT_N_PATTERNS, one_d_columns, resolve_patterns
from .conic import CLARABEL_RELU_OPTS, CONIC_GAP_TOL, conic_gap_tol, plain_nnz
from .program import NEURON_TOL, ReluProgram, decode, relu_network

__all__ = [
    "ConvexReLUSolution",
    "solve_convex_relu",
    "NEURON_TOL",
    "CONIC_AUTO_MAX_NNZ",
    "ACTIVE_SET_AUTO_MIN_NNZ",
    "CLARABEL_RELU_OPTS",
    "plain_nnz",
    "conic_gap_tol",
    "CONIC_GAP_TOL",
]

#: ``"auto"`` solves the *plain* conic formulation when its estimated number of
#: constraint non-zeros ``3·m·d·P·q`` (:func:`~cvximplicit.solvers.relu.conic.plain_nnz`) is at
#: most this, else it uses an engine. The reduced 1-D formulation is always conic.
#: Measured with Clarabel/qdldl on 2 shared, loaded cores (single runs, m=500, P=100
#: sampled): d=5 (7.5e5) 7.9 s, d=10 (1.5e6) 9.7 s, d=20 (3e6) 17.6 s, all certified to
#: gap_rel ≤ 1e-8, while FISTA (max_iter 10⁴) took 8–94 s and stopped at gap_rel
#: 2e-3–5e-3. Beyond the limit ``"auto"`` takes the ``"ADMM"`` engine: on the sampled block
#: m=2000, d=50, P=50 (1.5e7 non-zeros) it certified gap_rel 1.3e-11 in 7.6 s (median of 3)
#: where Clarabel and FISTA both stopped at a 30 s limit (FISTA at an infeasible iterate). The MNIST convex step (m=300, d=31, P=40 with guided patterns, q=2: 2.2e6)
#: takes 9.1 s with Clarabel (gap_rel 2e-9) vs 28.8 s with FISTA (max_iter, gap_rel
#: 3e-6), hence the limit of 4e6.
CONIC_AUTO_MAX_NNZ = 4_000_000

#: ``"auto"`` sends a plain program (every form but the reduced 1-D one) of at most this many plain conic
#: non-zeros to Clarabel, and every larger one to the working-set engine ``"ACTIVE_SET"`` first; if that engine
#: does not certify, the rule above picks the fallback (Clarabel up to :data:`CONIC_AUTO_MAX_NNZ`, else
#: ``"ADMM"``), warm-started, and the report says so. 0: the engine first everywhere. Measured (``docs/engines.md``):
#: on 74 random blocks below 2e5 non-zeros (m 50–1 000, ``benchmarks/bench_auto_crossover.py``) the engine was
#: faster on 55 (median time ratio 0.43, at most 3.5× slower, on blocks Clarabel solves in 0.01–0.24 s), and on the
#: 182 programs the trainer poses in six Table I/II runs 3.3× faster in total (6.6 s against 21.9 s), all certified.
ACTIVE_SET_AUTO_MIN_NNZ = 0


# --------------------------------------------------------------------------- solution
@dataclass
class ConvexReLUSolution:
    """Solution of program (12) and its certificate.

    Attributes
    ----------
    V, W : ndarray, shape (P, d, q)
        ``V[k, :, c]`` (``W[k, :, c]``) is the weight of pattern ``k`` for output
        ``c`` with positive (negative) output sign.
    patterns : ndarray of bool, shape (m, P)
        The activation patterns (columns are diagonals of ``D_k``).
    beta : float
        The regularisation weight β.
    report : SolveReport
        Solver, status, objective (the convex objective at ``V, W``), certified
        bound, gap, times, certificate kind (``"global"``/``"restricted"``),
        ``residual`` (the largest relative cone-constraint violation) and
        ``extra`` (``n_patterns``, ``beta``, ``n_active_neurons``, ``m``, ``d``, ``q``,
        ``network_objective``, ``constraint_violation``, ``formulation``).
    scale : float
        ``‖Y‖_F / ‖M‖_F``, the natural size of a group norm; the neuron threshold
        is ``tol · max(largest group norm, scale)`` so an all-zero solution
        (β ≥ β_max, groups at ~1e-10) decodes to no neurons.
    bias : bool
        Whether the solve appended a column of ones to ``M`` (``bias=True``): it is the last of the
        ``d`` columns of ``V``, ``W`` and of the decoded input weights (each neuron's bias), and
        :meth:`predict` appends it to new inputs.
    """

    V: np.ndarray
    W: np.ndarray
    patterns: np.ndarray
    beta: float
    report: SolveReport
    scale: float = 0.0
    bias: bool = False

    def neurons(self, tol: float = NEURON_TOL) -> tuple[np.ndarray, np.ndarray]:
        """Decode the ReLU network: ``W1`` ``(k, d)`` input weights, ``W2`` ``(q, k)`` output weights.

        Each group ``V[k,:,c]`` with ``‖V[k,:,c]‖ > tol · max(max_group_norm, scale)`` becomes a
        neuron with input weights ``V/√‖V‖`` and output weight ``+√‖V‖`` on output
        ``c`` (zero on the others); ``W`` groups give output weight ``−√‖W‖``. The
        ``V`` neurons come first, each ordered by ``(k, c)``. ``tol=0`` keeps every
        non-zero group. Prediction: ``relu(M @ W1.T) @ W2.T``.
        """
        return decode(self.V, self.W, tol, self.scale)

    def predict(self, M) -> np.ndarray:
        """Network prediction ``relu(M W1ᵀ) W2ᵀ``, shape ``(m, q)``, for ``M`` ``(m, d)`` (rows are samples).

        ``M`` has the columns of the ``M`` solved on; after a solve with ``bias=True`` it has one
        column fewer (the ones are appended here). Uses every non-zero group (``tol=0``), so on the
        training ``M`` it equals the convex fit ``Σ_k D_k M (V_k − W_k)`` wherever the cone
        constraints hold.
        """
        return relu_network(prediction_input(M, self.V.shape[1], self.bias), *self.neurons(tol=0.0))

    def summary(self) -> str:
        """A few lines: the network found, then the report (:meth:`~cvximplicit.solvers.SolveReport.describe`)."""
        W1, W2 = self.neurons()
        bias = "; the last input column is the appended bias" if self.bias else ""
        return (f"ConvexReLUSolution: {W1.shape[0]} ReLU neurons, prediction relu(M W1ᵀ) W2ᵀ with W1 "
                f"{W1.shape}, W2 {W2.shape}{bias}\n{self.report.describe()}")


def _choose(name: str, reduced: bool, m: int, d: int, P: int, q: int) -> tuple[str, str, str | None]:
    """What runs, why, and what ``"auto"`` falls back to if that is not certified (the ``"auto"`` rule lives here)."""
    if name != "auto":
        return name, "requested", None
    if reduced:
        return "auto", "auto: exact 1-D arrangements, reduced O(m) conic form", None
    nnz = plain_nnz(m, d, P, q)
    if nnz <= ACTIVE_SET_AUTO_MIN_NNZ:
        return "auto", f"auto: plain conic form with {nnz:.3g} <= {ACTIVE_SET_AUTO_MIN_NNZ:.3g} non-zeros", None
    fallback = "auto" if nnz <= CONIC_AUTO_MAX_NNZ else ("ADMM" if engine_available("ADMM") else "FISTA")
    return "ACTIVE_SET", (f"auto: plain program ({nnz:.3g} conic non-zeros > {ACTIVE_SET_AUTO_MIN_NNZ:.3g}): "
                          "working-set engine first"), fallback


def _check_reductions(reductions) -> tuple[str, ...]:
    if isinstance(reductions, str) or not all(isinstance(r, str) and r for r in reductions):
        raise ValidationError(
            "reductions must be a sequence of non-empty strings describing how M and Y were derived from the "
            f"block's data (e.g. ('rows 300/60000',)); got {reductions!r}"
        )
    return tuple(reductions)


# --------------------------------------------------------------------------- public entry point
def solve_convex_relu(M, Y, *, beta, patterns="auto", n_patterns=DEFAULT_N_PATTERNS, seed=0, bias=None,
                      solver="auto", solver_opts=None, fallback=("SCS",), reductions=(), gap_tol=None,
                      warm_start=None) -> ConvexReLUSolution:
    """Solve the Ergen–Pilanci program for step (12) of Algorithm 2 and certify it.

    Parameters
    ----------
    M : array_like, shape (m, d)
        Block input, **rows are samples** (``M = Ũ_iᵀ``, bias column included, or see ``bias``).
    Y : array_like, shape (m, q) or (m,)
        Targets (the residual ``Ỹᵀ``), rows are samples.
    beta : float
        Regularisation weight β > 0 (weight decay ``β/2 (‖W1‖² + ‖W2‖²)`` of the network);
        :func:`~cvximplicit.solvers.beta_max` gives the β from which the zero network is optimal.
    patterns : {"auto", "exact", "sampled"} or ndarray of bool, shape (m, P)
        See :func:`~cvximplicit.solvers.relu.arrangements.resolve_patterns`: ``"exact"`` (all
        arrangements of ``M = [u, 1]``), ``"sampled"`` (``n_patterns`` seeded Gaussian
        gates), ``"auto"`` (exact when possible) or an array used as given.
    n_patterns : int
        Gates drawn for sampled patterns (duplicates/all-zero removed); default
        :data:`~cvximplicit.solvers.DEFAULT_N_PATTERNS`.
    seed : int
        Seed for the sampled patterns.
    bias : {None, True, False}
        ``True`` appends a column of ones to ``M`` (the neurons' biases; :meth:`ConvexReLUSolution.predict`
        appends it to new inputs); ``None`` uses ``M`` as given and warns
        (:class:`~cvximplicit.exceptions.MissingBiasWarning`) when it has no constant column;
        ``False`` uses it as given without the check (:mod:`cvximplicit.solvers.core.bias`).
    solver : str
        ``"auto"``: the reduced 1-D form goes to Clarabel (SCS after it if Clarabel fails); a
        plain program to the working-set engine ``"ACTIVE_SET"`` (above
        :data:`ACTIVE_SET_AUTO_MIN_NNZ` non-zeros, 0 by default), and if that does not
        certify, to Clarabel (up to :data:`CONIC_AUTO_MAX_NNZ` non-zeros) or ``"ADMM"``,
        warm-started. The report's ``solver_reason`` says which rule applied and any fallback.
        An engine (``"ACTIVE_SET"``, ``"ADMM"``, ``"FISTA"``) or a cvxpy solver name runs alone:
        its failure raises or reports ``"none"``, it never becomes another solver.
    solver_opts : dict, optional
        Options of the solver that runs, checked strictly (an unknown key raises
        :class:`ValidationError` naming the valid ones). Conic solvers: passed to
        ``problem.solve`` on top of :data:`CLARABEL_RELU_OPTS` for Clarabel. Engines:
        their keyword options (``tol``, ``max_iter``, ``time_limit_s``, ...).
    fallback : sequence of str
        Conic solvers tried under ``"auto"`` when Clarabel fails; ignored otherwise.
    reductions : sequence of str
        How ``M`` and ``Y`` were derived from the block's actual data (rows subsampled,
        a feature basis, output directions, extra pattern sources). Recorded in the report;
        any entry makes the certificate ``"restricted"``.
    gap_tol : float, optional
        The relative gap within which the solve is certified: default
        :func:`conic_gap_tol` for conic solvers, the engine's ``tol`` for engines.
    warm_start : (V0, W0), optional
        A starting point, each ``(P, d, q)``, for the engines ``"ACTIVE_SET"``, ``"FISTA"`` and ``"ADMM"``
        (:class:`~cvximplicit.solvers.engines.WarmStart`); conic solvers ignore it.

    Returns
    -------
    ConvexReLUSolution
        Its report's ``certificate`` is (see :data:`~cvximplicit.solvers.core.report.CERTIFIED_CLASS`)
        ``"global"`` only for every arrangement of an unreduced ``M`` with ``q = 1``,
        ``"global_one_vs_all"`` for the same with ``q > 1``, ``"restricted"`` for any other
        pattern set or any reduction, and ``"none"`` when the certified gap misses ``gap_tol``
        or the returned point violates the cone constraints by more than ``max(gap_tol, 1e-6)``
        (then ``gap_abs``/``gap_rel`` are None, since an infeasible point's objective bounds
        nothing). An uncertified solve warns :class:`~cvximplicit.exceptions.InaccurateSolutionWarning`.

    Raises
    ------
    ValidationError
        Bad shapes, non-finite data, β ≤ 0, unknown ``patterns`` mode, ``"exact"``
        for a non-1-D input, unknown ``solver_opts`` keys, malformed ``reductions``, a bad
        ``bias`` (or ``bias=True`` for an ``M`` that has a constant column).
    SolverUnavailableError, MosekLicenseError, SolverFailedError
        See :func:`~cvximplicit.solvers.solve_cvxpy`.
    """
    M, Y, beta = _real_block_data(M, Y, beta)
    M, appended = apply_bias(M, bias, where="solve_convex_relu")
    reductions = _check_reductions(reductions)
    name = check_solver(solver)
    pattern_set = resolve_patterns(M, patterns, n_patterns, seed)
    reduced = pattern_set.structure is not None and one_d_columns(M) is not None
    program = ReluProgram(M, Y, pattern_set.patterns, beta, pattern_set.structure if reduced else None)
    m, d, P, q = program.shape
    name, reason, auto_fallback = _choose(name, reduced, m, d, P, q)
    engine = get_engine(name, fallback=fallback)
    options = _check_options(engine, reason, solver_opts)
    sol = engine.solve(program, _check_warm_start(warm_start), options)
    tol = engine.gap_tol(options, sol.solver) if gap_tol is None else float(gap_tol)
    compile_s, solve_s, reason = sol.compile_time_s, sol.solve_time_s, _noted(reason, sol.note)
    t_cert = time.perf_counter()
    cert = _certify(program, sol, tol)
    refinements = engine.refine(program, sol, options)
    while not cert.certified and (better := next(refinements, None)) is not None:
        sol, reason = better, _noted(reason, better.note)
        compile_s, solve_s = compile_s + sol.compile_time_s, solve_s + sol.solve_time_s
        cert = _certify(program, sol, tol)
    if not cert.certified and auto_fallback is not None:  # "auto" only: its choice failed, say so and go on
        gap = "none" if cert.gap_rel is None else f"{cert.gap_rel:.2g}"
        second = get_engine(auto_fallback, fallback=fallback)
        reason = _noted(reason, f"{sol.solver} stopped uncertified ({sol.status}, gap_rel {gap}); fell back to "
                                f"{'Clarabel' if auto_fallback == 'auto' else auto_fallback} with its defaults, "
                                "warm-started")
        sol = second.solve(program, WarmStart(sol.V, sol.W), second.check_options(None))
        tol = second.gap_tol({}, sol.solver) if gap_tol is None else float(gap_tol)
        compile_s, solve_s = compile_s + sol.compile_time_s, solve_s + sol.solve_time_s
        reason = _noted(reason, sol.note)
        cert = _certify(program, sol, tol)
    V, W, used, status, iters = sol.V, sol.W, sol.solver, sol.status, sol.iterations
    if not np.any(Y):  # Y = 0: the zero network is the exact optimum; drop solver round-off
        V, W = np.zeros_like(V), np.zeros_like(W)
    objective, violation, bound, bound_info = cert.objective, cert.violation, cert.bound, cert.info
    gap_abs, gap_rel, certified = cert.gap_abs, cert.gap_rel, cert.certified
    kind = relu_certificate_kind(all_arrangements=pattern_set.all_arrangements, q=q, reductions=reductions,
                                 certified=certified)
    if not certified:
        warn_uncertified("convex ReLU program (12)", used, status, objective, bound, tol, violation, iters,
                         "; raise max_iter/time_limit_s or tighten the tolerances via solver_opts, or use a conic "
                         "solver such as solver='CLARABEL'")
    network_objective = sol.network_objective
    if network_objective is None or not np.any(Y):
        network_objective = program.network_objective(*decode(V, W, 0.0))
    scale = program.scale
    extra = {
        "n_patterns": P, "beta": beta, "n_active_neurons": int(decode(V, W, NEURON_TOL, scale)[0].shape[0]),
        "m": m, "d": d, "q": q, "formulation": sol.formulation, "network_objective": float(network_objective),
        "constraint_violation": violation, "certificate_time_s": time.perf_counter() - t_cert,
        "dual_bound_info": {k: v for k, v in dict(bound_info or {}).items() if np.isscalar(v)},
    }
    scope = {
        "program": "Ergen-Pilanci program (12)", "loss": "squared", "rows": m, "features": d, "outputs": q,
        "patterns": pattern_set.source, "all_arrangements": pattern_set.all_arrangements, "n_patterns": P,
        "network_class": CERTIFIED_CLASS[kind][0], "gap_tol": tol, "bias": bias_scope(M, appended),
    }
    report = SolveReport(
        problem="convex_relu", solver=used, status=status, objective=objective, bound=bound, gap_abs=gap_abs,
        gap_rel=gap_rel, iterations=iters, compile_time_s=float(compile_s), solve_time_s=float(solve_s),
        certificate=kind, residual=violation, requested_solver=str(solver), solver_reason=reason,
        reductions=reductions, scope=scope, extra=extra,
    )
    return ConvexReLUSolution(V=V, W=W, patterns=program.patterns, beta=beta, report=report, scale=scale,
                              bias=appended)


class _Certification(NamedTuple):
    objective: float
    violation: float
    bound: float
    info: dict
    gap_abs: float | None
    gap_rel: float | None
    certified: bool


def _certify(program: ReluProgram, sol: EngineSolution, tol: float) -> _Certification:
    """Objective, violation and bound in float64 (the engine's own when it computed them), and the verdict.

    The gap counts only at a point feasible to ``max(tol, 1e-6)``; the solve is certified when
    ``−tol ≤ gap_rel ≤ tol``. ``Y = 0``: the zero network is the exact optimum (solver round-off dropped).
    """
    V, W, own = sol.V, sol.W, sol.certificate
    if not np.any(program.Y):
        V, W, own = np.zeros_like(V), np.zeros_like(W), None
    if own is not None:
        objective, violation, bound, info = float(own.objective), float(own.violation), float(own.bound), dict(own.info)
    else:
        objective, violation = program.objective(V, W), program.violation(V, W)
        bound, info = program.bound(program.Y - program.fit(V - W), *(sol.multipliers or (None, None)))
    feasible = violation <= max(tol, 1e-6)
    gap_abs, gap_rel = SolveReport.gaps(objective, bound) if feasible else (None, None)
    certified = gap_certified(gap_rel, violation, tol)
    return _Certification(objective, violation, float(bound), info, gap_abs, gap_rel, certified)


def _noted(reason: str, note: str) -> str:
    return f"{reason}; {note}" if note else reason


def _check_options(engine: Engine, reason: str, solver_opts):
    """``solver_opts`` checked strictly by the engine that runs (saying so when ``"auto"`` chose it)."""
    try:
        return engine.check_options(solver_opts)
    except ValidationError as exc:
        if reason == "requested":
            raise
        raise ValidationError(f"{exc} (solver='auto' chose {engine.name!r}: {reason}; name the solver to choose "
                              "which one the options are for)") from None


def _check_warm_start(warm_start) -> WarmStart | None:
    if warm_start is None:
        return None
    if not (isinstance(warm_start, tuple) and len(warm_start) == 2):
        raise ValidationError(f"warm_start must be None or a pair (V0, W0) of arrays (P, d, q); got {warm_start!r}")
    return WarmStart(*warm_start)
