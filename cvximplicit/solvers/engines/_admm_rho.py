"""Options and the penalty of the ADMM engine (:mod:`.admm`): validation, the default ``(ϱ, γ)``, residual balancing."""

from __future__ import annotations

import numpy as np

from ..._params import BOOL, Int, Options, Real, check_params
from ..core._checks import _as_float_dtype

#: Keyword options of :func:`solve_convex_relu_admm` (anything else raises ``ValidationError``).
ADMM_OPTIONS = (
    "tol", "max_iter", "time_limit_s", "rho", "gamma", "dtype", "V0", "W0", "linear_solver", "cg_tol",
    "cg_max_iter", "check_every", "adapt_rho", "relax", "polish", "cache", "verbose", "row_space",
)

#: Default ``ϱ = RHO_SCALE · λ_max(FᵀF)`` (``F`` the fit operator).
RHO_SCALE = 0.1

_RHO_FACTOR = 4.0  # residual balancing: multiply/divide ϱ by this
_RHO_RATIO = 10.0  # ... when one residual exceeds the other by this
_RHO_MAX_UPDATES = 6


def _check_options(tol, max_iter, time_limit_s, rho, gamma, dtype, linear_solver, cg_tol, cg_max_iter,
                   check_every, adapt_rho, relax, polish, cache, verbose):
    """ValidationError for the first bad option (declared constraints); the iteration dtype."""
    positive = Real(0.0, closed="neither")
    check_params("ADMM", locals(), {
        "tol": [positive], "max_iter": [Int(0)], "time_limit_s": [None, positive], "rho": [None, positive],
        "gamma": [None, positive], "linear_solver": [Options(("auto", "direct", "cg"))], "cg_tol": [positive],
        "cg_max_iter": [Int(1)], "check_every": [Int(1)], "adapt_rho": [BOOL], "polish": [BOOL], "cache": [BOOL],
        "verbose": [BOOL], "relax": [Real(0.0, 2.0, "neither")],
    })
    return _as_float_dtype(dtype)



def _penalty(ops, rho, gamma):
    """``(ϱ, γ)``: the given values, else ``γ = 1/median eig(MᵀM)`` and ``ϱ = RHO_SCALE·λ_max(FᵀF)``
    (or the last ``ϱ`` used on these ``(M, patterns)``)."""
    if gamma is None:  # the cone split weighted like I in the median direction of MᵀM
        lam_mtm = max(float(ops.lam_M[-1]), 1e-300)
        gamma = 1.0 / float(np.median(ops.lam_M[ops.lam_M > 1e-12 * lam_mtm]))
    gamma = float(gamma)
    if rho is not None:
        return float(rho), gamma
    if ops.last_rho is not None and ops.last_rho[1] == gamma:
        return ops.last_rho[0], gamma
    return RHO_SCALE * max(ops.fit_lmax, 1e-300), gamma


def _balance_factor(r_prim, r_dual):
    """Residual balancing: the factor (``_RHO_FACTOR``, its inverse, or 1) by which to change ``ϱ``."""
    if r_prim > _RHO_RATIO * r_dual:
        return _RHO_FACTOR
    if r_dual > _RHO_RATIO * r_prim:
        return 1.0 / _RHO_FACTOR
    return 1.0
