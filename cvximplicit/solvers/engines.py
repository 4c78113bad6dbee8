"""Our own engines for program (12) (not cvxpy solvers): a small registry with strict options.

An engine is a function ``engine(M, Y, patterns, beta, **options) -> (V, W, SolveReport)``
(rows of ``M`` and ``Y`` are samples, ``patterns`` is ``(m, P)`` bool, ``V, W`` are
``(P, d, q)``) whose report carries the float64 objective, the constraint violation
(``residual``) and a :func:`~cvximplicit.solvers.certificate.dual_bound`. Its options are
its keyword-only parameters: :func:`check_engine_options` rejects any other key by name.
Engines are imported only when first used.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from typing import Any, Callable, Mapping

from ..exceptions import SolverUnavailableError, ValidationError

__all__ = ["ENGINES", "is_engine", "engine_available", "get_engine", "engine_option_names",
           "check_engine_options", "engine_gap_tol"]

#: name → (module, function). ``"FISTA"``: augmented Lagrangian + restarted FISTA
#: (:mod:`cvximplicit.solvers.first_order`); ``"ADMM"``: ADMM with a factorised linear
#: system (:mod:`cvximplicit.solvers.admm`).
ENGINES: dict[str, tuple[str, str]] = {
    "FISTA": ("cvximplicit.solvers.first_order", "solve_convex_relu_first_order"),
    "ADMM": ("cvximplicit.solvers.admm", "solve_convex_relu_admm"),
}


def is_engine(name: str) -> bool:
    """Whether ``name`` (canonical, upper case) is one of :data:`ENGINES`."""
    return name in ENGINES


def engine_available(name: str) -> bool:
    """Whether the engine's module can be imported here."""
    return is_engine(name) and importlib.util.find_spec(ENGINES[name][0]) is not None


def get_engine(name: str) -> Callable[..., Any]:
    """The engine function registered as ``name``.

    Raises
    ------
    SolverUnavailableError
        If ``name`` is not an engine or its module is missing.
    """
    if not engine_available(name):
        raise SolverUnavailableError(
            f"engine {name!r} is not available; engines here: {[n for n in ENGINES if engine_available(n)]}"
        )
    module, function = ENGINES[name]
    return getattr(importlib.import_module(module), function)


def engine_option_names(name: str) -> tuple[str, ...]:
    """The options (keyword-only parameters) of engine ``name``."""
    params = inspect.signature(get_engine(name)).parameters.values()
    return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def check_engine_options(name: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``options`` as a dict, or :class:`ValidationError` naming the unknown keys and the valid ones."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValidationError(f"solver_opts must be a dict of options for engine {name!r} or None; got {options!r}")
    valid = engine_option_names(name)
    unknown = [k for k in options if k not in valid]
    if unknown:
        raise ValidationError(f"unknown option(s) {unknown} for engine {name!r}; valid options are {list(valid)}")
    return dict(options)


def engine_gap_tol(name: str, options: Mapping[str, Any]) -> float:
    """The relative gap the engine was asked for: its ``tol`` option or that option's default."""
    if "tol" in options:
        return float(options["tol"])
    return float(inspect.signature(get_engine(name)).parameters["tol"].default)
