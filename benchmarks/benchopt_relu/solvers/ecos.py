from benchmark_utils import ConicRun
from benchopt import BaseSolver


class Solver(ConicRun, BaseSolver):
    """ECOS (interior point) through cvxpy, its gap and feasibility tolerances set to benchopt's."""

    name = "ECOS"
    solver_name = "ECOS"
    requirements = []

    @staticmethod
    def options(tol):
        return {"abstol": tol, "reltol": tol, "feastol": tol}
