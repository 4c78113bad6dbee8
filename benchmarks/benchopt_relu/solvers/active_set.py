from benchmark_utils import EngineRun
from benchopt import BaseSolver


class Solver(EngineRun, BaseSolver):
    """Our working-set engine (what ``solver="auto"`` runs on a plain program); ``max_outer`` set by benchopt."""

    name = "ACTIVE_SET"
    solver_name = "ACTIVE_SET"
    budget_option = "max_outer"  # full passes over every group and cone row
    first_budget = 1
    requirements = []
