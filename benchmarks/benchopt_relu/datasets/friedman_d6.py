"""A Friedman #1 block: 5 uniform inputs plus bias, ``m = 1000``, 100 sampled gates (duplicates removed)."""

import numpy as np
from benchmark_utils import block
from benchopt import BaseDataset

from cvximplicit.solvers import beta_max, sample_patterns


class Dataset(BaseDataset):
    name = "friedman-d6"
    requirements = []
    parameters = {"n_samples": [1000], "n_patterns": [100], "beta_frac": [0.01], "seed": [0]}

    def get_data(self):
        seed = self.seed
        rng = np.random.default_rng(seed)
        m = self.n_samples
        X = rng.random((m, 5))
        y = (10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2 + 10 * X[:, 3] + 5 * X[:, 4]
             + rng.standard_normal(m))
        M = np.c_[X, np.ones(m)]
        patterns = sample_patterns(M, self.n_patterns, seed=seed)
        return block(M, y, patterns, self.beta_frac * beta_max(M, y, patterns))
