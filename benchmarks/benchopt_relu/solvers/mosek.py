from benchmark_utils import ConicRun
from benchopt import BaseSolver

from cvximplicit.solvers import mosek_licensed


class Solver(ConicRun, BaseSolver):
    """MOSEK (interior point) through cvxpy; skipped where it has no licence."""

    name = "MOSEK"
    solver_name = "MOSEK"
    requirements = ["pip::mosek"]

    def skip(self, **objective):
        if not mosek_licensed():
            return True, "MOSEK has no licence here (cvximplicit.solvers.mosek_licensed() is False)"
        return super().skip(**objective)

    @staticmethod
    def options(tol):
        return {"mosek_params": {"MSK_DPAR_INTPNT_CO_TOL_REL_GAP": tol, "MSK_DPAR_INTPNT_CO_TOL_PFEAS": tol,
                                 "MSK_DPAR_INTPNT_CO_TOL_DFEAS": tol}}
