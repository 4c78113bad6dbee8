"""The full MNIST block: the training images (pixels ``uint8 / 255``, as the loader gives them) plus a bias
column, ``M`` ``(m, 785)`` with ``m = 60000``; targets the one-hot labels centred per class,
``Y = onehot(label) − mean`` ``(m, 10)`` (q = 10: the objective sums program (12) over the outputs); 50 sampled
patterns; β = 0.01 β_max. Read from the verified IDX files (``cvximplicit.datasets.load_mnist``, directory
``$CVXIMPLICIT_MNIST_DIR``); skipped, with the loader's message, when they are missing. ``n_samples`` keeps the
first images."""

import numpy as np
from benchmark_utils import block
from benchopt import BaseDataset

from cvximplicit.datasets import load_mnist
from cvximplicit.exceptions import DataError
from cvximplicit.solvers import beta_max, sample_patterns


def mnist_block(n_samples, n_patterns, beta_frac, seed):
    """``(M, Y, patterns, β)`` of the first ``n_samples`` MNIST training images (raises ``DataError`` if missing)."""
    if not 1 <= int(n_samples) <= 60_000:
        raise ValueError(f"n_samples must be in [1, 60000]; got {n_samples!r}")
    if not beta_frac > 0:
        raise ValueError(f"beta_frac must be > 0; got {beta_frac!r}")
    data = load_mnist()
    m = int(n_samples)
    X = np.asarray(data.inputs_train[:m], dtype=float)  # already uint8 / 255, in [0, 1]
    labels = np.asarray(data.targets_train[:m], dtype=int)
    M = np.c_[X, np.ones(m)]
    Y = np.eye(10)[labels]
    Y -= Y.mean(axis=0)
    patterns = sample_patterns(M, n_patterns, seed=seed)
    return M, Y, patterns, beta_frac * beta_max(M, Y, patterns)


class Dataset(BaseDataset):
    name = "mnist-full"
    requirements = []
    parameters = {"n_samples": [60_000], "n_patterns": [50], "beta_frac": [0.01], "seed": [0]}

    def get_data(self):
        try:
            return block(*mnist_block(self.n_samples, self.n_patterns, self.beta_frac, self.seed))
        except DataError as exc:
            return dict(M=None, Y=None, patterns=None, beta=None,
                        skip_reason=f"mnist-full needs the MNIST files: {exc}")
