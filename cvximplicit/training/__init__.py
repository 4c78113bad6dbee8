"""Sequential greedy training (Algorithm 1) and its block solvers.

- :func:`train_greedy` — Algorithm 1 with per-block checkpoints and resume.
- :class:`AlternatingBlockSolver` — Algorithm 2 (least squares ↔ Ergen–Pilanci), registered as ``"alternating"``.
- :class:`BlockProblem`, :class:`BlockResult`, :func:`get_block_solver`, :func:`register_block_solver` — the
  block-solver interface (the torch ``"local_search"`` solver lives in :mod:`cvximplicit.baselines`).
"""

from .alternating import AlternatingBlockSolver
from .block import (
    BlockProblem,
    BlockResult,
    available_block_solvers,
    block_loss,
    get_block_solver,
    register_block_solver,
)
from .checkpoint import Checkpoint
from .greedy import GreedyResult, format_block_table, train_greedy

__all__ = [
    "train_greedy",
    "GreedyResult",
    "format_block_table",
    "AlternatingBlockSolver",
    "BlockProblem",
    "BlockResult",
    "available_block_solvers",
    "block_loss",
    "get_block_solver",
    "register_block_solver",
    "Checkpoint",
]
