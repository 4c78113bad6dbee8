"""A cheap, deterministic block solver for testing the trainer's mechanics.

Random ReLU features for the new block (seeded by ``problem.seed``), then an
exact least-squares refit of all output blocks — so the training loss is
non-increasing from block to block, like Algorithm 2's.
"""

from __future__ import annotations

import numpy as np

from cvximplicit.training.block import BlockResult, block_loss, register_block_solver


class RandomFeaturesBlockSolver:
    name = "random_features"

    def __init__(self, scale=1.0):
        self.scale = scale

    def solve(self, problem):
        rng = np.random.default_rng(problem.seed)
        W = self.scale * rng.standard_normal((problem.n_i, problem.n_prev + problem.U.shape[0]))
        X_new = np.maximum(W @ problem.features, 0.0)
        X_all = np.vstack([problem.X_prev, X_new])
        C = np.linalg.lstsq(X_all.T, problem.Y.T, rcond=None)[0].T
        return BlockResult(W[:, : problem.n_prev], W[:, problem.n_prev:], C, X_new,
                           block_loss(problem.Y, C @ X_all, problem.loss))


register_block_solver("random_features", RandomFeaturesBlockSolver)
