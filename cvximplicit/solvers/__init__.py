"""Certified block solvers of Algorithm 2.

- :func:`solve_least_squares` — the least-squares step (11), reduced and certified
  by the normal equations.
- :func:`solve_convex_relu` — the Ergen–Pilanci convex program for step (12)
  (conic via cvxpy, or the first-order engine ``"FISTA"``), certified by a dual bound.
- :func:`fit_relu_budget` — β path + selection so a block gets exactly ``n_i`` neurons.
- :func:`exact_patterns_1d`, :func:`sample_patterns` — activation patterns.
- :func:`check_solver`, :func:`available_solvers`, :func:`mosek_licensed`,
  :func:`solve_cvxpy` — solver names and status-checked solves.

``solve_convex_relu_first_order`` (module :mod:`.first_order`) is re-exported
lazily, so this package imports even while that module is absent.
"""

from __future__ import annotations

from .arrangements import exact_patterns_1d, sample_patterns
from .backend import (
    SOLVER_NAMES,
    available_solvers,
    check_solver,
    mosek_licensed,
    solve_cvxpy,
)
from .budget import BlockFit, fit_relu_budget
from .convex_relu import ConvexReLUSolution, solve_convex_relu
from .least_squares import solve_least_squares
from .report import SolveReport

__all__ = [
    "SOLVER_NAMES",
    "available_solvers",
    "check_solver",
    "mosek_licensed",
    "solve_cvxpy",
    "solve_least_squares",
    "exact_patterns_1d",
    "sample_patterns",
    "ConvexReLUSolution",
    "solve_convex_relu",
    "BlockFit",
    "fit_relu_budget",
    "SolveReport",
    "solve_convex_relu_first_order",
]


def __getattr__(name):
    if name == "solve_convex_relu_first_order":
        from .first_order import solve_convex_relu_first_order  # noqa: PLC0415

        return solve_convex_relu_first_order
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
