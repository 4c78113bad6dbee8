"""Diagnostics returned by every solve: :class:`SolveReport`."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["SolveReport", "CERTIFICATE_KINDS"]

#: What a report's ``certificate`` field may say.
#:
#: - ``"normal_equations"``: least squares; ``residual`` is the relative
#:   normal-equation residual ``‖(Ŷ − Y) Xᵀ‖_F / ‖Y Xᵀ‖_F``.
#: - ``"global"``: convex program over *all* activation patterns; the dual
#:   certificate proves global optimality of the nonconvex shallow ReLU problem
#:   up to ``gap_rel``.
#: - ``"restricted"``: convex program over *sampled* patterns; the gap certifies
#:   optimality only for the problem restricted to those patterns.
#: - ``"duality_gap"``: a generic convex program certified by a primal/dual pair.
#: - ``"none"``: no certificate (e.g. gradient-based local search).
CERTIFICATE_KINDS = ("normal_equations", "global", "restricted", "duality_gap", "none")


@dataclass(frozen=True)
class SolveReport:
    """Result diagnostics of one solve.

    Attributes
    ----------
    problem : str
        Which problem was solved (``"least_squares"``, ``"convex_relu"``, ...).
    solver : str
        The solver that produced the solution (``"CLARABEL"``, ``"FISTA"``, ...).
    status : str
        Solver status, e.g. ``"optimal"`` or ``"optimal_inaccurate"``.
    objective : float
        Primal objective value at the returned point.
    bound : float or None
        A certified lower bound (dual objective) on the optimal value.
    gap_abs, gap_rel : float or None
        ``objective − bound`` and that gap divided by ``max(1, |objective|)``.
    iterations : int or None
        Solver iterations, where the solver reports them.
    compile_time_s, solve_time_s : float
        Time spent building/compiling the problem and inside the solver.
    certificate : str
        One of :data:`CERTIFICATE_KINDS`.
    residual : float or None
        A relative optimality residual (normal equations, KKT) where defined.
    extra : mapping
        Problem-specific numbers (pattern counts, β, neuron counts, ...).
    """

    problem: str
    solver: str
    status: str
    objective: float
    bound: float | None = None
    gap_abs: float | None = None
    gap_rel: float | None = None
    iterations: int | None = None
    compile_time_s: float = 0.0
    solve_time_s: float = 0.0
    certificate: str = "none"
    residual: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.certificate not in CERTIFICATE_KINDS:
            raise ValueError(
                f"certificate must be one of {CERTIFICATE_KINDS}; got {self.certificate!r}"
            )

    @staticmethod
    def gaps(objective: float, bound: float | None) -> tuple[float | None, float | None]:
        """Return ``(gap_abs, gap_rel)`` for a primal value and a lower bound."""
        if bound is None or not math.isfinite(bound):
            return None, None
        gap = float(objective - bound)
        return gap, gap / max(1.0, abs(float(objective)))

    @property
    def total_time_s(self) -> float:
        return self.compile_time_s + self.solve_time_s

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of all fields (floats stay floats)."""
        out = dataclasses.asdict(self)
        out["extra"] = dict(self.extra)
        out["total_time_s"] = self.total_time_s
        return out

    def summary(self) -> str:
        """One line: solver, status, objective, gap and time."""
        gap = "n/a" if self.gap_rel is None else f"{self.gap_rel:.1e}"
        return (
            f"{self.problem:<14} {self.solver:<9} {self.status:<18} obj={self.objective:.6g} "
            f"gap_rel={gap} cert={self.certificate} t={self.total_time_s:.2f}s"
        )
