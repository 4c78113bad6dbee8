"""Shared fixtures and helpers for the cvximplicit test-suite."""

from __future__ import annotations

import os

import numpy as np
import pytest

from cvximplicit.model import ImplicitModel
from cvximplicit.partition import block_slices

try:  # CI replays a fixed set of fuzz examples (a red CI is then a regression, not a new draw); local runs explore
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, database=None)
    if os.environ.get("CI") or os.environ.get("CVXIMPLICIT_REQUIRE_DATA"):
        _hypothesis_settings.load_profile("ci")
except ImportError:  # hypothesis is a test extra
    pass


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


@pytest.fixture
def mnist():
    """The MNIST data set, or a skip naming how to fetch it (a failure under ``CVXIMPLICIT_REQUIRE_DATA=1``, as in CI)."""
    from cvximplicit.datasets import load_mnist
    from cvximplicit.exceptions import DataError

    try:
        return load_mnist()
    except DataError as exc:
        if os.environ.get("CVXIMPLICIT_REQUIRE_DATA"):
            raise
        pytest.skip(f"MNIST is not installed (bash paper_repro/fetch_data.sh): {exc}")
