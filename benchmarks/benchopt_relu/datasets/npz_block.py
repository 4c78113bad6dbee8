"""Your own block: an ``.npz`` file with ``M`` (m × d, rows are samples), ``Y`` (m or m × q), optional
``patterns`` (m × P bool; without them, ``n_patterns`` seeded Gaussian gates, or every arrangement of a
1-D input plus bias) and optional ``beta`` (default 1). Select it with
``-d "npz-block[path=/abs/path/block.npz]"``; without a path it is skipped."""

from benchmark_utils import npz_block
from benchopt import BaseDataset

from cvximplicit.solvers import DEFAULT_N_PATTERNS


class Dataset(BaseDataset):
    name = "npz-block"
    requirements = []
    parameters = {"path": [""], "n_patterns": [DEFAULT_N_PATTERNS], "seed": [0]}

    def get_data(self):
        if not self.path:
            return dict(M=None, Y=None, patterns=None, beta=None,
                        skip_reason='npz-block needs a file: -d "npz-block[path=/abs/path/block.npz]"')
        return npz_block(self.path, self.n_patterns, self.seed)
