"""The least-squares step (11) of Algorithm 2, posed in cvxpy in reduced form.

.. math::

    \\min_{C} \\; \\|Y - C X\\|_F^2, \\qquad X \\in \\mathbb{R}^{n \\times m},\\;
    Y \\in \\mathbb{R}^{q \\times m},\\; C \\in \\mathbb{R}^{q \\times n},

where ``X = [X_1; …; X_i]`` stacks the block states and ``C = [C_1 … C_i]`` the
output blocks (eq. (11) of Gautam et al.). **Columns are samples** (paper
orientation).

Reduction (the cvxpy problem's size does not depend on ``m``): with the thin QR
factorisation ``Xᵀ = Q R`` (``Q`` is ``m × n`` with orthonormal columns; it is
applied as Householder reflections, never formed) and the SVD ``R = U_R S V_Rᵀ``,
``X = V_R S (Q U_R)ᵀ`` and, for ``B = Y Q U_R``,

.. math::

    \\|Y - C X\\|_F^2 = \\|B - C V_R S\\|_F^2 + \\big(\\|Y\\|_F^2 - \\|B\\|_F^2\\big).

Singular values below ``rcond · s_max`` (``rcond = eps · max(m, n)``, the
default of :func:`numpy.linalg.lstsq`) are treated as zero: ``X`` is rank
deficient when, e.g., a ReLU row is dead. The cvxpy problem is
``min_Z ‖Z − B_r‖_F²`` in the coordinates ``Z = C V_r S_r`` (``V_r`` the first ``r``
right singular vectors), and ``C = Z S_r⁻¹ V_rᵀ`` is the **minimum-norm**
minimiser, as ``lstsq`` returns. These coordinates make the conic problem
perfectly conditioned: posed as ``‖Z S_r − B_r‖`` instead, Clarabel lost accuracy
with the condition number of ``X`` (6e-8 relative error at κ = 1e6,
``optimal_inaccurate`` at κ = 1e8), while here ``C`` matches ``lstsq`` to ~κ·eps.

Certificate: ``"normal_equations"``; ``residual = ‖(C X − Y) Xᵀ‖_F / ‖Y Xᵀ‖_F``
computed on the **full** data (absolute when ``Y Xᵀ = 0``). The reported
``objective`` is ``‖Y − C X‖_F²`` (no ½, no ``1/m``) evaluated on the full data.
"""

from __future__ import annotations

import time
import warnings

import cvxpy as cp
import numpy as np
import scipy.linalg

from .._validation import as_real_array
from ..exceptions import InaccurateSolutionWarning, ValidationError
from ._lru import LRUCache
from .backend import CLARABEL_OPTS, solve_cvxpy
from .report import SolveReport

__all__ = ["solve_least_squares", "LS_RESIDUAL_TOL"]

#: The ``"normal_equations"`` certificate is granted when the relative normal-equation
#: residual is at most this (Clarabel at tolerances 1e-8 leaves ~1e-9–1e-8 on the reduced
#: problem, a perfectly conditioned one); above it the report says ``"none"`` and warns.
LS_RESIDUAL_TOL = 1e-6

#: Compiled reduced problems keyed on ``(q, r)``: ``Z`` and the parameters.
_CACHE = LRUCache(8)


def _as_2d(name: str, A) -> np.ndarray:
    A = as_real_array(A, name)
    if A.ndim == 1:
        A = A[None, :]
    if A.ndim != 2:
        raise ValidationError(f"{name} must be a 2-D array (rows are features, columns are samples); "
                              f"got shape {A.shape}")
    return A


def _reduced_problem(q: int, r: int):
    """``min ‖Z − B‖_F²`` with ``B`` a parameter (DPP: re-solves skip compilation)."""

    def build():
        Z = cp.Variable((q, r), name="Z")
        B = cp.Parameter((q, r), name="B")
        return cp.Problem(cp.Minimize(cp.sum_squares(Z - B))), Z, B

    return _CACHE.get((q, r), build)[0]


def solve_least_squares(X, Y, *, solver="auto", solver_opts=None) -> tuple[np.ndarray, SolveReport]:
    """Solve the least-squares step (11) ``min_C ‖Y − C X‖_F²`` with a certificate.

    Parameters
    ----------
    X : array_like, shape (n, m)
        Stacked block states ``[X_1; …; X_i]``; **columns are samples**. May be
        rank deficient (dead ReLU rows, duplicate features).
    Y : array_like, shape (q, m)
        Targets; columns are samples. A 1-D ``Y`` is read as ``q = 1``.
    solver : str
        ``"auto"`` (Clarabel) or a cvxpy solver name (see
        :func:`cvximplicit.solvers.check_solver`). ``"FISTA"`` is not accepted here.
    solver_opts : dict, optional
        Passed unchanged to ``problem.solve``.

    Returns
    -------
    C : ndarray, shape (q, n)
        The minimum-norm minimiser (singular values of ``X`` below
        ``eps · max(m, n) · s_max`` treated as zero, as in ``numpy.linalg.lstsq``).
    report : SolveReport
        ``certificate="normal_equations"``; ``residual`` is the relative
        normal-equation residual on the full data; ``objective = ‖Y − C X‖_F²``.
        ``extra`` has ``n``, ``m``, ``q``, ``rank``.

    Raises
    ------
    ValidationError
        Wrong shapes or non-finite entries.
    SolverUnavailableError, SolverFailedError
        See :func:`cvximplicit.solvers.solve_cvxpy`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]); Y = np.array([[2.0, 4.0, 6.0]])
    >>> C, report = solve_least_squares(X, Y)
    >>> np.round(C, 6).tolist(), report.certificate
    ([[2.0, 0.0]], 'normal_equations')
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
    if solver == "FISTA" or (isinstance(solver, str) and solver.upper() == "FISTA"):
        raise ValidationError(
            "solver='FISTA' is the first-order engine of the ReLU program (12); the least-squares step (11) "
            "needs a conic/QP solver: use solver='auto' or e.g. 'CLARABEL'"
        )
    # Reduce: Xᵀ = Q R, R = U_R S V_Rᵀ; Y Q is applied by Householder reflections (Q is never formed).
    YQ, R = scipy.linalg.qr_multiply(X.T, Y, mode="right")  # (q, k), (k, n), k = min(m, n)
    U_R, s, V_Rt = np.linalg.svd(R, full_matrices=False)
    rcond = np.finfo(float).eps * max(m, n)
    r = int(np.sum(s > rcond * s[0])) if s.size and s[0] > 0 else 0
    B = YQ @ U_R[:, :r]  # (q, r)
    reduce_s = time.perf_counter() - t0
    if r == 0:
        C = np.zeros((q, n))
        compile_s = solve_s = 0.0
        used, status, iters, reason = "none", "optimal", 0, "X has rank 0: C = 0 needs no solve"
    else:
        problem, Z, B_par = _reduced_problem(q, r)
        B_par.value = B
        solved = solve_cvxpy(
            problem, solver=solver, solver_opts=solver_opts, problem_name="least squares (11)",
            default_opts={"CLARABEL": CLARABEL_OPTS}, warn_inaccurate=False,
        )
        used, status, compile_s, solve_s, iters, reason = solved
        C = (Z.value / s[:r]) @ V_Rt[:r, :]  # (q, n): C = Z S_r⁻¹ V_rᵀ
    # Certificate on the full data.
    resid = C @ X - Y  # (q, m)
    objective = float(np.sum(resid**2))
    YXt = Y @ X.T
    denom = float(np.linalg.norm(YXt))
    kkt = float(np.linalg.norm(resid @ X.T))
    residual = kkt / denom if denom > 0 else kkt
    certified = residual <= LS_RESIDUAL_TOL
    if not certified:
        warnings.warn(
            f"least squares (11): {used} returned status {status!r} with relative normal-equation residual "
            f"{residual:.3g} > {LS_RESIDUAL_TOL:g}: the solution is not certified (certificate 'none'); tighten "
            "the solver's tolerances via solver_opts or use solver='CLARABEL'",
            InaccurateSolutionWarning,
            stacklevel=2,
        )
    report = SolveReport(
        problem="least_squares",
        solver=used,
        status=status,
        objective=objective,
        iterations=iters,
        compile_time_s=float(compile_s + reduce_s),
        solve_time_s=float(solve_s),
        certificate="normal_equations" if certified else "none",
        residual=residual,
        requested_solver=str(solver),
        solver_reason=reason,
        scope={"program": "least squares (11)", "loss": "squared", "rows": m, "features": n, "outputs": q,
               "gap_tol": LS_RESIDUAL_TOL},
        extra={"n": n, "m": m, "q": q, "rank": r, "objective_definition": "||Y - C X||_F^2",
               "reduction_time_s": reduce_s},
    )
    return C, report
