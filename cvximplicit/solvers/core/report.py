"""Diagnostics returned by every solve: :class:`SolveReport`."""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["SolveReport", "CERTIFICATE_KINDS", "CERTIFIED_CLASS", "engine_certificate_kind", "gap_certified",
           "relu_certificate_kind", "warn_uncertified"]

#: What a report's ``certificate`` field may say; :data:`CERTIFIED_CLASS` says what each one proves.
#:
#: - ``"normal_equations"``: least squares (11) on the full data; ``residual`` is the
#:   relative normal-equation residual ``‖(Ŷ − Y) Xᵀ‖_F / ‖Y Xᵀ‖_F``.
#: - ``"multinomial_logistic"``: the cross-entropy output step (ridge multinomial logistic
#:   regression) on the full data, relative Fenchel-dual gap within tolerance.
#: - ``"global"``: program (12) over *every* arrangement of the block's actual input,
#:   no reduction of rows, features or outputs, scalar output, gap within tolerance.
#: - ``"global_one_vs_all"``: as ``"global"`` but ``q > 1`` outputs: global only for
#:   networks whose neurons each feed one output.
#: - ``"restricted"``: optimal, within tolerance, for the program actually solved
#:   (sampled/guided/given patterns, or any reduction listed in ``reductions``).
#: - ``"none"``: nothing is certified (the gap missed its tolerance, the iterate is
#:   infeasible, or no bound exists, e.g. gradient-based local search).
CERTIFICATE_KINDS = ("normal_equations", "multinomial_logistic", "global", "global_one_vs_all", "restricted", "none")

#: The claim each certificate kind makes: kind → (network class, conditions).
CERTIFIED_CLASS = {
    "normal_equations": ("the linear output map C of least squares (11)",
                         "full data; exact minimiser up to the reported normal-equation residual"),
    "multinomial_logistic": ("the linear output map C of the ridge multinomial logistic regression (output step)",
                             "full data, ridge r > 0; relative Fenchel-dual gap within tolerance"),
    "global": ("two-layer ReLU networks of any width on the block's input, scalar output, weight decay β/2",
               "all arrangements of the block's actual input, no row/feature/output reduction, q = 1, "
               "gap within tolerance"),
    "global_one_vs_all": ("two-layer ReLU networks of any width whose neurons each feed ONE output, weight decay β/2 "
                          "(a network with dense output weights can go below the bound)",
                          "as 'global' but q > 1"),
    "restricted": ("the convex program actually solved (its patterns, rows, features and outputs)",
                   "sampled, guided or given patterns, or any reduction (listed in the report)"),
    "none": ("nothing", "the gap missed its tolerance, the returned point is infeasible, or no bound"),
}


def gap_certified(gap_rel: float | None, violation: float, tol: float) -> bool:
    """The one rule of every solve of program (12): certified iff the point is feasible to ``max(tol, 1e-6)``
    and ``−tol ≤ gap_rel ≤ tol`` (``gap_rel`` None, e.g. no finite bound, is never certified)."""
    return gap_rel is not None and violation <= max(tol, 1e-6) and -tol <= gap_rel <= tol


def relu_certificate_kind(*, all_arrangements: bool, q: int, reductions, certified: bool) -> str:
    """The certificate kind of a solve of program (12) (see :data:`CERTIFIED_CLASS`).

    ``all_arrangements``: the patterns are every arrangement of the matrix solved on;
    ``reductions``: what was reduced on the way from the block's data to that matrix
    (rows, features, outputs); ``certified``: the gap met its tolerance at a feasible point.
    """
    if not certified:
        return "none"
    if not all_arrangements or len(tuple(reductions)) > 0:
        return "restricted"
    return "global" if q == 1 else "global_one_vs_all"


def engine_certificate_kind(gap_rel: float | None, violation: float, tol: float) -> str:
    """An engine function's own kind for its solve: ``"restricted"`` when :func:`gap_certified`, else ``"none"``.

    An engine sees only the program it was handed (no claim about arrangements or reductions);
    :func:`~cvximplicit.solvers.relu.convex_relu.solve_convex_relu` relabels with what it knows.
    """
    return relu_certificate_kind(all_arrangements=False, q=1, reductions=(),
                                 certified=gap_certified(gap_rel, violation, tol))


def warn_uncertified(program: str, used: str, status: str, objective: float, bound: float, tol: float,
                     violation: float, iterations, hint: str = "") -> None:
    """Warn :class:`~cvximplicit.exceptions.InaccurateSolutionWarning` for a solve of ``program`` that earned no certificate."""
    from ...exceptions import InaccurateSolutionWarning

    gap_rel = SolveReport.gaps(objective, bound)[1]
    warnings.warn(
        f"{used} stopped with status {status!r} on the {program} without a certificate: objective={objective:.10g}, "
        f"bound={bound:.10g}, gap_rel={gap_rel:.3g} (tolerance {tol:g}), constraint violation={violation:.3g}, "
        f"iterations={iterations}{hint}",
        InaccurateSolutionWarning, stacklevel=3)


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
    requested_solver : str
        The solver name the caller asked for (``"auto"``, ``"CLARABEL"``, ...).
    solver_reason : str
        Why :attr:`solver` ran: ``"requested"``, or the ``"auto"`` rule that chose it
        (and, after a failure under ``"auto"``, which solver failed and how).
    reductions : tuple of str
        How the program solved was derived from the block's data (e.g.
        ``"rows 300/60000"``, ``"features 31/785 (principal basis)"``,
        ``"outputs 2/10 (singular directions)"``, ``"patterns sampled+guided"``).
        Any entry makes a ReLU certificate ``"restricted"``.
    scope : mapping
        What the certificate is about: ``program``, ``loss``, ``rows``, ``features``,
        ``outputs``, ``patterns`` (how they were chosen), ``n_patterns``,
        ``network_class`` and ``gap_tol`` (the tolerance the gap was held to).
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
    requested_solver: str = ""
    solver_reason: str = ""
    reductions: tuple = ()
    scope: Mapping[str, Any] = field(default_factory=dict)
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
        out["scope"] = dict(self.scope)
        out["reductions"] = list(self.reductions)
        out["total_time_s"] = self.total_time_s
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SolveReport":
        """The report that :meth:`to_dict` wrote (``from_dict(r.to_dict()) == r``).

        The derived ``total_time_s`` and keys this version does not know are ignored; fields
        missing from ``data`` take their defaults. Raises :class:`ValueError` when ``data`` is not
        a mapping, lacks ``problem``, ``solver``, ``status`` or ``objective``, or names an unknown
        certificate kind.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a solve report must be a dict of its fields; got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [k for k in ("problem", "solver", "status", "objective") if k not in data]
        if missing:
            raise ValueError(f"a solve report needs the field(s) {missing}; got the keys {sorted(data)}")
        fields = {k: v for k, v in data.items() if k in names}
        fields["reductions"] = tuple(fields.get("reductions") or ())
        fields["scope"], fields["extra"] = dict(fields.get("scope") or {}), dict(fields.get("extra") or {})
        return cls(**fields)

    def __getitem__(self, key: str) -> Any:
        """Read access by field name (``report["gap_rel"]``), as for the dicts reports once were."""
        if key == "total_time_s":
            return self.total_time_s
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """``self[key]``, or ``default`` for a name that is not a field."""
        try:
            return self[key]
        except KeyError:
            return default

    def summary(self) -> str:
        """One line: solver, status, objective, gap and time (``str(report)`` gives :meth:`describe`)."""
        gap = "n/a" if self.gap_rel is None else f"{self.gap_rel:.1e}"
        return (
            f"{self.problem:<14} {self.solver:<9} {self.status:<18} obj={self.objective:.6g} "
            f"gap_rel={gap} cert={self.certificate} t={self.total_time_s:.2f}s"
        )

    def describe(self) -> str:
        """Several lines for a person: what was solved, the numbers, what the certificate proves, what ran.

        ``print(report)`` prints this; :meth:`summary` is the one-line form and ``repr(report)`` every field.
        """
        scope, extra = dict(self.scope), dict(self.extra)
        title = scope.get("program") or self.problem
        lines = [f"{self.problem}: {title}" + (f", {scope['loss']} loss" if scope.get("loss") else "")]
        data = [f"{scope[k]} {label}{'' if scope[k] == 1 else 's'}"
                for k, label in (("rows", "row"), ("features", "feature"), ("outputs", "output")) if k in scope]
        if "n_patterns" in scope:
            every = ", every arrangement" if scope.get("all_arrangements") else ""
            data.append(f"{scope['n_patterns']} patterns ({scope.get('patterns', 'given')}{every})")
        rows = [("data", ", ".join(data))] if data else []
        rows += [row for row in (("bias", str(scope["bias"])) if "bias" in scope else None,
                                 ("beta", f"{float(extra['beta']):.6g}") if "beta" in extra else None) if row]
        numbers = f"{self.objective:.10g}"
        if self.bound is not None:
            gap = "n/a" if self.gap_rel is None else f"{self.gap_rel:.2e}"
            tol = f" (tolerance {float(scope['gap_tol']):g})" if "gap_tol" in scope else ""
            numbers += f"; certified lower bound {self.bound:.10g}; gap_rel {gap}{tol}"
        rows.append(("objective", numbers))
        rows.append(("certificate", f"{self.certificate}: {CERTIFIED_CLASS[self.certificate][0]}"))
        if "n_active_neurons" in extra:
            rows.append(("neurons", f"{extra['n_active_neurons']} active"))
        ran = f"{self.solver} ({self.solver_reason or 'requested'}); status {self.status}"
        if self.iterations is not None:
            ran += f", {self.iterations} iterations"
        rows.append(("solver", ran + f", {self.total_time_s:.3g} s"))
        rows.append(("reductions", ", ".join(self.reductions) or "none"))
        width = max(len(k) for k, _ in rows)
        lines += [f"  {k + ':':<{width + 1}} {v}" for k, v in rows]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()
