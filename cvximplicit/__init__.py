"""cvximplicit: sequential greedy training of implicit deep models with certified convex block solves.

An implicit model predicts ``ŷ = C x + D u`` where the state solves
``x = φ(A x + B u)``.  With ``A`` strictly block triangular the model is always
well-posed and can be trained block by block (Gautam, Anderson, Sojoudi,
El Ghaoui, "A Sequential Greedy Approach for Training Implicit Deep Models").
Each block's squared-loss subproblem alternates a least-squares solve for the
output blocks and the Ergen–Pilanci convex reformulation of a shallow ReLU
network, each solved (by a conic solver through cvxpy, or by our own engines)
and returned with a certificate recomputed independently of the solver.

Orientation: **samples are rows** at every entry point a researcher touches:
the solvers (``M`` is ``m × d``), the estimators, the data loaders and the
command line. The model core keeps the paper's layout, **columns are samples**:
:class:`ImplicitModel` (``U`` is ``p × m``; ``predict(X, layout="rows")`` takes
rows), :func:`train_greedy` and the block solvers' :class:`BlockProblem`.
torch is only needed for the baselines; scikit-learn only for the estimators.
"""

import importlib

from ._version import __version__
from .activations import ACTIVATIONS
from .exceptions import (
    ConvergenceError,
    ConvergenceWarning,
    CvxImplicitError,
    DataError,
    InaccurateSolutionWarning,
    InputTypeError,
    MissingBiasWarning,
    MissingDependencyError,
    MosekLicenseError,
    OrientationWarning,
    SolverFailedError,
    SolverUnavailableError,
    ValidationError,
)
from .baselines import BaselineResult, FFNModel, LocalSearchBlockSolver, fit_end_to_end, fit_ffn
from .datasets import Dataset, load_fashion_mnist, load_mnist, make_nonsmooth, make_smooth
from .experiments import load_task, run_experiment
from .model import ImplicitModel
from .nonstrict import StrictEquivalent, check_self_loops, is_nonstrict_triangular, self_loop_state, to_nonstrict, to_strict
from .partition import partition
from .solvers import (
    available_solvers,
    beta_max,
    check_solver,
    dual_bound,
    exact_patterns_1d,
    fit_relu_budget,
    fit_relu_pool,
    guided_patterns,
    mosek_licensed,
    relu_network_objective,
    sample_patterns,
    solve_convex_relu,
    solve_convex_relu_first_order,
    solve_least_squares,
)
from .solvers.core.report import SolveReport
from .training.block import (
    BlockProblem,
    BlockResult,
    available_block_solvers,
    get_block_solver,
    register_block_solver,
)
from .training.greedy import GreedyResult, format_block_table, train_greedy
from .wellposedness import WellPosedness

#: Names loaded on first use (name → module), so that ``import cvximplicit`` imports neither scikit-learn
#: nor what it pulls in (scipy.stats, ...): the estimators and the scikit-learn-compatible NotFittedError.
_LAZY = {
    "ImplicitRegressor": ".estimators",
    "ImplicitClassifier": ".estimators",
    "NotFittedError": ".exceptions",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "__version__",
    "ACTIVATIONS",
    # model
    "ImplicitModel",
    "WellPosedness",
    "partition",
    # non-strict models (Theorem 2)
    "check_self_loops",
    "is_nonstrict_triangular",
    "self_loop_state",
    "to_strict",
    "to_nonstrict",
    "StrictEquivalent",
    # training
    "train_greedy",
    "GreedyResult",
    "format_block_table",
    "BlockProblem",
    "BlockResult",
    "get_block_solver",
    "register_block_solver",
    "available_block_solvers",
    "ImplicitRegressor",
    "ImplicitClassifier",
    "load_task",
    "run_experiment",
    # baselines (torch, imported lazily)
    "LocalSearchBlockSolver",
    "fit_end_to_end",
    "fit_ffn",
    "FFNModel",
    "BaselineResult",
    # data
    "Dataset",
    "make_smooth",
    "make_nonsmooth",
    "load_mnist",
    "load_fashion_mnist",
    # solvers
    "SolveReport",
    "solve_least_squares",
    "solve_convex_relu",
    "solve_convex_relu_first_order",
    "fit_relu_budget",
    "fit_relu_pool",
    "exact_patterns_1d",
    "guided_patterns",
    "sample_patterns",
    "relu_network_objective",
    "dual_bound",
    "beta_max",
    "available_solvers",
    "check_solver",
    "mosek_licensed",
    # errors
    "CvxImplicitError",
    "ValidationError",
    "InputTypeError",
    "NotFittedError",
    "DataError",
    "SolverUnavailableError",
    "MosekLicenseError",
    "SolverFailedError",
    "ConvergenceError",
    "MissingDependencyError",
    "InaccurateSolutionWarning",
    "ConvergenceWarning",
    "MissingBiasWarning",
    "OrientationWarning",
]
