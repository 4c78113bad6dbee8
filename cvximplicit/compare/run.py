"""One solver on one block in a child process under a hard wall-clock limit, and the comparison loop."""

from __future__ import annotations

import math
import multiprocessing
import time
import traceback
import warnings
from pathlib import Path

from .._params import Real, check_params
from ..exceptions import ValidationError
from .problems import (
    PROBLEMS,
    TIME_LIMIT_OPTIONS,
    BlockProblem,
    default_solvers,
    make_problem,
)


# --------------------------------------------------------------------------- one solve, in a child
def _solve_row(problem: BlockProblem, solver: str, own_limit_s: float) -> dict:
    """Run one solve in this process and return its row (errors become rows)."""
    import resource

    from ..solvers import solve_convex_relu

    limit = TIME_LIMIT_OPTIONS.get(solver)
    opts = None if limit is None else limit(float(own_limit_s))
    row: dict = {}
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():  # a non-optimal status is reported in the row
            warnings.simplefilter("ignore")
            sol = solve_convex_relu(problem.M, problem.Y, beta=problem.beta, patterns=problem.patterns,
                                    n_patterns=problem.n_patterns, seed=problem.seed, solver=solver,
                                    solver_opts=opts, fallback=())
    except Exception as exc:  # a failing or unsupported solver is a row, not a crash
        status = getattr(exc, "status", None)
        row.update(status=_short_status(status) if status else "error", time_s=time.perf_counter() - start,
                   error=f"{type(exc).__name__}: {str(exc)[:300]}")
    else:
        rep = sol.report
        obj, bound = rep.objective, rep.bound
        bound_gap = None
        if bound is not None and math.isfinite(obj) and math.isfinite(bound):
            bound_gap = (obj - bound) / max(1.0, abs(obj))
        row.update(status=rep.status, time_s=time.perf_counter() - start, objective=obj, bound=bound,
                   gap_rel=rep.gap_rel, bound_gap_rel=bound_gap, certificate=rep.certificate,
                   constraint_violation=rep.residual, iterations=rep.iterations, solver_used=rep.solver,
                   n_patterns=rep.extra.get("n_patterns"), formulation=rep.extra.get("formulation"),
                   requested_solver=rep.requested_solver, solver_reason=rep.solver_reason,
                   reductions=list(rep.reductions))
    row["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    row["solver_opts"] = opts
    return row


def _short_status(status: str) -> str:
    return status.split(":")[0] if status.startswith("error") else status


def _child(conn, problem, solver, own_limit_s):  # pragma: no cover - runs in the child process
    try:
        conn.send(_solve_row(problem, solver, own_limit_s))
    except BaseException as exc:
        conn.send({"status": "error", "error": f"{type(exc).__name__}: {exc}",
                   "traceback": traceback.format_exc(limit=3)})
    finally:
        conn.close()


def _vm_hwm_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


def _context(start_method):
    if start_method is None:
        start_method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(start_method)


def run_limited(problem: BlockProblem, solver: str, time_limit_s: float, *, solver_share: float = 0.8,
                start_method: str | None = None) -> dict:
    """One solve of ``problem`` with ``solver`` in a child process, stopped after ``time_limit_s`` seconds.

    The solver's own time-limit option (where it has one) is set to
    ``solver_share · time_limit_s``. Returns the row of :func:`compare_solvers`
    without its common keys (status ``"time_limit"`` when stopped).
    """
    ctx = _context(start_method)
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, problem, solver, solver_share * time_limit_s), daemon=True)
    start = time.perf_counter()
    proc.start()
    child.close()
    deadline = start + time_limit_s
    row = None
    try:
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            if parent.poll(min(remaining, 0.05)):
                try:
                    row = parent.recv()
                except EOFError:  # the child died without sending
                    row = None
                break
            if not proc.is_alive() and not parent.poll(0):
                break
        elapsed = time.perf_counter() - start
        if row is None:
            alive = proc.is_alive()
            peak = _vm_hwm_mib(proc.pid) if alive else None
            if alive:
                proc.terminate()
                proc.join(2.0)
                if proc.is_alive():
                    proc.kill()
                row = {"status": "time_limit", "time_s": elapsed, "peak_rss_mib": peak,
                       "error": f"stopped at the {time_limit_s:g} s limit"}
            else:
                row = {"status": "crashed", "time_s": elapsed,
                       "error": f"the solver process exited with code {proc.exitcode} without a result"}
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join(2.0)
        parent.close()
    return row


def compare_solvers(problem, solvers=None, time_limit_s: float = 10.0, *, solver_share: float = 0.8,
                    start_method: str | None = None, seed: int = 0, progress=None) -> list[dict]:
    """Solve one block problem with each solver under a hard wall-clock limit.

    Parameters
    ----------
    problem : BlockProblem or str
        A problem, or a name of :data:`PROBLEMS` (built with ``seed``).
    solvers : list of str, optional
        Solver names for :func:`~cvximplicit.solvers.solve_convex_relu`
        (default :func:`default_solvers`).
    time_limit_s : float
        Each solver's hard wall-clock limit: its process is stopped when it is
        reached (compilation and certificate included).
    solver_share : float
        Fraction in ``(0, 1]`` of the limit handed to a solver's own time-limit
        option (:data:`TIME_LIMIT_OPTIONS`), leaving the rest for the certificate.
    start_method : {"fork", "spawn", "forkserver"}, optional
        :mod:`multiprocessing` start method (default ``fork`` where available).
    progress : callable, optional
        Called with each row as soon as it is measured.

    Returns
    -------
    list of dict
        One row per solver: ``problem``, ``shape``, ``n_patterns`` (the patterns every solver gets),
        ``beta``, ``beta_max`` and ``beta_ratio`` (``β / β_max``), ``solver``, ``status``
        (solver status, ``"time_limit"`` when stopped, ``"error"``), ``time_s``,
        ``objective``, ``bound``, ``gap_rel`` (the report's certified relative
        gap; None where the report gives none), ``bound_gap_rel``
        (``(objective − bound) / max(1, |objective|)``, also at an uncertified
        point), ``certificate`` (the report's kind, ``"none"`` included),
        ``constraint_violation``, ``iterations``,
        ``peak_rss_mib``, ``time_limit_s``, ``error`` (or None) and, where the
        solve succeeded, ``solver_used`` and the report's ``requested_solver`` and
        ``solver_reason`` when it has them.

    Raises
    ------
    ValidationError
        If ``time_limit_s`` is not a positive number, ``solver_share`` not in
        ``(0, 1]``, or ``solvers`` is empty.
    """
    check_params("compare_solvers", {"time_limit_s": time_limit_s, "solver_share": solver_share},
                 {"time_limit_s": [Real(0.0, closed="neither")], "solver_share": [Real(0.0, 1.0, closed="right")]})
    if isinstance(problem, str):
        problem = make_problem(problem, seed=seed)
    if not isinstance(problem, BlockProblem):
        raise ValidationError(f"problem must be a BlockProblem or one of {PROBLEMS}; got {type(problem).__name__}")
    solvers = default_solvers() if solvers is None else [str(s) for s in solvers]
    if not solvers:
        raise ValidationError(f"solvers must name at least one solver, e.g. {default_solvers()}")
    rows = []
    for solver in solvers:
        row = {"problem": problem.name, "shape": problem.shape, "n_patterns": problem.pattern_set.patterns.shape[1],
               "beta": problem.beta, "beta_max": problem.beta_max, "beta_ratio": problem.beta_ratio,
               "solver": solver, "status": None, "time_s": None, "objective": None, "bound": None, "gap_rel": None,
               "certificate": None, "iterations": None, "peak_rss_mib": None, "time_limit_s": float(time_limit_s),
               "error": None}
        row.update(run_limited(problem, solver, float(time_limit_s), solver_share=float(solver_share),
                               start_method=start_method))
        rows.append(row)
        if progress is not None:
            progress(row)
    return rows


