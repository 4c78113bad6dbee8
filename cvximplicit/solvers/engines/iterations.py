"""The iterations every engine builds on, written once: power iteration, backtracking, restarted FISTA's step.

- :func:`power_iteration` — ``λ_max`` of a symmetric positive semi-definite operator (the step sizes of FISTA and
  the penalties of ADMM);
- :func:`backtrack` with :func:`armijo` — halve a step until it is accepted (Armijo: sufficient decrease);
- :func:`prox_step` and :func:`momentum` — one step of FISTA with a backtracked ``1/L`` and the momentum with
  gradient restart (O'Donoghue & Candès): ``y ← x⁺ + w (x⁺ − x)``, or ``y ← x⁺`` when ``⟨y − x⁺, x⁺ − x⟩ > 0``.

Scalars stay Python floats (a ``np.float64`` momentum would promote float32 iterates).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

__all__ = ["ARMIJO_C", "MIN_STEP", "TINY", "armijo", "backtrack", "fista_theta", "momentum", "power_iteration",
           "prox_step"]

TINY = 1e-300  # guards a division by a norm that may be zero (far below any norm the engines meet)
ARMIJO_C = 1e-4  # Armijo's sufficient-decrease fraction, the textbook value (Nocedal & Wright, ch. 3)
MIN_STEP = 1e-12  # the shortest step a backtrack tries: below it float64 resolves no decrease


def power_iteration(apply: Callable, v, n_iter: int) -> float:
    """``‖A v_n‖`` after ``n_iter`` steps ``v ← A v/‖v‖`` from ``v``: ``λ_max(A)`` for ``A`` symmetric PSD.

    ``apply(v)`` computes ``A v``; ``v`` keeps its shape and dtype. Returns 0 when ``A v`` vanishes.
    """
    lam = 0.0
    for _ in range(n_iter):
        v = v / max(float(np.linalg.norm(v)), TINY)
        v = apply(v)
        lam = float(np.linalg.norm(v))
    return lam


def armijo(f0: float, slope: float, c: float = ARMIJO_C) -> Callable[[float, float], bool]:
    """The Armijo test of a step ``α`` along a descent direction: ``f(α) ≤ f0 + c α slope`` (``slope < 0``)."""
    return lambda alpha, f: f <= f0 + c * alpha * slope


def backtrack(value: Callable[[float], float], alpha: float, accept: Callable[[float, float], bool], *,
              min_step: float = MIN_STEP) -> tuple[float, float | None]:
    """Halve ``α`` from ``alpha`` until ``accept(α, value(α))``: returns ``(α, value(α))``.

    When ``α`` falls below ``min_step`` first, returns ``(α, None)`` (no accepted step; ``value`` not evaluated there).
    """
    while True:
        f = value(alpha)
        if accept(alpha, f):
            return alpha, f
        alpha *= 0.5
        if alpha < min_step:
            return alpha, None


def prox_step(prox: Callable, L: float, sufficient: Callable, L_max: float = math.inf):
    """A proximal gradient step at the first ``L`` in ``L, 2L, 4L, …`` (capped at ``L_max``) that passes the test.

    ``prox(L)`` is the point ``prox_{h/L}(y − ∇f(y)/L)`` (with whatever the caller computes beside it);
    ``sufficient(point, L)`` is the caller's test that ``1/L`` was short enough. At ``L_max`` (a global Lipschitz
    bound) the step is taken untested. Returns ``(point, L)``.
    """
    while True:
        point = prox(L)
        if L >= L_max or sufficient(point, L):
            return point, L
        L = min(L_max, 2.0 * L)


def fista_theta(theta: float) -> float:
    """FISTA's momentum sequence ``θ⁺ = (1 + √(1 + 4θ²))/2`` (Beck & Teboulle)."""
    return 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * theta * theta))


def momentum(theta: float, y, x_new, x_old) -> tuple[float, float | None]:
    """FISTA's next ``θ`` and extrapolation weight ``w`` (``y ← x⁺ + w (x⁺ − x)``) after the step ``y → x⁺``.

    At a gradient restart (``⟨y − x⁺, x⁺ − x⟩ > 0``: the step went against the momentum) returns ``(1, None)``:
    then ``y ← x⁺``.
    """
    theta_new = fista_theta(theta)
    if float(np.vdot(y - x_new, x_new - x_old)) > 0.0:
        return 1.0, None
    return theta_new, (theta - 1.0) / theta_new
