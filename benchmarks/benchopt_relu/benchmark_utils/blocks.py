"""The blocks of program (12) the datasets hand to the objective (public cvximplicit API only)."""

from __future__ import annotations

import numpy as np

from cvximplicit.compare import load_problem
from cvximplicit.solvers import resolve_patterns


def beta_max(M, Y, patterns) -> float:
    """``max_{k,c} ‖Mᵀ D_k Y_c‖``: from this β on, the zero network is optimal."""
    Y = np.reshape(Y, (M.shape[0], -1))
    return max(float(np.linalg.norm(M.T @ (patterns * Y[:, [c]]), axis=0).max()) for c in range(Y.shape[1]))


def block(M, Y, patterns, beta):
    """The dict every dataset returns (``Objective.set_data``'s arguments)."""
    return dict(M=np.asarray(M, dtype=float), Y=np.asarray(Y, dtype=float), patterns=np.asarray(patterns, bool),
                beta=float(beta), skip_reason="")


def npz_block(path, n_patterns, seed):
    """A user's ``.npz`` block (``M``, ``Y``, optional ``patterns`` and ``beta``) via ``cvximplicit.compare``."""
    problem = load_problem(path, n_patterns=n_patterns, seed=seed)
    patterns = resolve_patterns(problem.M, problem.patterns, n_patterns, seed).patterns
    return block(problem.M, problem.Y, patterns, problem.beta)
