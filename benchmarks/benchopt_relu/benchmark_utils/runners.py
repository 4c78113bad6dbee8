"""How the benchmark's solvers run: one public-API solve per benchopt run, the stopping value as its budget.

- :class:`ConicRun` (Clarabel, SCS, ECOS, MOSEK): benchopt's ``"tolerance"`` strategy; the tolerance
  goes to the solver's own accuracy options, 1 → 1e-2 → 1e-4 → ….
- :class:`EngineRun` (our engines ``ACTIVE_SET``, ``FISTA``, ``ADMM``, and any engine added later): the
  ``"iteration"`` strategy; the stopping value is the engine's iteration budget (``budget_option``:
  ``max_iter`` of FISTA and ADMM, 10 → 20 → 40 → …; ``max_outer`` of ACTIVE_SET, its full passes,
  1 → 2 → 4 → …).
- :class:`GatedRun` (the gated-ReLU relaxation, ours and skglm's): the ``"tolerance"`` strategy.

The first point of every curve is the zero network (benchopt's initial stopping value). Each run
hands ``V``, ``W`` and, for program (12), the certified bound of the solve's report (NaN when its
certificate is ``"none"``) to the objective. A run whose solver raises ``SolverFailedError``
reports the zero network with ``failed = 1``.
"""

from __future__ import annotations

import warnings

import numpy as np

from cvximplicit.exceptions import InaccurateSolutionWarning, SolverFailedError
from cvximplicit.solvers import solve_convex_relu, solve_gated_relu

#: Smallest tolerance the tolerance schedule reaches.
MIN_TOL = 1e-10


def zero_result(M, Y, patterns):
    """The zero network ``V = W = 0`` (no bound)."""
    P, d = patterns.shape[1], M.shape[1]
    q = 1 if np.ndim(Y) == 1 else Y.shape[1]
    return dict(V=np.zeros((P, d, q)), W=np.zeros((P, d, q)), bound=np.nan, failed=False)


class _Run:
    """What every solver of the benchmark shares: the data, the skip rule, the result."""

    program = "relu"  # the program this solver solves
    solver_name = ""

    def set_objective(self, M, Y, patterns, beta, program):
        self.M, self.Y, self.patterns, self.beta = M, Y, patterns, beta
        self.result = zero_result(M, Y, patterns)

    def skip(self, M, Y, patterns, beta, program):
        if program != self.program:
            return True, f"{self.name} solves the {self.program!r} program, not {program!r}"
        return False, None

    def get_result(self):
        return self.result

    def _solve_relu(self, solver_opts):
        with warnings.catch_warnings():  # an uncertified run is reported as such (NaN gap), not warned
            warnings.simplefilter("ignore", InaccurateSolutionWarning)
            try:
                sol = solve_convex_relu(self.M, self.Y, beta=self.beta, patterns=self.patterns,
                                        solver=self.solver_name, solver_opts=solver_opts)
            except SolverFailedError:
                self.result = dict(zero_result(self.M, self.Y, self.patterns), failed=True)
                return
        rep = sol.report
        bound = rep.bound if rep.certificate != "none" and rep.bound is not None else np.nan
        self.result = dict(V=sol.V, W=sol.W, bound=bound, failed=False)


class ConicRun(_Run):
    """A cvxpy conic solver of program (12); :meth:`options` maps a tolerance to its settings."""

    sampling_strategy = "tolerance"

    @staticmethod
    def options(tol: float) -> dict:
        raise NotImplementedError

    def get_next(self, stop_val):
        return max(min(1.0, stop_val / 100.0), MIN_TOL)

    def run(self, tol):
        if tol >= 1e30:  # benchopt's first call: the starting point
            self.result = zero_result(self.M, self.Y, self.patterns)
            return
        self._solve_relu(self.options(tol))


class EngineRun(_Run):
    """One of our engines of program (12); the stopping value is its iteration budget ``budget_option``."""

    sampling_strategy = "iteration"
    budget_option = "max_iter"  # the engine option the stopping value sets
    first_budget = 10  # the budget of the first point after the zero network; then doubled

    def get_next(self, stop_val):
        return max(self.first_budget, 2 * stop_val)

    def run(self, n_iter):
        if n_iter == 0:
            self.result = zero_result(self.M, self.Y, self.patterns)
            return
        self._solve_relu({self.budget_option: int(n_iter)})


class GatedRun(_Run):
    """A solver of the gated-ReLU group lasso; hands back ``U`` as ``V`` (and ``W = 0``)."""

    program = "gated"
    sampling_strategy = "tolerance"

    def get_next(self, stop_val):
        return max(min(0.5, stop_val / 100.0), MIN_TOL)

    def run(self, tol):
        if tol >= 1e30:
            self.result = zero_result(self.M, self.Y, self.patterns)
            return
        U = self.solve_gated(float(tol))
        self.result = dict(V=U, W=np.zeros_like(U), bound=np.nan, failed=False)

    def solve_gated(self, tol: float) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InaccurateSolutionWarning)
            return solve_gated_relu(self.M, self.Y, beta=self.beta, patterns=self.patterns, tol=tol, decompose=False).U
