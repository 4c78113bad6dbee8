"""The blocks of program (12) the datasets hand to the objective (public cvximplicit API only)."""

from __future__ import annotations

import numpy as np

from cvximplicit.compare import load_problem
from cvximplicit.solvers import beta_max, sample_patterns


def block(M, Y, patterns, beta):
    """The dict every dataset returns (``Objective.set_data``'s arguments)."""
    return dict(M=np.asarray(M, dtype=float), Y=np.asarray(Y, dtype=float), patterns=np.asarray(patterns, bool),
                beta=float(beta), skip_reason="")


def npz_block(path, n_patterns, seed):
    """A user's ``.npz`` block (``M``, ``Y``, optional ``patterns`` and ``beta``) via ``cvximplicit.compare``."""
    problem = load_problem(path, n_patterns=n_patterns, seed=seed)
    return block(problem.M, problem.Y, problem.pattern_set.patterns, problem.beta)


def friedman_d6(m=1000, n_patterns=100, beta_frac=0.01, seed=0):
    """``(M, y, patterns, β)``: Friedman #1 (5 uniform inputs, unit noise) plus bias, ``m`` rows, sampled gates,
    ``β = beta_frac · β_max``."""
    rng = np.random.default_rng(seed)
    X = rng.random((m, 5))
    y = (10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2 + 10 * X[:, 3] + 5 * X[:, 4]
         + rng.standard_normal(m))
    M = np.c_[X, np.ones(m)]
    patterns = sample_patterns(M, n_patterns, seed=seed)
    return M, y, patterns, beta_frac * beta_max(M, y, patterns)
