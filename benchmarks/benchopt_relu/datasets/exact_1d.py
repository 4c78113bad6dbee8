"""Block 1 of the smooth task: ``M = [u, 1]`` and every arrangement of it (certificates ``"global"``)."""

import numpy as np
from benchmark_utils import block
from benchopt import BaseDataset

from cvximplicit.datasets import make_smooth
from cvximplicit.solvers import exact_patterns_1d


class Dataset(BaseDataset):
    name = "exact-1d"
    requirements = []
    # m = 100 keeps the default run short (P = 2m − 1 = 199 arrangements); the compare table uses m = 500.
    parameters = {"n_samples": [100], "beta": [1.0], "seed": [0]}

    def get_data(self):
        data = make_smooth(n_train=self.n_samples, seed=self.seed)
        u = data.inputs_train[:, 0]
        return block(np.c_[u, np.ones_like(u)], data.targets_train, exact_patterns_1d(u), self.beta)
