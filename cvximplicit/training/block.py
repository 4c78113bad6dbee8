"""The per-block subproblem of Algorithm 1 and the block-solver registry.

Block ``i`` of the sequential greedy method (problem (7) of the paper; (6) for
``i = 1``) learns the block row ``A_{i,1..i-1}``, ``B_i`` and re-optimises all
output blocks ``C_1..C_i`` while the earlier states ``X_1..X_{i-1}`` stay frozen:

.. math::

    \\min_{A_{i,<i}, B_i, C_{\\le i}} \\mathcal{L}\\Big(Y, \\sum_{j \\le i} C_j X_j\\Big),
    \\qquad X_i = \\phi\\Big(\\sum_{j<i} A_{i,j} X_j + B_i U\\Big).

Orientation: columns are samples throughout (``U`` is ``p × m``, states are
``n_j × m``, ``Y`` is ``q × m``); earlier states are stacked in computation
order ``[X_1; …; X_{i-1}]``.

A block solver is any object with ``name`` and ``solve(problem) -> BlockResult``;
register factories with :func:`register_block_solver` and look them up with
:func:`get_block_solver`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from ..exceptions import ValidationError

__all__ = [
    "BlockProblem",
    "BlockResult",
    "BlockSolver",
    "register_block_solver",
    "get_block_solver",
    "available_block_solvers",
    "block_loss",
]

LOSSES = ("squared", "cross_entropy")


@dataclass(frozen=True)
class BlockProblem:
    """Data of one block subproblem (7).

    Attributes
    ----------
    U : ndarray, shape (p, m)
        Inputs, bias row already appended when the model uses one.
    X_prev : ndarray, shape (n_prev, m)
        Frozen earlier states ``[X_1; …; X_{i-1}]`` (``n_prev = 0`` for block 1).
    Y : ndarray, shape (q, m)
        Targets (one-hot rows for classification).
    n_i : int
        Number of neurons of the new block.
    block_index : int
        ``i``, 1-based.
    loss : str
        ``"squared"`` (8) or ``"cross_entropy"`` (9).
    activation : str
        Activation name (see :mod:`cvximplicit.activations`).
    seed : int
        Seed for any randomness of the block solver.
    C_prev : ndarray, shape (q, n_prev), optional
        The output blocks ``[C_1 … C_{i-1}]`` of the previous block's solution
        (a warm start; ``None`` for block 1).
    previous_info : dict, optional
        The previous block's ``BlockResult.info`` (``None`` for block 1): what its solver
        chose, for a solver that starts from it (the alternating solver's pool ladder).
    """

    U: np.ndarray
    X_prev: np.ndarray
    Y: np.ndarray
    n_i: int
    block_index: int = 1
    loss: str = "squared"
    activation: str = "relu"
    seed: int = 0
    C_prev: np.ndarray | None = None
    previous_info: dict | None = None

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValidationError(f"loss must be one of {LOSSES}; got {self.loss!r}")
        m = self.U.shape[1]
        if self.X_prev.ndim != 2 or self.X_prev.shape[1] != m or self.Y.shape[1] != m:
            raise ValidationError(
                "U, X_prev and Y must all have the m samples as columns; got shapes "
                f"U{self.U.shape}, X_prev{self.X_prev.shape}, Y{self.Y.shape}"
            )
        if int(self.n_i) < 1:
            raise ValidationError(f"n_i must be a positive integer; got {self.n_i}")

    @property
    def m(self) -> int:
        return self.U.shape[1]

    @property
    def n_prev(self) -> int:
        return self.X_prev.shape[0]

    @property
    def features(self) -> np.ndarray:
        """``[X_1; …; X_{i-1}; U]``, shape ``(n_prev + p, m)`` — the block's input."""
        return np.vstack([self.X_prev, self.U])


@dataclass
class BlockResult:
    """What a block solver returns.

    Attributes
    ----------
    A_row : ndarray, shape (n_i, n_prev)
        ``[A_{i,1} … A_{i,i-1}]`` in computation order.
    B_row : ndarray, shape (n_i, p)
        ``B_i``.
    C : ndarray, shape (q, n_prev + n_i)
        Re-optimised ``[C_1 … C_i]``.
    X_new : ndarray, shape (n_i, m)
        ``X_i = φ(A_row X_prev + B_row U)``.
    objective : float
        Training loss of the block's final model, without regularisation:
        ``(1/m) ‖Y − Σ_{j≤i} C_j X_j‖_F²`` for the squared loss (8), the mean
        softmax cross-entropy for (9).
    reports : list
        Per-solve diagnostics (:class:`~cvximplicit.solvers.core.report.SolveReport`).
    history : list of dict
        Per-iteration / per-alternation records (objective, time, ...).
    """

    A_row: np.ndarray
    B_row: np.ndarray
    C: np.ndarray
    X_new: np.ndarray
    objective: float
    reports: list = field(default_factory=list)
    history: list = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


class BlockSolver(Protocol):
    """Protocol of a block solver."""

    name: str

    def solve(self, problem: BlockProblem) -> BlockResult:  # pragma: no cover - protocol
        ...


_REGISTRY: dict[str, Callable[..., BlockSolver]] = {}

#: Built-in block solvers, imported only when first asked for (the local-search
#: module needs torch at solve time, the alternating one needs cvxpy).
_BUILTIN = {
    "alternating": ("cvximplicit.training.alternating", "AlternatingBlockSolver"),
    "local_search": ("cvximplicit.baselines.local_search", "LocalSearchBlockSolver"),
}


def register_block_solver(name: str, factory: Callable[..., BlockSolver]) -> None:
    """Register ``factory(**options) -> BlockSolver`` under ``name``."""
    if not isinstance(name, str) or not name:
        raise ValidationError(f"block solver name must be a non-empty string; got {name!r}")
    _REGISTRY[name] = factory


def available_block_solvers() -> tuple[str, ...]:
    """Names accepted by :func:`get_block_solver`."""
    return tuple(sorted(set(_REGISTRY) | set(_BUILTIN)))


def get_block_solver(name: str, **options) -> BlockSolver:
    """Build the block solver registered as ``name`` with ``options``.

    Raises
    ------
    ValidationError
        If ``name`` is unknown; the message lists the valid names.
    """
    if name not in _REGISTRY and name in _BUILTIN:
        module, attribute = _BUILTIN[name]
        _REGISTRY[name] = getattr(importlib.import_module(module), attribute)
    try:
        factory = _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValidationError(
            f"unknown block solver {name!r}; valid names are {list(available_block_solvers())}"
        ) from None
    return factory(**options)


def block_loss(Y: np.ndarray, Y_hat: np.ndarray, loss: str) -> float:
    """Mean training loss over the m columns: squared (8) or softmax cross-entropy (9)."""
    m = Y.shape[1]
    if loss == "squared":
        return float(np.sum((Y - Y_hat) ** 2) / m)
    Z = Y_hat - Y_hat.max(axis=0, keepdims=True)
    log_softmax = Z - np.log(np.exp(Z).sum(axis=0, keepdims=True))
    return float(-np.sum(Y * log_softmax) / m)
