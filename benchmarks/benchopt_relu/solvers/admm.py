from benchmark_utils import EngineRun
from benchopt import BaseSolver


class Solver(EngineRun, BaseSolver):
    """Our ADMM engine, ``max_iter`` set by benchopt."""

    name = "ADMM"
    solver_name = "ADMM"
    requirements = []
