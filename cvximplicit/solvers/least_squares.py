"""The least-squares step (11) of Algorithm 2: a cvxpy program on the triangular factor, and its closed form.

.. math::

    \\min_{C} \\; \\|Y - C X\\|_F^2 + \\rho \\|C\\|_F^2, \\qquad X \\in \\mathbb{R}^{n \\times m},\\;
    Y \\in \\mathbb{R}^{q \\times m},\\; C \\in \\mathbb{R}^{q \\times n},

where ``X = [X_1; …; X_i]`` stacks the block states and ``C = [C_1 … C_i]`` the
output blocks (eq. (11) of Gautam et al.; ``ρ = ridge ≥ 0``, 0 in the paper). **Columns
are samples** (paper orientation).

Reduction (the size no longer depends on ``m``): with the thin QR factorisation
``Xᵀ = Q R`` (``Q`` is ``m × k`` with orthonormal columns, applied as Householder
reflections, never formed; ``k = min(m, n)``),

.. math::

    \\|Y - C X\\|_F^2 = \\|Y Q - C R^\\top\\|_F^2 + \\big(\\|Y\\|_F^2 - \\|Y Q\\|_F^2\\big).

- **The cvxpy program** (a named cvxpy solver): ``min_C ‖YQ − C Rᵀ‖_F² + ρ‖C‖_F²`` over
  ``C`` itself, so further constraints on ``C`` can be added to the same program
  (:func:`least_squares_program` returns it with its variable). Its accuracy follows the
  conditioning of ``R`` (Clarabel: ~6e-8 relative error at κ(X) = 1e6).
- **The closed form** (``"auto"``, reported as solver ``"closed_form"``): with the SVD
  ``R = U_R S V_Rᵀ`` and ``B = Y Q U_R``, ``C = B_r diag(s_r / (s_r² + ρ)) V_rᵀ``, the
  minimum-norm minimiser (for ``ρ = 0`` what :func:`numpy.linalg.lstsq` returns);
  singular values below ``eps · max(m, n) · s_max`` count as zero (dead ReLU rows).
  It is exact up to ~κ·eps; the tests check that the cvxpy program reaches the same ``C``.

Certificate (either way, on the **full** data): ``"normal_equations"`` when the relative
residual ``‖(C X − Y) Xᵀ + ρ C‖_F / ‖Y Xᵀ‖_F`` (absolute when ``Y Xᵀ = 0``) is at most
:data:`LS_RESIDUAL_TOL`, else ``"none"`` with a warning. The reported ``objective`` is
``‖Y − C X‖_F² + ρ‖C‖_F²`` (no ½, no ``1/m``).
"""

from __future__ import annotations

import time
import warnings

import cvxpy as cp
import numpy as np
import scipy.linalg

from .._validation import as_real_array
from ..exceptions import InaccurateSolutionWarning, ValidationError
from .core._lru import LRUCache
from .core.backend import CLARABEL_OPTS, check_solver, solve_cvxpy
from .core.report import SolveReport
from .engines.registry import is_engine

__all__ = ["solve_least_squares", "least_squares_program", "LS_RESIDUAL_TOL"]

#: The ``"normal_equations"`` certificate is granted when the relative normal-equation
#: residual is at most this (the closed form leaves ~1e-15; Clarabel at tolerances 1e-8
#: ~1e-9–1e-8 on well-conditioned blocks); above it the report says ``"none"`` and warns.
LS_RESIDUAL_TOL = 1e-6

#: Compiled programs keyed on ``(q, n, k, ridge > 0)``: problem, ``C`` and the parameters.
_CACHE = LRUCache(8)


def _as_2d(name: str, A) -> np.ndarray:
    A = as_real_array(A, name)
    if A.ndim == 1:
        A = A[None, :]
    if A.ndim != 2:
        raise ValidationError(f"{name} must be a 2-D array (rows are features, columns are samples); "
                              f"got shape {A.shape}")
    return A


def least_squares_program(q: int, n: int, k: int, *, ridge: bool = False):
    """The cvxpy program ``min_C ‖B − C Rᵀ‖_F² (+ ρ‖C‖_F²)`` of step (11) on the triangular factor.

    Returns ``(problem, C, B, R_t, rho)``: ``C`` the ``(q, n)`` variable; ``B`` ``(q, k)``,
    ``R_t`` ``(n, k)`` (``Rᵀ``) and ``rho`` (None without ridge) are parameters to set
    (``B = Y Q``, ``Xᵀ = Q R``). Cached on the sizes, so re-solves skip compilation.
    Add constraints on ``C`` by building ``cvxpy.Problem(problem.objective, [...])``.
    """

    def build():
        C = cp.Variable((q, n), name="C")
        B = cp.Parameter((q, k), name="B")
        R_t = cp.Parameter((n, k), name="R_t")
        objective = cp.sum_squares(B - C @ R_t)
        rho = cp.Parameter(nonneg=True, name="ridge") if ridge else None
        if ridge:
            objective = objective + rho * cp.sum_squares(C)
        return cp.Problem(cp.Minimize(objective)), C, B, R_t, rho

    return _CACHE.get((q, n, k, bool(ridge)), build)[0]


def solve_least_squares(X, Y, *, solver="auto", solver_opts=None, ridge=0.0) -> tuple[np.ndarray, SolveReport]:
    """Solve the least-squares step (11) ``min_C ‖Y − C X‖_F² + ρ‖C‖_F²`` with a certificate.

    Parameters
    ----------
    X : array_like, shape (n, m)
        Stacked block states ``[X_1; …; X_i]``; **columns are samples**. May be
        rank deficient (dead ReLU rows, duplicate features).
    Y : array_like, shape (q, m)
        Targets; columns are samples. A 1-D ``Y`` is read as ``q = 1``.
    solver : str
        ``"auto"``: the closed form (minimum-norm, exact); a cvxpy solver name (see
        :func:`cvximplicit.solvers.check_solver`): the cvxpy program on the triangular
        factor, solved by that solver alone. Engines of program (12) are refused.
    solver_opts : dict, optional
        Options of the named cvxpy solver, checked strictly.
    ridge : float
        ``ρ ≥ 0`` (0: the paper's step (11)).

    Returns
    -------
    C : ndarray, shape (q, n)
    report : SolveReport
        ``certificate`` ``"normal_equations"`` (or ``"none"``, see the module docstring);
        ``residual`` the relative normal-equation residual on the full data; ``solver``
        ``"closed_form"`` or the cvxpy solver; ``extra`` has ``n``, ``m``, ``q``, ``rank``, ``ridge``.

    Raises
    ------
    ValidationError
        Wrong shapes, non-finite, complex or string entries, a negative ``ridge``, an
        engine name as ``solver``, unknown ``solver_opts`` keys.
    SolverUnavailableError, SolverFailedError
        See :func:`cvximplicit.solvers.solve_cvxpy`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]); Y = np.array([[2.0, 4.0, 6.0]])
    >>> C, report = solve_least_squares(X, Y)
    >>> np.round(C, 6).tolist(), report.certificate, report.solver
    ([[2.0, 0.0]], 'normal_equations', 'closed_form')
    """
    t0 = time.perf_counter()
    X = _as_2d("X", X)
    Y = _as_2d("Y", Y)
    n, m = X.shape
    q = Y.shape[0]
    if Y.shape[1] != m:
        raise ValidationError(
            f"X and Y must have the same number of samples (columns); got X {X.shape} and Y {Y.shape}"
        )
    name = check_solver(solver)
    if is_engine(name):
        raise ValidationError(
            f"solver={solver!r} is an engine of the ReLU program (12); the least-squares step (11) uses its closed "
            "form (solver='auto') or a cvxpy solver such as 'CLARABEL'"
        )
    ridge = float(ridge)
    if not (ridge >= 0 and np.isfinite(ridge)):
        raise ValidationError(f"ridge must be a finite float >= 0; got ridge={ridge!r}")
    YQ, R = scipy.linalg.qr_multiply(X.T, Y, mode="right")  # (q, k), (k, n)
    reduce_s = time.perf_counter() - t0
    compile_s = solve_s = 0.0
    if name == "auto":
        C, rank = _closed_form(YQ, R, ridge, m, n)
        used, status, iters = "closed_form", "optimal", None
        reason = "auto: closed form of the least-squares step (SVD of the triangular factor)"
    else:
        problem, C_var, B, R_t, rho = least_squares_program(q, n, R.shape[0], ridge=ridge > 0)
        B.value, R_t.value = YQ, R.T
        if rho is not None:
            rho.value = ridge
        solved = solve_cvxpy(problem, solver=name, solver_opts=solver_opts, problem_name="least squares (11)",
                             default_opts={"CLARABEL": CLARABEL_OPTS}, warn_inaccurate=False)
        used, status, compile_s, solve_s, iters, reason = solved
        C, rank = np.asarray(C_var.value, dtype=float), int(np.linalg.matrix_rank(R))
    resid = C @ X - Y  # (q, m): the certificate on the full data
    objective = float(np.sum(resid**2)) + ridge * float(np.sum(C**2))
    denom = float(np.linalg.norm(Y @ X.T))
    kkt = float(np.linalg.norm(resid @ X.T + ridge * C))
    residual = kkt / denom if denom > 0 else kkt
    certified = residual <= LS_RESIDUAL_TOL
    if not certified:
        warnings.warn(
            f"least squares (11): {used} returned status {status!r} with relative normal-equation residual "
            f"{residual:.3g} > {LS_RESIDUAL_TOL:g}: the solution is not certified (certificate 'none'); tighten "
            "the solver's tolerances via solver_opts or use solver='auto' (the closed form)",
            InaccurateSolutionWarning,
            stacklevel=2,
        )
    report = SolveReport(
        problem="least_squares", solver=used, status=status, objective=objective, iterations=iters,
        compile_time_s=float(compile_s + reduce_s), solve_time_s=float(solve_s),
        certificate="normal_equations" if certified else "none", residual=residual,
        requested_solver=str(solver), solver_reason=reason,
        scope={"program": "least squares (11)", "loss": "squared", "rows": m, "features": n, "outputs": q,
               "gap_tol": LS_RESIDUAL_TOL},
        extra={"n": n, "m": m, "q": q, "rank": rank, "ridge": ridge,
               "objective_definition": "||Y - C X||_F^2 + ridge ||C||_F^2", "reduction_time_s": reduce_s},
    )
    return C, report


def _closed_form(YQ: np.ndarray, R: np.ndarray, ridge: float, m: int, n: int) -> tuple[np.ndarray, int]:
    """``C = (Y Q U_R)_r diag(s_r / (s_r² + ρ)) V_rᵀ`` and the numerical rank ``r`` of ``R``."""
    U_R, s, V_Rt = np.linalg.svd(R, full_matrices=False)
    rcond = np.finfo(float).eps * max(m, n)
    r = int(np.sum(s > rcond * s[0])) if s.size and s[0] > 0 else 0
    B = YQ @ U_R[:, :r]
    return (B * (s[:r] / (s[:r] ** 2 + ridge))) @ V_Rt[:r, :], r
