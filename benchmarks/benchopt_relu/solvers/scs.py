from benchmark_utils import ConicRun
from benchopt import BaseSolver


class Solver(ConicRun, BaseSolver):
    """SCS (first-order conic) through cvxpy, its absolute and relative accuracy set to benchopt's tolerance."""

    name = "SCS"
    solver_name = "SCS"
    requirements = []

    @staticmethod
    def options(tol):
        return {"eps_abs": tol, "eps_rel": tol}
