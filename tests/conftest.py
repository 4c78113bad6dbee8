"""Shared fixtures and helpers for the cvximplicit test-suite."""

from __future__ import annotations

import numpy as np
import pytest

from cvximplicit.model import ImplicitModel
from cvximplicit.partition import block_slices


def random_strict_model(n, block_sizes, *, p=2, q=1, activation="relu", seed=0, scale=1.0, input_bias=False):
    """A random model whose A is strictly block lower triangular (computation order)."""
    rng = np.random.default_rng(seed)
    A = scale * rng.standard_normal((n, n))
    for rows in block_slices(block_sizes):
        A[rows, rows.start:] = 0.0
    p_eff = p + int(input_bias)
    return ImplicitModel(
        A, rng.standard_normal((n, p_eff)), rng.standard_normal((q, n)), activation=activation,
        block_sizes=block_sizes, input_bias=input_bias,
    )


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
