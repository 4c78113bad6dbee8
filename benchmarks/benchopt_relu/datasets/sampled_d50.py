"""A deeper block: 49 ReLU features of a random layer plus bias, ``m = 2000``, 50 sampled patterns."""

import numpy as np
from benchmark_utils import block
from benchopt import BaseDataset

from cvximplicit.solvers import beta_max, sample_patterns


class Dataset(BaseDataset):
    name = "sampled-d50"
    requirements = []
    parameters = {"n_samples": [2000], "n_patterns": [50], "beta_frac": [0.1], "seed": [0]}

    def get_data(self):
        seed = self.seed
        rng = np.random.default_rng(seed)
        m = self.n_samples
        X = rng.standard_normal((m, 10))
        H = np.maximum(X @ rng.standard_normal((10, 49)) / np.sqrt(10), 0.0)
        y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.1 * rng.standard_normal(m)
        M = np.c_[H, np.ones(m)]
        patterns = sample_patterns(M, self.n_patterns, seed=seed)
        return block(M, y, patterns, self.beta_frac * beta_max(M, y, patterns))
