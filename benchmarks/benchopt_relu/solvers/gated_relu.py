from benchmark_utils import GatedRun
from benchopt import BaseSolver


class Solver(GatedRun, BaseSolver):
    """``cvximplicit.solvers.solve_gated_relu`` on the gated program (``-o "convex-relu[program=gated]"``)."""

    name = "GATED-RELU"
    requirements = []
