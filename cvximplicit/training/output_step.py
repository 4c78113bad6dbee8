"""The output step of a block: all output blocks ``C = [C_1 … C_i]`` re-fitted on every sample (convex, certified).

- Squared loss (8): least squares (11), :func:`~cvximplicit.solvers.solve_least_squares`
  (certified by the normal equations).
- Cross-entropy (9): ridge multinomial logistic regression on the whitened states
  (:func:`whitened_logistic`, certified by its Fenchel dual).

Orientation: the states ``X`` are ``(n, m)`` and the targets ``Y`` ``(q, m)`` (columns are samples).
"""

from __future__ import annotations

import numpy as np

from ..solvers.cross_entropy.logistic import solve_multinomial_logistic
from ..solvers.engines import is_engine
from ..solvers.least_squares import solve_least_squares

__all__ = ["output_step", "whitened_logistic"]

#: Eigenvalues of the states' second-moment matrix below this fraction of the largest are dropped by
#: :func:`whitened_logistic` (dead or duplicate states: their directions carry no signal).
WHITEN_RCOND = 1e-10


def output_step(X: np.ndarray, Y: np.ndarray, loss: str, *, ridge: float = 1.0, solver="auto", solver_opts=None,
                C0=None):
    """``(C, report)``: least squares (11) (``loss="squared"``) or :func:`whitened_logistic` (``"cross_entropy"``).

    ``ridge`` applies to the logistic step only (the least-squares step is the paper's, unregularised);
    ``solver``/``solver_opts`` to the least-squares step only, where a first-order engine of program (12)
    (e.g. ``"FISTA"``) means the closed form. ``C0`` ``(q, n₀)`` warm-starts the logistic step.
    """
    if loss == "cross_entropy":
        return whitened_logistic(X, Y, ridge, C0)
    first_order = isinstance(solver, str) and is_engine(solver.upper())
    return solve_least_squares(X, Y, solver="auto" if first_order else solver,
                               solver_opts=None if first_order else solver_opts)


def whitened_logistic(X: np.ndarray, Y: np.ndarray, ridge: float, C0=None):
    """The cross-entropy output step: ridge multinomial logistic regression on the whitened states.

    With ``G = X Xᵀ/m = V Λ Vᵀ`` (eigenvalues below :data:`WHITEN_RCOND` ``· max`` dropped: dead or
    duplicate states) and ``T = V Λ^{-1/2}``, solve ``min_{C̃} Σ_i ℓ(C̃ x̃_i; y_i) + (r/2)‖C̃‖²`` on
    ``x̃_i = Tᵀ x_i`` and return ``C = C̃ Tᵀ`` (the same logits ``C X = C̃ X̃``). The ridge acts on
    the whitened coefficients, which makes the program well conditioned (≈ 10× fewer L-BFGS
    iterations than on raw ReLU states, measured on MNIST); its certificate
    (:func:`~cvximplicit.solvers.solve_multinomial_logistic`) is for this program.
    ``C0`` ``(q, n₀)``, ``n₀ ≤ n``, warm-starts the first ``n₀`` columns.
    """
    n, m = X.shape
    evals, evecs = np.linalg.eigh(X @ X.T / m)
    keep = evals > WHITEN_RCOND * max(float(evals[-1]), 1e-300)
    T = evecs[:, keep] / np.sqrt(evals[keep])
    start = None
    if C0 is not None and C0.shape[1] <= n:  # earlier blocks' columns, zeros after
        full = np.hstack([C0, np.zeros((Y.shape[0], n - C0.shape[1]))])
        start = full @ evecs[:, keep] * np.sqrt(evals[keep])
    C_white, report = solve_multinomial_logistic((T.T @ X).T, Y.T, ridge=ridge, C0=start)
    return C_white @ T.T, report
