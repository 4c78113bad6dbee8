"""Options and the penalty of the ADMM engine (:mod:`.admm`): validation, the default ``(ϱ, γ)``, residual balancing."""

from __future__ import annotations

import math

import numpy as np

from ..exceptions import ValidationError
from ._checks import _as_float_dtype

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
    def pos(x):
        return isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, bool) and x > 0 \
            and math.isfinite(x)

    def nonneg_int(x):
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 0

    if not pos(tol):
        raise ValidationError(f"tol must be a positive finite float (relative duality gap); got tol={tol!r}")
    if not nonneg_int(max_iter):
        raise ValidationError(f"max_iter must be a non-negative integer; got max_iter={max_iter!r}")
    if time_limit_s is not None and not pos(time_limit_s):
        raise ValidationError(f"time_limit_s must be None or a positive number of seconds; got {time_limit_s!r}")
    for name, val in (("rho", rho), ("gamma", gamma)):
        if val is not None and not pos(val):
            raise ValidationError(f"{name} must be None (scaled to the data) or a positive float; got {name}={val!r}")
    dt = _as_float_dtype(dtype)
    if linear_solver not in ("auto", "direct", "cg"):
        raise ValidationError(f"linear_solver must be 'auto', 'direct' or 'cg'; got {linear_solver!r}")
    if not pos(cg_tol):
        raise ValidationError(f"cg_tol must be a positive float; got cg_tol={cg_tol!r}")
    if not nonneg_int(cg_max_iter) or cg_max_iter < 1:
        raise ValidationError(f"cg_max_iter must be a positive integer; got cg_max_iter={cg_max_iter!r}")
    if not nonneg_int(check_every) or check_every < 1:
        raise ValidationError(f"check_every must be a positive integer; got check_every={check_every!r}")
    for name, val in (("adapt_rho", adapt_rho), ("polish", polish), ("cache", cache), ("verbose", verbose)):
        if not isinstance(val, (bool, np.bool_)):
            raise ValidationError(f"{name} must be True or False; got {name}={val!r}")
    if not (pos(relax) and relax < 2):
        raise ValidationError(f"relax (over-relaxation) must be in (0, 2); got relax={relax!r}")
    return dt



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
