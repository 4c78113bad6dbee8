"""Certified block solvers of Algorithm 2.

- :func:`solve_least_squares` — the least-squares step (11), reduced and certified
  by the normal equations.
- :func:`solve_convex_relu` — the Ergen–Pilanci convex program for step (12)
  (the engines ``"ACTIVE_SET"``, ``"ADMM"``, ``"FISTA"``, or conic via cvxpy), certified by a dual bound.
- :func:`solve_convex_relu_ce`, :func:`solve_multinomial_logistic` — the cross-entropy
  versions of steps (12) and (11), certified by Fenchel duals (:func:`ce_dual_bound`).
- :func:`fit_relu_pool` (default of Algorithm 2) and :func:`fit_relu_budget` — the block
  budget: exactly ``n_i`` neurons from the convex solution (forward selection from
  its support, or a β path).
- :func:`solve_gated_relu` — the gated-ReLU program (a group lasso; Mishkin, Sahiner &
  Pilanci 2022), certified by its own dual bound, which is also a lower bound of program (12)
  on the same patterns; its cone decomposition is a feasible point of program (12).
- :func:`solve_convex_relu_path` — program (12) along a sequence of β values, each point
  certified on its own and warm-started from the previous one (:class:`ConvexReLUPath`).
- :func:`dual_bound`, :func:`relu_network_objective` — the certificate and the
  nonconvex objective it bounds; :func:`beta_max` — the β from which the zero network is optimal.
- :class:`ReluProgram` — program (12): data, patterns and β validated once; objective,
  violation, dual bound, network objective.
- :func:`exact_patterns_1d`, :func:`sample_patterns`, :func:`guided_patterns`,
  :func:`resolve_patterns` — activation patterns (:data:`DEFAULT_N_PATTERNS` sampled by default).

One convention for the solvers of program (12) (:func:`solve_convex_relu`, :func:`solve_gated_relu`,
:func:`solve_convex_relu_path`, :func:`solve_convex_relu_ce`): ``M`` ``(m, d)`` and ``Y`` ``(m, q)`` with
**rows as samples**, β keyword-only (a sequence ``betas`` for the path), ``patterns="auto"`` with
``n_patterns`` and ``seed``, ``bias=None | True | False`` (:mod:`.core.bias`), and solutions with
``predict(M_new)`` and ``summary()``.
- :data:`CERTIFIED_CLASS` — what each certificate kind proves.
- :func:`check_solver`, :func:`available_solvers`, :func:`mosek_licensed`,
  :func:`solve_cvxpy` — solver names and status-checked solves.

``solve_convex_relu_first_order`` (package :mod:`.engines.first_order`) is the first-order engine; the engines
and what they share are in :mod:`.engines`.
"""

from __future__ import annotations

from .core.backend import (
    SOLVER_NAMES,
    available_solvers,
    check_solver,
    mosek_licensed,
    solve_cvxpy,
)
from .core.report import CERTIFICATE_KINDS, CERTIFIED_CLASS, SolveReport
from .cross_entropy.certificate_ce import (
    CEReluProgram,
    ce_beta_max,
    ce_dual_bound,
    ce_objective,
)
from .cross_entropy.convex_relu_ce import solve_convex_relu_ce
from .cross_entropy.logistic import solve_multinomial_logistic
from .engines.first_order import solve_convex_relu_first_order
from .least_squares import solve_least_squares
from .relu.arrangements import (
    DEFAULT_N_PATTERNS,
    PatternSet,
    exact_patterns_1d,
    guided_patterns,
    resolve_patterns,
    sample_patterns,
)
from .relu.budget import BlockFit, fit_relu_budget, fit_relu_pool, forward_select
from .relu.certificate import (
    constraint_violation,
    convex_objective,
    dual_bound,
    relu_network_objective,
)
from .relu.convex_relu import ConvexReLUSolution, solve_convex_relu
from .relu.gated_relu import GatedReLUSolution, cone_decomposition, solve_gated_relu
from .relu.path import ConvexReLUPath, solve_convex_relu_path
from .relu.program import ReluProgram, beta_max

__all__ = [
    "SOLVER_NAMES",
    "available_solvers",
    "check_solver",
    "mosek_licensed",
    "solve_cvxpy",
    "solve_least_squares",
    "exact_patterns_1d",
    "guided_patterns",
    "sample_patterns",
    "ConvexReLUSolution",
    "solve_convex_relu",
    "GatedReLUSolution",
    "solve_gated_relu",
    "cone_decomposition",
    "ConvexReLUPath",
    "solve_convex_relu_path",
    "BlockFit",
    "fit_relu_budget",
    "fit_relu_pool",
    "forward_select",
    "relu_network_objective",
    "convex_objective",
    "constraint_violation",
    "dual_bound",
    "beta_max",
    "DEFAULT_N_PATTERNS",
    "SolveReport",
    "CERTIFICATE_KINDS",
    "CERTIFIED_CLASS",
    "ReluProgram",
    "PatternSet",
    "resolve_patterns",
    "solve_convex_relu_first_order",
    "solve_convex_relu_ce",
    "solve_multinomial_logistic",
    "ce_dual_bound",
    "ce_beta_max",
    "ce_objective",
    "CEReluProgram",
]

