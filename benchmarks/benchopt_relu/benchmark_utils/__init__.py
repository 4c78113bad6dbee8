"""Shared pieces of the benchmark's solvers and datasets (public cvximplicit API only)."""

from .blocks import block, friedman_d6, npz_block
from .runners import ConicRun, EngineRun, GatedRun, zero_result

__all__ = ["ConicRun", "EngineRun", "GatedRun", "block", "friedman_d6", "npz_block", "zero_result"]
