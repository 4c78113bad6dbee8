"""The ADMM engine's options (declared constraints) and its penalties: the default ``(ϱ, γ)``, residual balancing."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...._params import BOOL, Int, Options, Real, check_params
from ...core._checks import _as_float_dtype
from ..iterations import TINY

__all__ = ["ADMM_OPTIONS", "RHO_MAX_UPDATES", "RHO_SCALE", "AdmmOptions", "balance_factor", "check_options",
           "penalty"]

#: Keyword options of :func:`solve_convex_relu_admm` (anything else raises ``ValidationError``).
ADMM_OPTIONS = (
    "tol", "max_iter", "time_limit_s", "rho", "gamma", "dtype", "V0", "W0", "linear_solver", "cg_tol",
    "cg_max_iter", "check_every", "adapt_rho", "relax", "polish", "cache", "verbose", "row_space",
)

RHO_SCALE = 0.1  # default ϱ = RHO_SCALE · λ_max(FᵀF): an unscaled ϱ = 1 stalls
RHO_FACTOR = 4.0  # residual balancing multiplies or divides ϱ by this ...
RHO_RATIO = 10.0  # ... when one residual exceeds the other by this factor ...
RHO_MAX_UPDATES = 6  # ... at most this many times (each change refactors)
GAMMA_RANK = 1e-12  # eigenvalues of MᵀM below this of the largest stay out of the default γ


class AdmmOptions(NamedTuple):
    """The validated iteration options of one ADMM solve (see :func:`solve_convex_relu_admm`)."""

    tol: float
    max_iter: int
    time_limit_s: float | None
    rho: float | None
    gamma: float | None
    dtype: np.dtype
    linear_solver: str
    cg_tol: float
    cg_max_iter: int
    check_every: int
    adapt_rho: bool
    relax: float
    polish: bool
    cache: bool
    verbose: bool


def check_options(tol, max_iter, time_limit_s, rho, gamma, dtype, linear_solver, cg_tol, cg_max_iter,
                  check_every, adapt_rho, relax, polish, cache, verbose) -> AdmmOptions:
    """ValidationError for the first bad option (declared constraints); else the :class:`AdmmOptions`."""
    positive = Real(0.0, closed="neither")
    check_params("ADMM", locals(), {
        "tol": [positive], "max_iter": [Int(0)], "time_limit_s": [None, positive], "rho": [None, positive],
        "gamma": [None, positive], "linear_solver": [Options(("auto", "direct", "cg"))], "cg_tol": [positive],
        "cg_max_iter": [Int(1)], "check_every": [Int(1)], "adapt_rho": [BOOL], "polish": [BOOL], "cache": [BOOL],
        "verbose": [BOOL], "relax": [Real(0.0, 2.0, "neither")],
    })
    return AdmmOptions(float(tol), max_iter, time_limit_s, rho, gamma, _as_float_dtype(dtype), linear_solver,
                       float(cg_tol), int(cg_max_iter), check_every, adapt_rho, float(relax), polish, bool(cache),
                       verbose)


def penalty(ops, rho, gamma):
    """``(ϱ, γ)``: the given values, else ``γ = 1/median eig(MᵀM)`` and ``ϱ = RHO_SCALE·λ_max(FᵀF)``
    (or the last ``ϱ`` used on these ``(M, patterns)``)."""
    if gamma is None:  # the cone split weighted like I in the median direction of MᵀM
        lam_mtm = max(float(ops.lam_M[-1]), TINY)
        gamma = 1.0 / float(np.median(ops.lam_M[ops.lam_M > GAMMA_RANK * lam_mtm]))
    gamma = float(gamma)
    if rho is not None:
        return float(rho), gamma
    if ops.last_rho is not None and ops.last_rho[1] == gamma:
        return ops.last_rho[0], gamma
    return RHO_SCALE * max(ops.fit_lmax, TINY), gamma


def balance_factor(r_prim, r_dual):
    """Residual balancing: the factor (``RHO_FACTOR``, its inverse, or 1) by which to change ``ϱ``."""
    if r_prim > RHO_RATIO * r_dual:
        return RHO_FACTOR
    if r_dual > RHO_RATIO * r_prim:
        return 1.0 / RHO_FACTOR
    return 1.0
