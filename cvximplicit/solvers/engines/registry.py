"""What solves program (12): one protocol, :class:`Engine`, for our own engines and for the conic solvers.

An engine has a ``name``, its ``option_names``, ``check_options(options)`` (strict: an unknown
key raises :class:`ValidationError` naming the valid ones), ``gap_tol(options, used)`` (the
relative gap it is held to), ``solve(program, warm_start, options) -> EngineSolution`` and
``refine(program, solution, options)`` (re-solves to try, in turn, while the certificate
fails; usually none). ``program`` is a :class:`~cvximplicit.solvers.relu.program.ReluProgram`;
``warm_start`` an optional :class:`WarmStart` ``(V0, W0)``, each ``(P, d, q)``.

The registry: :data:`ENGINES` are our own engines, ``"FISTA"`` (augmented Lagrangian +
restarted FISTA, :mod:`cvximplicit.solvers.engines.first_order`) and ``"ADMM"``
(:mod:`cvximplicit.solvers.engines.admm`), functions ``f(M, Y, patterns, beta, *, V0, W0, **options)
-> (V, W, SolveReport)`` whose report carries the float64 objective, the constraint violation
(``residual``) and a dual bound; :class:`FunctionEngine` puts one behind the protocol. Any
other name (a cvxpy solver, or ``"auto"``: Clarabel then a fallback) is the conic engine
:data:`CONIC_ENGINE`, :class:`cvximplicit.solvers.relu.conic.ConicEngine`. Engines are imported
only when first used.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Iterator,
    Mapping,
    NamedTuple,
    Protocol,
    Sequence,
    runtime_checkable,
)

import numpy as np

from ...exceptions import SolverUnavailableError, ValidationError

__all__ = ["ENGINES", "CONIC_ENGINE", "Engine", "EngineSolution", "OwnCertificate", "WarmStart", "FunctionEngine",
           "is_engine", "engine_available", "get_engine"]

#: Our own engines: name → (module, function).
ENGINES: dict[str, tuple[str, str]] = {
    "FISTA": ("cvximplicit.solvers.engines.first_order", "solve_convex_relu_first_order"),
    "ADMM": ("cvximplicit.solvers.engines.admm", "solve_convex_relu_admm"),
    "ACTIVE_SET": ("cvximplicit.solvers.engines.active_set", "solve_convex_relu_active_set"),
}

#: The conic engine (any cvxpy solver name, or ``"auto"``): (module, class).
CONIC_ENGINE: tuple[str, str] = ("cvximplicit.solvers.relu.conic", "ConicEngine")

#: The option names under which callers used to pass a warm start (still accepted: see :class:`FunctionEngine`).
_WARM_KEYS = ("V0", "W0")
#: Keyword options of an engine function that pose another program than (12) (the cross-entropy loss).
_OTHER_PROGRAM_KEYS = ("loss", "offset")


class WarmStart(NamedTuple):
    """A starting point of program (12): ``V``, ``W`` of shape ``(P, d, q)``."""

    V: np.ndarray
    W: np.ndarray


class OwnCertificate(NamedTuple):
    """An engine's own float64 certificate: objective, constraint violation, dual bound and the bound's details."""

    objective: float
    violation: float
    bound: float
    info: Mapping[str, Any]


class EngineSolution(NamedTuple):
    """What every engine returns: the point, what ran, and what the certificate needs.

    ``certificate`` is the engine's own :class:`OwnCertificate` where it computed one (None: the
    caller recomputes objective, violation and bound); ``multipliers`` ``(μ₊, μ₋)``, each
    ``(P, m, q)``, are constraint duals for that recomputed bound (None: ``μ = 0``). ``note`` is
    appended to the report's ``solver_reason`` (a fallback, a re-solve); ``report`` is the
    engine's own :class:`~cvximplicit.solvers.core.report.SolveReport`.
    """

    V: np.ndarray
    W: np.ndarray
    solver: str
    status: str
    iterations: int | None
    compile_time_s: float
    solve_time_s: float
    formulation: str
    multipliers: tuple | None = None  # (μ₊, μ₋), the halves of μ (2, P, m, q)
    certificate: OwnCertificate | None = None
    network_objective: float | None = None
    note: str = ""
    report: Any = None


@runtime_checkable
class Engine(Protocol):
    """The protocol of what solves program (12) (see the module docstring)."""

    name: str

    @property
    def option_names(self) -> tuple[str, ...] | None: ...

    def check_options(self, options: Mapping[str, Any] | None) -> Any: ...

    def gap_tol(self, options, used: str | None = None) -> float: ...

    def solve(self, program, warm_start: WarmStart | None, options) -> EngineSolution: ...

    def refine(self, program, solution: EngineSolution, options) -> Iterator[EngineSolution]: ...


@dataclass(frozen=True)
class FunctionEngine:
    """One of :data:`ENGINES` behind :class:`Engine`: its options are the function's keyword-only parameters.

    A warm start goes in ``warm_start``; ``V0``/``W0`` inside ``options`` are still accepted
    (and used when ``warm_start`` is None). The options that would make the engine solve
    another program (``loss``, ``offset``: the cross-entropy program, solved and certified by
    :func:`~cvximplicit.solvers.cross_entropy.convex_relu_ce.solve_convex_relu_ce`) are not options of program (12).
    """

    name: str
    function: Callable[..., Any]

    @property
    def option_names(self) -> tuple[str, ...]:
        params = inspect.signature(self.function).parameters.values()
        return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY
                     and p.name not in _WARM_KEYS + _OTHER_PROGRAM_KEYS)

    def check_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """``options`` as a dict, or :class:`ValidationError` naming the unknown keys and the valid ones."""
        if options is None:
            return {}
        if not isinstance(options, Mapping):
            raise ValidationError(
                f"solver_opts must be a dict of options for engine {self.name!r} or None; got {options!r}")
        valid = self.option_names
        unknown = [k for k in options if k not in valid and k not in _WARM_KEYS]
        if unknown:
            raise ValidationError(
                f"unknown option(s) {unknown} for engine {self.name!r}; valid options are {list(valid)}")
        return dict(options)

    def gap_tol(self, options: Mapping[str, Any], used: str | None = None) -> float:
        """The relative gap the engine was asked for: its ``tol`` option or that option's default."""
        if "tol" in options:
            return float(options["tol"])
        return float(inspect.signature(self.function).parameters["tol"].default)

    def solve(self, program, warm_start: WarmStart | None, options: Mapping[str, Any]) -> EngineSolution:
        """Run the function on ``program``; its report's objective, violation and bound certify the point."""
        opts = dict(options)
        legacy = tuple(opts.pop(k, None) for k in _WARM_KEYS)
        V0, W0 = legacy if warm_start is None else warm_start
        V, W, rep = self.function(program.M, program.Y, program.patterns, program.beta, V0=V0, W0=W0, **opts)
        extra = dict(rep.extra)
        own = None if rep.bound is None else OwnCertificate(rep.objective, rep.residual, rep.bound, extra)
        return EngineSolution(
            np.asarray(V, dtype=float), np.asarray(W, dtype=float), rep.solver, rep.status, rep.iterations,
            rep.compile_time_s, rep.solve_time_s, "first_order", certificate=own,
            network_objective=extra.get("network_objective"), report=rep,
        )

    def refine(self, program, solution: EngineSolution, options) -> Iterator[EngineSolution]:
        """No re-solves: an engine's own options (``tol``, ``max_iter``) set its accuracy."""
        return iter(())


def is_engine(name: str) -> bool:
    """Whether ``name`` (canonical, upper case) is one of our own engines (:data:`ENGINES`)."""
    return name in ENGINES


def engine_available(name: str) -> bool:
    """Whether our engine ``name``'s module can be imported here."""
    return is_engine(name) and importlib.util.find_spec(ENGINES[name][0]) is not None


def get_engine(name: str, *, fallback: Sequence[str] = ()) -> Engine:
    """The engine that runs ``name``: one of :data:`ENGINES`, else the conic engine for cvxpy solver ``name``.

    ``fallback`` (conic solvers tried after Clarabel) matters only for ``name="auto"``.

    Raises
    ------
    SolverUnavailableError
        If ``name`` is one of our engines and its module is missing.
    """
    if is_engine(name):
        if not engine_available(name):
            raise SolverUnavailableError(
                f"engine {name!r} is not available; engines here: {[n for n in ENGINES if engine_available(n)]}")
        module, function = ENGINES[name]
        return FunctionEngine(name, getattr(importlib.import_module(module), function))
    module, cls = CONIC_ENGINE
    return getattr(importlib.import_module(module), cls)(name, tuple(fallback))
