"""A Friedman #1 block: 5 uniform inputs plus bias, ``m = 1000``, 100 sampled gates (duplicates removed)."""

from benchmark_utils import block, friedman_d6
from benchopt import BaseDataset


class Dataset(BaseDataset):
    name = "friedman-d6"
    requirements = []
    parameters = {"n_samples": [1000], "n_patterns": [100], "beta_frac": [0.01], "seed": [0]}

    def get_data(self):
        return block(*friedman_d6(self.n_samples, self.n_patterns, self.beta_frac, self.seed))
