"""torch baselines of Section V: local-search block solver, end-to-end implicit training, FFN.

- :class:`LocalSearchBlockSolver` (registered as ``"local_search"``): Adam on one
  block of Algorithm 1 (Remark 2).
- :func:`fit_end_to_end`: a dense implicit model trained end to end by Adam with
  implicit differentiation, projected onto ``‖A‖∞ ≤ κ`` after every step.
- :func:`fit_ffn` / :class:`FFNModel`: the feed-forward ReLU networks.
- :func:`project_inf_norm_ball`: the Frobenius projection onto ``{‖A‖∞ ≤ κ}``
  (numpy).

Importing this package does **not** import torch; the functions that train
import it when called and raise :class:`~cvximplicit.exceptions.MissingDependencyError`
with the install command when it is missing.  Orientation: columns are samples.
"""

from ._result import BaselineResult
from ._torch import require_torch
from .end_to_end import fit_end_to_end, implicit_fixed_point
from .ffn import FFNModel, fit_ffn
from .local_search import LocalSearchBlockSolver
from .projection import project_inf_norm_ball

__all__ = [
    "BaselineResult",
    "FFNModel",
    "LocalSearchBlockSolver",
    "fit_end_to_end",
    "fit_ffn",
    "implicit_fixed_point",
    "project_inf_norm_ball",
    "require_torch",
]
