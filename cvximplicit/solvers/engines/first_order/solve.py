"""The first-order engine's public solve: options, the loss, the run."""

from __future__ import annotations

import time

import numpy as np

from ...._params import Int, Real, check_params
from ...core._checks import _as_float_dtype, _program_data
from ..losses import check_loss, make_loss
from ..options import progress_logger, reject_unknown, warm_start_groups
from .iteration import AugmentedLagrangian

__all__ = ["FISTA_OPTIONS", "solve_convex_relu_first_order"]

#: The engine's options (an unknown key is an error naming these).
FISTA_OPTIONS = ("tol", "max_iter", "time_limit_s", "dtype", "V0", "W0", "verbose", "feas_tol", "rho", "check_every",
                 "loss", "offset")


def solve_convex_relu_first_order(M, Y, patterns, beta, *, tol=1e-6, max_iter=10_000, time_limit_s=None,
                                  dtype=np.float64, V0=None, W0=None, verbose=False, feas_tol=None,
                                  rho=None, check_every=10, loss="squared", offset=None, **unknown):
    """Solve the Ergen–Pilanci program for step (12) with a first-order method and certify it.

    Augmented Lagrangian on the cone constraints, FISTA with restart on each inner
    problem, group soft-thresholding for ``β Σ‖z_g‖`` (see :mod:`cvximplicit.solvers.engines.first_order`
    for the maths and what ``objective`` means).

    Parameters
    ----------
    M, Y, patterns, beta
        Program (12)'s data, as in :func:`~cvximplicit.solvers.engines.admm.solve_convex_relu_admm`; with
        ``loss="cross_entropy"``, ``Y`` is ``(m, q)``, ``q ≥ 2``, rows in the simplex (one-hot labels).
    tol : float
        Target relative duality gap ``gap_rel = (objective − bound) / max(1, |objective|)``.
    max_iter : int
        Cap on the total number of FISTA iterations (all outer iterations together).
    time_limit_s : float, optional
        Wall-clock cap; checked every iteration.
    dtype : {numpy.float64, numpy.float32}
        Working precision of the iterations. The certificate and the objective are
        always evaluated in float64 and the returned arrays are float64.
    V0, W0 : array_like, shape (P, d, q), optional
        Warm start (e.g. the previous β of a path); zeros by default.
    verbose : bool
        One line per cheap certificate check (logged, see
        :func:`~cvximplicit.solvers.engines.options.progress_logger`).
    feas_tol : float, optional
        Largest relative constraint violation accepted for ``"optimal"``
        (default ``max(tol, 1e-6)``).
    rho : float, optional
        Augmented-Lagrangian penalty ``ϱ``. Default: ``ϱ‖M‖₂² =`` :data:`AL_PENALTY_DEFAULT`
        ``× 2λ_max(AᵀA)`` (the penalty curvature a fixed multiple of the fit curvature).
        Larger ``ϱ`` drives the violation down in fewer multiplier updates but slows
        each inner FISTA solve.
    check_every : int
        Iterations between cheap certificate checks.
    loss : {"squared", "cross_entropy"}
        The loss of the fit (see the module docstring).
    offset : array_like, shape (m, q), optional
        Fixed logits ``Z0`` added to the fit (the earlier blocks' output); squared loss:
        the targets become ``Y − Z0``.

    Returns
    -------
    V, W : ndarray, shape (P, d, q), float64
    report : SolveReport
        ``problem="convex_relu"`` (``"convex_relu_ce"`` for cross-entropy), ``solver="FISTA"``,
        ``status`` ``"optimal"`` (certified:
        :func:`~cvximplicit.solvers.core.report.gap_certified`), ``"optimal_inaccurate"`` (stopped
        on a cap with ``|gap_rel| ≤ tol`` but not certified, the violation at most ``10·feas_tol``),
        else ``"max_iter"`` or ``"time_limit"``. A *negative* ``gap_rel`` means the
        iterate violates the cone constraints enough that its convex objective is
        below the (valid) bound; ``objective``, ``bound``, gaps,
        ``iterations``, ``solve_time_s``, ``certificate`` (``"restricted"`` when
        :func:`~cvximplicit.solvers.core.report.gap_certified`, else ``"none"``; callers
        relabel ``"global"`` when the patterns are all arrangements), ``residual`` =
        the relative constraint violation, ``extra`` (``n_patterns``,
        ``outer_iterations``, ``dtype``, ``network_objective``, ``al_penalty``,
        ``lipschitz``, ``certificate_checks``, ``rho``/``t`` of the bound,
        ``feasible_objective`` — the objective of an exactly feasible point, the
        returned one when its violation is 0, else ``V = W = 0`` (``½‖Y‖²``, or ``Σ ℓ(Z0_i; y_i)``) — and
        ``certified_gap_rel`` = ``(feasible_objective − bound) / max(1, |·|)``, a gap
        that holds whatever the violation).

    Raises
    ------
    ValidationError
        Shape mismatch, NaN/inf, ``β ≤ 0``, patterns not a bool ``(m, P)`` array,
        bad options, an unknown option (the message lists :data:`FISTA_OPTIONS`),
        cross-entropy targets off the simplex.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> M = np.c_[rng.standard_normal((40, 2)), np.ones(40)]
    >>> y = np.maximum(M @ [1.0, -1.0, 0.2], 0)
    >>> pats = (M @ rng.standard_normal((3, 8))) >= 0
    >>> V, W, rep = solve_convex_relu_first_order(M, y, pats, 1.0, tol=1e-5, max_iter=30_000)
    >>> rep.status, V.shape, rep.bound <= rep.objective, rep.gap_rel <= 1e-5
    ('optimal', (8, 3, 1), True, True)
    """
    t_start = time.perf_counter()
    reject_unknown("FISTA", unknown, FISTA_OPTIONS)
    M, Y, patterns, beta = _program_data(M, Y, patterns, beta)
    Y, offset = check_loss(loss, Y, offset)
    d, q, P = M.shape[1], Y.shape[1], patterns.shape[1]
    positive = Real(0.0, closed="neither")
    check_params("FISTA", {"tol": tol, "max_iter": max_iter, "time_limit_s": time_limit_s, "feas_tol": feas_tol,
                           "rho": rho, "check_every": check_every},
                 {"tol": [positive], "max_iter": [Int(0)], "time_limit_s": [None, positive],
                  "feas_tol": [None, positive], "rho": [None, positive], "check_every": [Int(1)]})
    dtype = _as_float_dtype(dtype)
    starts = warm_start_groups(V0, W0, P, d, q)
    fit = make_loss(loss, M, Y, patterns, beta, offset, dtype)  # validated above
    run = AugmentedLagrangian(M, Y, patterns, beta, fit, starts, tol=float(tol), max_iter=int(max_iter),
                              time_limit_s=time_limit_s, dtype=dtype,
                              feas_tol=max(float(tol), 1e-6) if feas_tol is None else float(feas_tol),
                              rho=None if rho is None else float(rho), check_every=check_every,
                              log=progress_logger(verbose), t_start=t_start)
    return run.report(run.run())
