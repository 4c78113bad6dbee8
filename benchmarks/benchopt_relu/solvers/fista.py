from benchmark_utils import EngineRun
from benchopt import BaseSolver


class Solver(EngineRun, BaseSolver):
    """Our FISTA engine (augmented Lagrangian + restarted FISTA), ``max_iter`` set by benchopt."""

    name = "FISTA"
    solver_name = "FISTA"
    requirements = []
