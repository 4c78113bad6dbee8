"""The blocks of program (12) the datasets hand to the objective (public cvximplicit API only)."""

from __future__ import annotations

import numpy as np

from cvximplicit.compare import load_problem


def block(M, Y, patterns, beta):
    """The dict every dataset returns (``Objective.set_data``'s arguments)."""
    return dict(M=np.asarray(M, dtype=float), Y=np.asarray(Y, dtype=float), patterns=np.asarray(patterns, bool),
                beta=float(beta), skip_reason="")


def npz_block(path, n_patterns, seed):
    """A user's ``.npz`` block (``M``, ``Y``, optional ``patterns`` and ``beta``) via ``cvximplicit.compare``."""
    problem = load_problem(path, n_patterns=n_patterns, seed=seed)
    return block(problem.M, problem.Y, problem.pattern_set.patterns, problem.beta)
