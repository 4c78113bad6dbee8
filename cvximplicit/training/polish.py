"""The polish step of a block: a local refit of the new neurons on every sample (not part of any certificate).

The convex step (12) of Algorithm 2 is posed on a reduced program (a subset of rows,
principal directions, residual directions, sampled patterns) and the block keeps ``n_i``
of its neurons. The polish step then improves those neurons on the block's *actual*
training objective (7): with the block input ``Ũ = [X_1; …; X_{i-1}; U]`` (``d × m``)
and the frozen states ``X_{<i}``, it runs L-BFGS on

.. math::

    \\min_{W, C}\\; \\frac{1}{m}\\,\\mathcal{L}\\Big(Y,\\; C \\begin{bmatrix} X_{<i} \\\\ (W \\tilde U)_+ \\end{bmatrix}\\Big),

starting from the convex step's neurons ``W`` (``n_i × d``) and the current output
blocks ``C``, where ``L`` is the block loss: squared (8) or softmax cross-entropy (9). This
is a non-convex local descent: it certifies nothing, and the block's report lists it as
``polish`` next to the convex step's certificate (which refers to the convex program,
before the polish). Callers re-fit ``C`` by the certified output step afterwards, so only
``W`` is kept from here. Cost per iteration: two products with ``Ũ`` of ``n_i`` rows,
``O(n_i · d · m)``, in float32 (a copy of ``Ũ``: ``4 d m`` bytes); memory ``O((n + q) · m)`` besides.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize

from .._params import Int, Options, check_params
from ..solvers.core._threads import one_blas_thread
from .block import LOSSES

__all__ = ["PolishResult", "polish_block"]


class PolishResult(NamedTuple):
    """The polished input weights and what the polish did."""

    W1: np.ndarray
    C: np.ndarray
    loss_before: float
    loss_after: float
    iterations: int
    time_s: float

    def summary(self) -> dict:
        """JSON-ready record for the block history."""
        return {"step": "polish", "iterations": int(self.iterations), "loss_before": float(self.loss_before),
                "loss_after": float(self.loss_after), "time_s": float(self.time_s), "certified": False}


def _loss_and_grad(Z: np.ndarray, Y: np.ndarray, loss: str) -> tuple[float, np.ndarray]:
    """Mean block loss of logits/predictions ``Z`` ``(q, m)`` and its gradient in ``Z``."""
    m = Y.shape[1]
    if loss == "squared":
        R = Z - Y
        return float(np.sum(R * R) / m), (2.0 / m) * R
    Zs = Z - Z.max(axis=0)
    E = np.exp(Zs)
    S = E.sum(axis=0)
    value = float(np.sum(np.log(S)) - np.vdot(Y, Zs)) / m
    E /= S
    E -= Y
    E /= m
    return value, E


def polish_block(features, X_prev, Y, W1, C, *, loss: str = "squared", max_iter: int = 60) -> PolishResult:
    """L-BFGS on the block objective over the new neurons ``W1`` and the output blocks ``C`` (see module docs).

    Parameters
    ----------
    features : ndarray, shape (d, m)
        The block input ``[X_1; …; X_{i-1}; U]`` (columns are samples).
    X_prev : ndarray, shape (n_prev, m)
        The frozen earlier states.
    Y : ndarray, shape (q, m)
        Targets.
    W1 : ndarray, shape (n_i, d)
        The convex step's neurons (the starting point).
    C : ndarray, shape (q, n_prev + n_i)
        Output blocks ``[C_1 … C_i]`` to start from.
    loss : {"squared", "cross_entropy"}
    max_iter : int
        L-BFGS iterations (0 returns the inputs unchanged).
    """
    check_params("polish_block", {"loss": loss, "max_iter": max_iter}, {"loss": [Options(LOSSES)], "max_iter": [Int(0)]})
    start = time.perf_counter()
    n_i, d = W1.shape
    q = Y.shape[0]

    def unpack(theta):
        return theta[: n_i * d].reshape(n_i, d), theta[n_i * d:].reshape(q, -1)

    n_prev = X_prev.shape[0]
    # The two products with the block input stream it from memory at every evaluation (384 MB on MNIST): in
    # float32 they stream half as much. L-BFGS needs no more than float32's 1e-7 relative accuracy here, and the
    # certified output step refits C in float64 afterwards.
    Uf = np.asarray(features, dtype=np.float32)

    def objective(theta, exact=False):  # exact: the products in float64 (the loss values reported and compared)
        W, Cc = unpack(theta)
        H = W @ features if exact else (W.astype(np.float32) @ Uf).astype(float)
        Xn = np.maximum(H, 0.0)
        value, G = _loss_and_grad(Cc[:, :n_prev] @ X_prev + Cc[:, n_prev:] @ Xn, Y, loss)
        dH = (Cc[:, n_prev:].T @ G) * (H > 0)
        dW = (dH.astype(np.float32) @ Uf.T).astype(float)
        return value, np.concatenate([dW.ravel(), np.hstack([G @ X_prev.T, G @ Xn.T]).ravel()])

    theta0 = np.concatenate([np.asarray(W1, dtype=float).ravel(), np.asarray(C, dtype=float).ravel()])
    before = objective(theta0, exact=True)[0]
    if max_iter <= 0:
        return PolishResult(np.array(W1, dtype=float), np.array(C, dtype=float), before, before, 0,
                            time.perf_counter() - start)
    with one_blas_thread():  # products with n_i rows: two BLAS threads made the MNIST polish 1.8x slower
        result = minimize(objective, theta0, jac=True, method="L-BFGS-B", options={"maxiter": int(max_iter)})
    after = objective(result.x, exact=True)[0]
    theta = result.x if after <= before else theta0  # never return a worse point
    W, Cc = unpack(theta)
    return PolishResult(W, Cc, before, min(after, before), int(result.nit), time.perf_counter() - start)
