"""The final judgement of an engine: its float64 objective, violation and dual bound turned into a report.

One rule for every engine (:func:`~cvximplicit.solvers.core.report.gap_certified`): the solve is certified when
the returned point is feasible to ``max(tol, 1e-6)`` and ``−tol ≤ gap_rel ≤ tol``; then its status is
``"optimal"`` and its certificate ``"restricted"`` (the caller relabels ``"global"`` when it knows the patterns are
every arrangement). Otherwise the certificate is ``"none"`` and the status says where the engine stopped
(``"max_iter"``, ``"time_limit"``, …; an engine that thought it was done but is not certified says ``"max_iter"``).
"""

from __future__ import annotations

import time
from typing import NamedTuple

from ..core.report import SolveReport, engine_certificate_kind, gap_certified

__all__ = ["Verdict", "final_report", "judge"]


class Verdict(NamedTuple):
    """The status, gaps and certificate kind of a solve."""

    status: str
    gap_abs: float | None
    gap_rel: float | None
    certificate: str


def judge(objective: float, bound: float, violation: float, tol: float, status: str) -> Verdict:
    """The :class:`Verdict` of a point with float64 ``objective`` and ``violation`` and a dual ``bound``."""
    gap_abs, gap_rel = SolveReport.gaps(objective, bound)
    if gap_certified(gap_rel, violation, tol):
        status = "optimal"
    elif status == "optimal":
        status = "max_iter"
    return Verdict(status, gap_abs, gap_rel, engine_certificate_kind(gap_rel, violation, tol))


def final_report(solver: str, verdict: Verdict, *, objective: float, bound: float, violation: float,
                 iterations: int, t_start: float, compile_time_s: float = 0.0, extra,
                 problem: str = "convex_relu") -> SolveReport:
    """The engine's :class:`SolveReport`; ``solve_time_s`` counts from ``t_start`` (``time.perf_counter()``)."""
    return SolveReport(
        problem=problem, solver=solver, status=verdict.status, objective=float(objective), bound=float(bound),
        gap_abs=verdict.gap_abs, gap_rel=verdict.gap_rel, iterations=iterations, compile_time_s=compile_time_s,
        solve_time_s=time.perf_counter() - t_start, certificate=verdict.certificate, residual=float(violation),
        extra=extra)
