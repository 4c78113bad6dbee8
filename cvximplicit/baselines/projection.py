"""Euclidean projection onto the well-posedness set ``{A : ‖A‖∞ ≤ κ}`` (numpy, torch-free).

End-to-end implicit training (El Ghaoui et al. 2021; the baseline of Section V
of the paper) keeps the model well-posed by projecting ``A`` after every
gradient step onto

.. math::

    \\mathcal{A}_\\kappa = \\{A \\in \\mathbb{R}^{n \\times n} : \\|A\\|_\\infty \\le \\kappa\\}
    = \\{A : \\textstyle\\sum_j |A_{ij}| \\le \\kappa \\ \\forall i\\},

a convex sufficient condition for well-posedness when ``κ < 1`` (Theorem 1:
``λ_PF(|A|) ≤ ‖A‖∞``).  The constraint is separable over the rows and so is
the Frobenius objective, hence the projection

.. math::

    \\Pi(A) = \\arg\\min_{Z \\in \\mathcal{A}_\\kappa} \\|Z - A\\|_F

is the row-wise projection onto the ℓ1 ball of radius ``κ``.  A row ``a`` with
``‖a‖₁ > κ`` maps to the soft-thresholded row ``sign(a) ⊙ max(|a| − θ, 0)``,
where ``θ > 0`` solves ``Σ_j max(|a_j| − θ, 0) = κ``; rows already inside are
unchanged.  ``method="sort"`` finds ``θ`` exactly by sorting (Duchi, Shalev-Shwartz,
Singer & Chandra 2008, ``O(n log n)`` per row); ``method="bisection"`` bisects
on ``θ`` (the variant the paper mentions), to a tolerance.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..exceptions import ValidationError

__all__ = ["project_inf_norm_ball", "PROJECTION_METHODS"]

#: Accepted values of ``method`` in :func:`project_inf_norm_ball`.
PROJECTION_METHODS = ("sort", "bisection")


def project_inf_norm_ball(A, kappa, *, method="sort", tol=1e-12, max_iter=200) -> np.ndarray:
    """Project ``A`` onto ``{Z : ‖Z‖∞ ≤ κ}`` in the Frobenius norm.

    Parameters
    ----------
    A : array_like, shape (n, k)
        The matrix to project; each row is projected onto the ℓ1 ball of
        radius ``kappa`` (``k = n`` for the state matrix of an implicit model,
        but any 2-D shape works).  A 1-D array is treated as a single row.
    kappa : float
        Radius ``κ ≥ 0`` of the ℓ∞-induced norm ball (the maximum absolute
        row sum).
    method : {"sort", "bisection"}
        Exact sort-based threshold (Duchi et al. 2008) or bisection on ``θ``.
    tol : float
        Bisection only: stop when the bracket on ``θ`` is narrower than
        ``tol · max(1, max|a|)``.
    max_iter : int
        Bisection only: iteration cap (the bracket halves each time).

    Returns
    -------
    ndarray, same shape as ``A`` (float64)
        The projection.  Rows with ``‖a‖₁ ≤ κ`` are returned unchanged (bit
        for bit); other rows have ``‖z‖₁ = κ`` up to rounding.

    Raises
    ------
    ValidationError
        If ``A`` is not a finite 1-D or 2-D array, ``kappa`` is negative or not
        finite, or ``method`` is unknown.

    Examples
    --------
    >>> project_inf_norm_ball(np.array([[3.0, -1.0], [0.2, 0.1]]), 1.0)
    array([[ 1. , -0. ],
           [ 0.2,  0.1]])
    """
    Z = np.array(A, dtype=float)
    if Z.ndim not in (1, 2):
        raise ValidationError(f"A must be a 1-D or 2-D array; got shape {Z.shape}")
    if not np.all(np.isfinite(Z)):
        raise ValidationError("A contains NaN or inf")
    if not isinstance(kappa, numbers.Real) or not np.isfinite(kappa) or kappa < 0:
        raise ValidationError(f"kappa must be a finite number ≥ 0; got {kappa!r}")
    if method not in PROJECTION_METHODS:
        raise ValidationError(f"method must be one of {PROJECTION_METHODS}; got {method!r}")
    rows = Z.reshape(1, -1) if Z.ndim == 1 else Z
    if rows.size == 0:
        return Z
    kappa = float(kappa)
    absolute = np.abs(rows)
    outside = absolute.sum(axis=1) > kappa
    if kappa == 0.0:
        rows[outside] = 0.0
    elif np.any(outside):
        theta = (_threshold_sort if method == "sort" else _threshold_bisection)(
            absolute[outside], kappa, tol=float(tol), max_iter=int(max_iter)
        )
        rows[outside] = np.sign(rows[outside]) * np.maximum(absolute[outside] - theta[:, None], 0.0)
    return Z


def _threshold_sort(absolute: np.ndarray, kappa: float, **_) -> np.ndarray:
    """Exact ``θ`` per row with ``Σ_j max(|a_j| − θ, 0) = κ`` (every row has ``‖a‖₁ > κ > 0``).

    With ``u`` the absolute values sorted in decreasing order and ``c_j`` their
    cumulative sums, ``ρ = max{j : u_j − (c_j − κ)/j > 0}`` and
    ``θ = (c_ρ − κ)/ρ`` (Duchi et al. 2008, Fig. 1).
    """
    u = -np.sort(-absolute, axis=1)
    c = np.cumsum(u, axis=1) - kappa
    j = np.arange(1, u.shape[1] + 1, dtype=float)
    positive = u - c / j > 0.0  # True for j ≤ ρ, False after (j = 1 is True unless κ underflows)
    rho = np.maximum(positive.sum(axis=1) - 1, 0)  # 0-based
    return np.maximum(c[np.arange(u.shape[0]), rho] / (rho + 1.0), 0.0)


def _threshold_bisection(absolute: np.ndarray, kappa: float, *, tol: float, max_iter: int) -> np.ndarray:
    """``θ`` per row by bisection on the decreasing map ``θ ↦ Σ_j max(|a_j| − θ, 0) − κ``.

    The root lies in ``[0, max_j |a_j|]``; the upper end of the final bracket
    is returned, so the projected row is always feasible (``‖z‖₁ ≤ κ``).
    """
    lo = np.zeros(absolute.shape[0])
    hi = absolute.max(axis=1)
    width = tol * np.maximum(1.0, hi)
    for _ in range(max_iter):
        if np.all(hi - lo <= width):
            break
        mid = 0.5 * (lo + hi)
        too_big = np.maximum(absolute - mid[:, None], 0.0).sum(axis=1) > kappa
        lo = np.where(too_big, mid, lo)
        hi = np.where(too_big, hi, mid)
    return hi
