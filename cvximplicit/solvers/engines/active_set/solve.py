"""The working-set engine's public solve: options, the outer loop over full passes, and the final judgement."""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import numpy as np

from ...._params import Int, Real, check_params
from ...core._checks import _program_data
from ...core._threads import one_blas_thread_if_small
from ...relu.certificate import constraint_violation, dual_bound
from ..cones import INSIDE, tight_rows, violated_rows
from ..feasibility import exact_point
from ..iterations import TINY
from ..judge import final_report, judge
from ..options import progress_logger, reject_unknown, warm_start_groups
from .full_pass import full_pass
from .newton import inner_solve
from .outputs import map_outputs, n_processes
from .working_set import WorkingSet

__all__ = ["ACTIVE_SET_OPTIONS", "solve_convex_relu_active_set"]

#: The engine's options (an unknown key is an error naming these).
ACTIVE_SET_OPTIONS = ("tol", "max_outer", "max_newton", "time_limit_s", "verbose", "V0", "W0", "n_jobs")

FINISH_FRACTION = 1e-6  # once no group enters, the inner solve goes to this fraction of the target
INNER_FRACTION = 1e-4  # inner solves stop at a decrement of this fraction of the gap (celer's rule)
STALL_TIGHTEN = 1e-4  # a pass that left the objective where it was tightens the inner solve this much
WARM_FRACTION = 1e-3  # a warm start is first fitted to this fraction of its objective
FLOOR = 1e-30  # the finest inner tolerance (relative): Newton converges quadratically, round-off ends it


class _Run(NamedTuple):
    """One output's outer loop: the passes and Newton steps it took and where it stopped."""

    passes: int
    newton: int
    status: str


class _Shared(NamedTuple):
    """What every output reads: the block, the warm start ``[V0, W0]``, the options and the deadline."""

    M: np.ndarray
    Y: np.ndarray
    D: np.ndarray
    S: np.ndarray
    row_norm: np.ndarray
    beta: float
    starts: list
    tol: float
    max_outer: int
    max_newton: int
    deadline: float | None
    log: object


class _Output(NamedTuple):
    """One output's result: its groups ``(ks, sv, Z)``, ``λ_c``, its run, and ``μ_c``'s non-zeros (index, values)."""

    groups: tuple
    lam: np.ndarray
    run: _Run
    ws_size: int
    mu_index: tuple
    mu_values: np.ndarray


def solve_convex_relu_active_set(M, Y, patterns, beta, *, tol=1e-6, max_outer=60, max_newton=4000,
                                 time_limit_s=None, V0=None, W0=None, verbose=False, n_jobs=None, **unknown):
    """Solve program (12) by working sets over groups and cone rows; certify with a float64 dual bound.

    The method is in :mod:`cvximplicit.solvers.engines.active_set` (and ``docs/engines.md``). Orientation: ``M``
    ``(m, d)`` and ``Y`` ``(m, q)`` with **rows as samples**, ``patterns`` ``(m, P)`` bool, ``V, W`` ``(P, d, q)``.

    Parameters
    ----------
    M, Y, patterns, beta
        Program (12)'s data (``Y`` 1-D means ``q = 1``) and ``β > 0``.
    tol : float
        Target relative gap ``(objective − bound) / max(1, |objective|)``.
    max_outer : int
        Full passes (per output) at most.
    max_newton : int
        Newton steps (per output, over all passes) at most.
    time_limit_s : float, optional
        Wall-clock limit of the caller; the only way the clock enters.
    V0, W0 : array_like, shape (P, d, q), optional
        Warm start: its non-zero groups (made feasible) start the working sets.
    verbose : bool
        One line per full pass (logged, see :func:`~cvximplicit.solvers.engines.options.progress_logger`).
    n_jobs : int, optional
        Worker processes over which the outputs are spread (forked; one BLAS thread each; ``-1``: every core).
        None: ``min(q, cpu_count)`` when ``q ≥ 2`` and ``m · d > 10⁶`` (a large block, whose sequential solve
        keeps the caller's BLAS threads), else 1 (no process started). The result does not depend on it beyond
        BLAS threading; ``extra["n_jobs"]`` says how many processes ran.

    Returns
    -------
    V, W : ndarray, shape (P, d, q)
        Exactly feasible (``constraint_violation == 0``).
    report : SolveReport
        ``solver="ACTIVE_SET"``, ``status`` ``"optimal"`` / ``"max_iter"`` / ``"time_limit"``,
        ``objective`` (float64, at the returned point), ``bound`` (:func:`dual_bound`), gaps,
        ``iterations`` (full passes, summed over outputs), ``certificate`` (``"restricted"`` when
        the gap meets ``tol``, else ``"none"``), ``extra`` (``newton_steps``, ``working_set``, ``n_jobs``, ...).

    Raises
    ------
    ValidationError
        Bad data, a bad option value, or an unknown option (the message lists
        :data:`ACTIVE_SET_OPTIONS`).
    """
    t_start = time.perf_counter()
    reject_unknown("ACTIVE_SET", unknown, ACTIVE_SET_OPTIONS)
    positive = Real(0.0, closed="neither")
    check_params("ACTIVE_SET", {"tol": tol, "max_outer": max_outer, "max_newton": max_newton,
                                "time_limit_s": time_limit_s, "n_jobs": n_jobs},
                 {"tol": [positive], "max_outer": [Int(1)], "max_newton": [Int(1)], "time_limit_s": [None, positive],
                  "n_jobs": [None, Int(1), Int(-1, -1)]})
    M, Y, patterns, beta = _program_data(M, Y, patterns, beta)
    (m, d), q, P = M.shape, Y.shape[1], patterns.shape[1]
    starts = warm_start_groups(V0, W0, P, d, q)
    deadline = None if time_limit_s is None else t_start + float(time_limit_s)
    D = patterns.astype(np.float64)
    S = 2.0 * D - 1.0
    row_norm = np.maximum(np.sqrt(np.einsum("md,md->m", M, M)), TINY)
    mu = np.zeros((2, P, m, q))  # the multipliers of the bound
    lam = np.array(Y)
    V, W = np.zeros((P, d, q)), np.zeros((P, d, q))
    passes, newton, status, ws_size = 0, 0, "optimal", []
    shared = _Shared(M, Y, D, S, row_norm, beta, starts, tol, max_outer, max_newton, deadline, progress_logger(verbose))
    n_proc, why = n_processes(n_jobs, q, m, d)
    with one_blas_thread_if_small(m, d):  # many small products: BLAS threads cost more than they save
        for c, out in enumerate(map_outputs(_solve_one_output, shared, q, n_proc)):
            passes, newton = passes + out.run.passes, newton + out.run.newton
            if out.run.status != "optimal" and status == "optimal":
                status = out.run.status
            lam[:, c] = out.lam
            mu[..., c][out.mu_index] = out.mu_values
            for k, sv, z in zip(*out.groups):
                (V if sv == 0 else W)[k, :, c] = z
            ws_size.append(out.ws_size)
        # exact feasibility (tight rows hold to round-off), objective and the judge
        V, W, obj, dropped = exact_point(M, Y, patterns, beta, V, W)
        bound, det = dual_bound(M, Y, patterns, beta, lam, mu_pos=mu[0], mu_neg=mu[1])
        viol = float(constraint_violation(M, patterns, V, W))
        nv, nw = np.linalg.norm(V, axis=1), np.linalg.norm(W, axis=1)
        extra = {"n_patterns": P, "outer_passes": passes, "newton_steps": newton, "working_set": ws_size,
                 "n_active_groups": int((nv > 0).sum() + (nw > 0).sum()), "dropped_groups": dropped,
                 "bound_rho": det.get("rho"), "bound_t": det.get("t"), "zero_objective": 0.5 * float(np.sum(Y * Y)),
                 "n_jobs": n_proc}
        if why:
            extra["n_jobs_note"] = why
        return V, W, final_report("ACTIVE_SET", judge(obj, bound, viol, tol, status), objective=obj, bound=bound,
                                  violation=viol, iterations=passes, t_start=t_start, extra=extra)


def _solve_one_output(c: int, sh: _Shared) -> _Output:
    """Output ``c`` alone (in this process or a worker): its working set from the warm start, then its passes."""
    (m, P), q = sh.D.shape, sh.Y.shape[1]
    ws = WorkingSet(sh.M, sh.Y[:, c], sh.D, sh.S, sh.row_norm, sh.beta)
    for s, Z0 in enumerate(sh.starts):
        if Z0 is not None:
            for k in np.flatnonzero(np.linalg.norm(Z0[:, :, c], axis=1) > 0):
                _enter_warm(ws, int(k), s, Z0[k, :, c])
    mu_c = np.zeros((2, P, m))
    run = _solve_output(ws, sh.tol, q, sh.max_outer, sh.max_newton, sh.deadline, mu_c, sh.log, c)
    index = np.nonzero(mu_c)  # a few rows per group: returned from a worker without the dense (2, P, m)
    return _Output((ws.ks.copy(), ws.sv.copy(), ws.Z.copy()), ws.y - ws.fit(), run, ws.n, index, mu_c[index])


def _solve_output(ws: WorkingSet, tol, q, max_outer, max_newton, deadline, mu_c, log, c) -> _Run:
    """Full passes and inner solves on one output ``c`` until ``gap_c ≤ ½ tol max(obj_c, 1/q)``.

    Each working set is solved only as far as the gap asks (celer's rule): coarse while the set grows, finer when a
    pass left the objective where it was; a warm start's groups are first fitted at this β, so that the first full
    pass measures the other groups against a residual near that of the warm working set. The outputs' gaps add up:
    ``Σ_c gap_c ≤ tol · max(1, Σ_c obj_c)``.
    """
    y = ws.y
    gtol, status, newton, last, npass = math.inf, "max_iter", 0, None, 0
    if ws.n:
        gtol = WARM_FRACTION * ws.objective(y - ws.fit())
    for _ in range(max_outer):
        if deadline is not None and time.perf_counter() > deadline:
            status = "time_limit"
            break
        npass += 1
        newton += inner_solve(ws, gtol, max_newton - newton, deadline)
        r = y - ws.fit()
        obj_c = ws.objective(r)
        n_before = ws.n
        bound_c = full_pass(ws, r, mu_c, log, npass, c)
        gap_c, target = obj_c - bound_c, 0.5 * tol * max(obj_c, 1.0 / q)
        if gap_c <= target:
            status = "optimal"
            break
        floor = FLOOR * max(1.0, obj_c)  # Newton converges quadratically: round-off, not gtol, ends it
        if (obj_c, bound_c) == last and gtol <= floor:  # nothing changed at the finest inner tolerance:
            break  # round-off level; the final judge decides
        stalled = last is not None and obj_c > last[0] - gtol
        last = (obj_c, bound_c)
        if newton >= max_newton:
            break
        # a pass that let no group in leaves only the working set to finish: to well within the target
        finish = FINISH_FRACTION * target if ws.n == n_before else math.inf
        gtol = max(min(STALL_TIGHTEN * gtol if stalled else gtol, INNER_FRACTION * gap_c, finish), floor)
    return _Run(npass, newton, status)


def _enter_warm(ws: WorkingSet, k, s, z):
    """Put a warm-start group into the working set if it is feasible (its tight rows held)."""
    g = ws.cone(k) @ z
    nz = math.sqrt(float(z @ z))
    if nz == 0 or np.any(violated_rows(g, ws.row_norm, nz, INSIDE)):
        return
    ws.add(k, s, z.copy(), np.flatnonzero(tight_rows(g, ws.row_norm, nz))[: ws.d - 1])
