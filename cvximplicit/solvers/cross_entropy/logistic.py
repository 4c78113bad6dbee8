"""The output step of Algorithm 2 with the softmax cross-entropy loss: ridge multinomial logistic regression.

.. math::

    p^\\star = \\min_{C \\in \\mathbb{R}^{q\\times n}}\\; f(C) = \\sum_i \\ell(C x_i + z_{0,i};\\, y_i)
    + \\tfrac{r}{2}\\|C\\|_F^2, \\qquad \\ell(z; y) = \\mathrm{logsumexp}(z) - y^\\top z,

on features ``X`` ``(m, n)`` (**rows are samples**; a bias is a column of ``X`` if wanted),
labels ``Y`` ``(m, q)`` with rows in the simplex (one-hot), an optional fixed logit offset
``Z0`` and ridge ``r`` (default :data:`MLR_RIDGE_DEFAULT` ``> 0``: without it the optimum does
not exist on separable data, the logits grow without bound).

**Solve.** scipy L-BFGS on ``f`` with its analytic gradient
``∇f = (softmax(Z) − Y)ᵀ X + r C`` in float64, stopped by the certificate.

**Certificate (Fenchel dual).** ``ℓ(z; y) = max_{y−λ∈Δ} −λᵀz + H(y − λ)``; minimising
``−⟨C, ΛᵀX⟩ + (r/2)‖C‖²`` over ``C`` (at ``C = ΛᵀX / r``) gives

.. math::

    g(\\Lambda) = \\sum_i \\big[H(y_i - \\lambda_i) - \\lambda_i^\\top z_{0,i}\\big]
    - \\tfrac{1}{2r}\\|\\Lambda^\\top X\\|_F^2 \\le p^\\star

for every ``Λ`` with rows ``y_i − λ_i ∈ Δ``. At ``Λ = Y − softmax(Z(C))`` the gap is exactly
``f(C) − g(Λ) = ‖∇f(C)‖²_F / (2r)`` (Fenchel equality on each row). The reported bound is
``max_{t∈[0,1]} g(tΛ)`` (concave in ``t``; ``t ≤ 1`` keeps the rows in the simplex), computed in
float64. With ``r = 0`` only ``Λ`` with ``ΛᵀX = 0`` is dual feasible; the bound used is then
``g(0) = Σ H(y_i)`` (0 for one-hot labels), which certifies nothing in general.
"""

from __future__ import annotations

import math
import time
import warnings

import cvxpy as cp
import numpy as np
import scipy.optimize

from ..._params import Int, Real, check_params
from ...exceptions import InaccurateSolutionWarning, ValidationError
from ..core._checks import _as_matrix
from ..core._threads import one_blas_thread
from ..core.report import CERTIFIED_CLASS, SolveReport
from .certificate_ce import (
    as_offset,
    as_simplex_targets,
    best_scaling,
    cross_entropy,
    entropy_sum,
    softmax,
)

__all__ = ["solve_multinomial_logistic", "multinomial_logistic_program", "multinomial_logistic_bound",
           "MLR_RIDGE_DEFAULT", "MLR_CERTIFICATE_KIND", "MLR_CERTIFIED_CLASS"]

#: Default ridge ``r`` (with the loss a sum over rows: ``r`` is not divided by ``m``).
MLR_RIDGE_DEFAULT = 1e-4

#: The certificate kind this step earns (see :data:`~cvximplicit.solvers.core.report.CERTIFIED_CLASS`).
MLR_CERTIFICATE_KIND = "multinomial_logistic"
#: What :data:`MLR_CERTIFICATE_KIND` proves (network class, conditions).
MLR_CERTIFIED_CLASS = CERTIFIED_CLASS[MLR_CERTIFICATE_KIND]


def _value_grad(c_flat, Xt, Yt, Z0t, ridge, q, y_sums):
    """``f`` and ``∇f`` with samples as columns: ``Xt`` ``(n, m)``, ``Yt`` and ``Z0t`` ``(q, m)``, ``y_sums = 1ᵀYt``.

    The logits ``Z = C Xt`` are ``(q, m)``: the max and the sums over the ``q`` classes then run across
    contiguous rows (1.6× faster than over rows of length ``q`` on MNIST-size data).
    """
    C = c_flat.reshape(q, Xt.shape[0])
    Z = C @ Xt
    if Z0t is not None:
        Z += Z0t
    zmax = Z.max(axis=0)
    Z -= zmax
    E = np.exp(Z)
    s = E.sum(axis=0)
    # Σ_i [logsumexp(z_i) − y_iᵀ z_i], with z_i = shifted + zmax_i
    value = (float(np.dot(y_sums, -zmax) + np.sum(zmax) + np.sum(np.log(s)) - np.vdot(Yt, Z))
             + 0.5 * ridge * float(np.vdot(C, C)))
    E /= s
    E -= Yt
    G = E @ Xt.T
    G += ridge * C
    return value, G.ravel()


def multinomial_logistic_bound(X, Y, lam, ridge: float, offset=None) -> tuple[float, float]:
    """``(max_{0≤t≤1} g(tΛ), t)`` for the dual point ``Λ`` (rows of ``Y − Λ`` in the simplex; validated data).

    ``g(Λ) = Σ_i [H(y_i − λ_i) − λ_iᵀ z0_i] − ‖ΛᵀX‖²/(2r)``; ``r = 0``: ``(Σ H(y_i), 0)``.
    """
    if ridge == 0.0:
        return entropy_sum(Y), 0.0
    lin = 0.0 if offset is None else float(np.vdot(lam, offset))
    G = lam.T @ X
    return best_scaling(lam, Y, lin, float(np.vdot(G, G)) / ridge, 1.0)


def multinomial_logistic_program(X, Y, ridge: float, offset=None):
    """The cvxpy (exponential-cone) form of the problem: ``(problem, C)`` with ``C`` a ``(q, n)`` variable."""
    C = cp.Variable((Y.shape[1], X.shape[1]), name="C")
    Z = X @ C.T if offset is None else X @ C.T + offset
    obj = cp.sum(cp.log_sum_exp(Z, axis=1)) - cp.sum(cp.multiply(Y, Z))
    if ridge > 0:
        obj = obj + 0.5 * ridge * cp.sum_squares(C)
    return cp.Problem(cp.Minimize(obj)), C


def solve_multinomial_logistic(X, Y, *, ridge=MLR_RIDGE_DEFAULT, offset=None, tol=1e-8, max_iter=10_000, C0=None):
    """Fit the output map ``C`` ``(q, n)`` by ridge multinomial logistic regression and certify it.

    Parameters
    ----------
    X : array_like, shape (m, n)
        Features, rows are samples (include a column of ones for a bias).
    Y : array_like, shape (m, q)
        Labels, rows in the probability simplex (one-hot), ``q ≥ 2``.
    ridge : float
        ``r ≥ 0`` (default :data:`MLR_RIDGE_DEFAULT`). ``r = 0`` warns: the optimum may not
        exist (separable data) and no useful certificate exists; one L-BFGS run with scipy's
        stopping rules (``ftol=1e-12``, ``gtol=1e-10``) or ``max_iter``, status ``"not_certified"``.
    offset : array_like, shape (m, q), optional
        Fixed logits ``Z0`` added to ``X Cᵀ``.
    tol : float
        Target relative gap ``(f − bound) / max(1, |f|)``.
    max_iter : int
        L-BFGS iterations, all restarts together.
    C0 : array_like, shape (q, n), optional
        Warm start (zeros by default).

    Returns
    -------
    C : ndarray, shape (q, n)
        Logits are ``X Cᵀ + Z0``.
    report : SolveReport
        ``problem="multinomial_logistic"``, ``solver="L-BFGS"``, ``objective = f(C)``, the dual
        ``bound``, gaps, ``residual`` = ``‖∇f‖_F / max(1, ‖YᵀX‖_F)``, ``certificate``
        :data:`MLR_CERTIFICATE_KIND` when
        ``r > 0`` and ``gap_rel ≤ tol``, else ``"none"`` with an
        :class:`~cvximplicit.exceptions.InaccurateSolutionWarning`.

    Raises
    ------
    ValidationError
        Non-finite data, wrong shapes, ``Y`` rows off the simplex, bad options.
    """
    t0 = time.perf_counter()
    X = _as_matrix(X, "X").astype(float)
    Y = as_simplex_targets(Y, X.shape[0])
    Z0 = as_offset(offset, Y.shape)
    check_params("solve_multinomial_logistic", {"ridge": ridge, "tol": tol, "max_iter": max_iter},
                 {"ridge": [Real(0.0)], "tol": [Real(0.0, closed="neither")], "max_iter": [Int(0)]})
    ridge, (m, n), q = float(ridge), X.shape, Y.shape[1]
    c = np.zeros(q * n)
    if C0 is not None:
        C0 = np.asarray(C0, dtype=float)
        if C0.shape != (q, n) or not np.all(np.isfinite(C0)):
            raise ValidationError(f"C0 must be a finite array of shape (q, n) = {(q, n)}; got shape {C0.shape}")
        c = C0.ravel().copy()
    if ridge == 0.0:
        warnings.warn("ridge=0: the multinomial logistic optimum may not exist (separable data: the logits grow "
                      "without bound) and the only dual bound is the trivial Σ H(y_i); the result is not certified",
                      InaccurateSolutionWarning, stacklevel=2)
    scale = max(1.0, float(np.linalg.norm(Y.T @ X)))
    Xt, Yt = np.ascontiguousarray(X.T), np.ascontiguousarray(Y.T)  # samples as columns for the iterations
    Z0t, y_sums = (None if Z0 is None else np.ascontiguousarray(Z0.T)), Yt.sum(axis=0)
    last = {}

    def fun(x):
        last["x"], (last["f"], last["g"]) = x.copy(), _value_grad(x, Xt, Yt, Z0t, ridge, q, y_sums)
        return last["f"], last["g"]

    def stop(intermediate_result):  # the gap at an iterate is ‖∇f‖²/(2r): stop once it meets tol/2
        if (ridge > 0 and np.array_equal(intermediate_result.x, last.get("x"))
                and float(np.vdot(last["g"], last["g"])) / (2.0 * ridge) <= 0.5 * tol * max(1.0, abs(last["f"]))):
            raise StopIteration

    iters, rounds, status = 0, 0, "max_iter"
    with one_blas_thread():  # skinny products (q columns): two BLAS threads made the MNIST output step 2-3x slower
        while True:
            rounds += 1
            res = scipy.optimize.minimize(fun, c, jac=True, method="L-BFGS-B", callback=stop,
                                          options={"maxiter": max(max_iter - iters, 1), "maxcor": 20,
                                                   "ftol": 0.0 if ridge > 0 else 1e-12,
                                                   "gtol": 0.0 if ridge > 0 else 1e-10})
            c, iters = res.x, iters + int(res.nit)
            f, g = _value_grad(c, Xt, Yt, Z0t, ridge, q, y_sums)
            lam = Y - softmax(X @ c.reshape(q, n).T + (0.0 if Z0 is None else Z0))
            bound, t = multinomial_logistic_bound(X, Y, lam, ridge, Z0)
            gap_rel = (f - bound) / max(1.0, abs(f))
            if gap_rel <= tol and ridge > 0:
                status = "optimal"
                break
            if iters >= max_iter or rounds >= 20 or res.nit == 0 or ridge == 0.0:  # r = 0: one L-BFGS run
                break
    C = c.reshape(q, n)
    objective = cross_entropy(X @ C.T + (0.0 if Z0 is None else Z0), Y) + 0.5 * ridge * float(np.vdot(C, C))
    gap_abs, gap_rel = SolveReport.gaps(objective, bound)
    certified = ridge > 0 and gap_rel is not None and gap_rel <= tol
    kind = MLR_CERTIFICATE_KIND if certified else "none"
    if not certified and ridge > 0:
        warnings.warn(f"L-BFGS stopped ({status}) on the multinomial logistic regression without a certificate: "
                      f"objective={objective:.10g}, bound={bound:.10g}, gap_rel={gap_rel:.3g} (tolerance {tol:g}), "
                      f"iterations={iters}", InaccurateSolutionWarning, stacklevel=2)
    grad_norm = float(np.linalg.norm(g))
    report = SolveReport(
        problem="multinomial_logistic", solver="L-BFGS", status=status if ridge > 0 else "not_certified",
        objective=objective, bound=bound, gap_abs=gap_abs, gap_rel=gap_rel, iterations=iters,
        solve_time_s=time.perf_counter() - t0, certificate=kind, residual=grad_norm / scale,
        requested_solver="L-BFGS", solver_reason="requested",
        scope={"program": "ridge multinomial logistic regression (output step)", "loss": "cross_entropy",
               "rows": m, "features": n, "outputs": q, "ridge": ridge, "gap_tol": float(tol),
               "network_class": MLR_CERTIFIED_CLASS[0]},
        extra={"ridge": ridge, "t": t, "grad_norm": grad_norm, "lbfgs_rounds": rounds,
               "lbfgs_message": str(res.message), "gap_identity": grad_norm**2 / (2 * ridge) if ridge else math.inf},
    )
    return C, report
