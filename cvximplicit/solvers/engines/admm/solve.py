"""The ADMM engine's public solve: options, the exact reduction to the row space of ``M``, the run, the lift."""

from __future__ import annotations

import time

import numpy as np

from ....exceptions import ValidationError
from ...core._checks import _program_data
from ..options import reject_unknown, warm_start_groups
from .iteration import AdmmRun
from .operators import row_space_basis
from .penalty import ADMM_OPTIONS, check_options
from .polish import lift

__all__ = ["solve_convex_relu_admm"]


def solve_convex_relu_admm(M, Y, patterns, beta, *, tol=1e-6, max_iter=5000, time_limit_s=None, rho=None,
                           gamma=None, dtype="float64", V0=None, W0=None, linear_solver="auto", cg_tol=1e-3,
                           cg_max_iter=20, check_every=20, adapt_rho=False, relax=1.6, polish=True, cache=True,
                           verbose=False, row_space=True, **unknown):
    """Solve program (12) (:class:`~cvximplicit.solvers.relu.program.ReluProgram`) by ADMM; certify it in float64.

    See :mod:`cvximplicit.solvers.engines.admm` for the splitting, the linear algebra, the certificate
    and what ``objective`` means.

    Parameters
    ----------
    M, Y, patterns, beta
        Program (12)'s data: ``M`` ``(m, d)`` and ``Y`` ``(m, q)`` (1-D: ``q = 1``) with **rows as samples**,
        ``patterns`` ``(m, P)`` bool (column ``k`` is the diagonal of ``D_k``), ``β > 0``.
    tol : float
        Target relative gap ``(objective − bound) / max(1, |objective|)``.
    max_iter : int
        Cap on ADMM iterations.
    time_limit_s : float, optional
        Wall-clock cap from the call, read every iteration and inside the polish, the
        multiplier re-fit and the repair; past it only one ``dual_bound`` (and, with the
        row-space reduction, its recomputation on ``M``) runs, and groups not yet repaired are zeroed.
    rho : float, optional
        ADMM penalty ``ϱ``; default ``0.1·λ_max(FᵀF)`` (or the last ``ϱ`` used on these
        ``(M, patterns)`` when cached), then adapted by residual balancing when ``adapt_rho``.
    gamma : float, optional
        Relative weight of the cone split; default ``1/median(eig(MᵀM))``.
    dtype : {"float64", "float32"}
        Working precision of the iterations; the repair, objective and bound are float64.
    V0, W0 : array_like, shape (P, d, q), optional
        Warm start (e.g. the solution at the previous β of a path). With ``cache`` the
        duals of the last solve on the same ``(M, patterns)`` and ``ϱ`` are reused (``α``
        rescaled by the ratio of the β values; ``extra["warm_duals"]``), else ``α`` is set to
        a subgradient of the group norms at the start.
    linear_solver : {"auto", "direct", "cg"}
        ``"direct"``: Woodbury with an ``m × m`` Cholesky factor; ``"cg"``: PCG;
        ``"auto"``: direct when ``m ≤`` :data:`ADMM_DIRECT_MAX_M`.
    cg_tol, cg_max_iter : float, int
        Relative residual and iteration cap of each PCG solve (warm-started).
    check_every : int
        Iterations between cheap certificate checks.
    adapt_rho : bool
        Residual balancing (``ϱ`` ×/÷ 4 when one residual is 10× the other; at most 6
        changes; each change refactors on the direct path).
    relax : float
        Over-relaxation ``∈ (0, 2)`` (1 = none).
    cache : bool
        Reuse (and store) factorisations keyed on digests of ``(M, patterns)``.
    verbose : bool
        One line per check (logged, see :func:`~cvximplicit.solvers.engines.options.progress_logger`).
    row_space : bool
        Solve on ``M Q`` (``Q`` an orthonormal basis of the row space of ``M``, zero columns
        dropped) when ``M`` is rank deficient, then map back ``V = Q Ṽ`` and re-certify on
        ``M``: exact (same optimal value, norms preserved; ``extra["row_space_rank"]``).

    Returns
    -------
    V, W : ndarray, shape (P, d, q), float64
        Exactly feasible (``constraint_violation(M, patterns, V, W) == 0``).
    report : SolveReport
        ``solver="ADMM"``, ``status`` ``"optimal"`` (certified ``gap_rel ≤ tol``),
        ``"max_iter"`` or ``"time_limit"``; ``objective`` (at the returned point),
        ``bound`` (best float64 ``dual_bound``), gaps, ``iterations``,
        ``compile_time_s`` (operator set-up and factorisation), ``solve_time_s`` (total
        wall time), ``certificate`` ``"restricted"`` when certified to ``tol``, else ``"none"``
        (the rule of :func:`~cvximplicit.solvers.core.report.gap_certified`; callers relabel ``"global"``
        with all arrangements), ``residual`` (the constraint violation, 0), ``extra`` (``rho``,
        ``gamma``, ``linear_solver``, ``cache_hit``, ``setup_time_s``, ``cg_iterations``,
        ``rho_updates``, ``n_active_groups``, ``dropped_groups``, ``dtype``, ...).

    Raises
    ------
    ValidationError
        Bad shapes, NaN/inf, ``β ≤ 0``, a bad option value, or an unknown option
        (the message lists :data:`ADMM_OPTIONS`).

    Examples
    --------
    >>> from cvximplicit.solvers import sample_patterns
    >>> import numpy as np
    >>> M = np.c_[np.random.default_rng(1).standard_normal((60, 2)), np.ones(60)]
    >>> V, W, rep = solve_convex_relu_admm(M, np.abs(M[:, 0]), sample_patterns(M, 8, seed=0), 1.0)
    >>> rep.status, rep.certificate, rep.residual, rep.bound <= rep.objective
    ('optimal', 'restricted', 0.0, True)
    """
    t_start = time.perf_counter()
    reject_unknown("ADMM", unknown, ADMM_OPTIONS)
    opts = check_options(tol, max_iter, time_limit_s, rho, gamma, dtype, linear_solver, cg_tol, cg_max_iter,
                         check_every, adapt_rho, relax, polish, cache, verbose)
    M64, Y64, patterns, beta = _program_data(M, Y, patterns, beta)
    d, q, P = M64.shape[1], Y64.shape[1], patterns.shape[1]
    starts = warm_start_groups(V0, W0, P, d, q)
    if not isinstance(row_space, (bool, np.bool_)):
        raise ValidationError(f"row_space must be True or False; got row_space={row_space!r}")
    red = row_space_basis(M64, opts.cache) if row_space else None
    Mr = M64 if red is None else red[1]
    if red is not None:  # solve on M Q, V = Q Ṽ (exact: M V = (M Q)(Qᵀ V) and ‖Qᵀ v‖ ≤ ‖v‖)
        starts = [None if Z0 is None else np.einsum("dr,pdq->prq", red[0], Z0) for Z0 in starts]
    V, W, rep, dual = AdmmRun(Mr, Y64, patterns, beta, starts, t_start, opts).run()
    if red is None:
        return V, W, rep
    return lift(red, M64, Y64, patterns, beta, V, W, rep, dual, opts.tol, t_start)
