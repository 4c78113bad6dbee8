from benchmark_utils import ConicRun
from benchopt import BaseSolver


class Solver(ConicRun, BaseSolver):
    """Clarabel (interior point) through cvxpy, its gap and feasibility tolerances set to benchopt's."""

    name = "CLARABEL"
    solver_name = "CLARABEL"
    requirements = []

    @staticmethod
    def options(tol):
        return {"tol_gap_abs": tol, "tol_gap_rel": tol, "tol_feas": tol}
