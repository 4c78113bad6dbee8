"""The smooth losses of the first-order engine for program (12) (squared, cross-entropy) and their certificates.

A loss object holds the float64 program (:class:`~cvximplicit.solvers.relu.program.ReluProgram`
or :class:`~cvximplicit.solvers.cross_entropy.certificate_ce.CEReluProgram`: objective, violation,
rigorous dual bound) and the working-precision pieces the engine iterates with, all in
terms of the fit ``F = Σ_k D_k M (V_k − W_k)`` ``(m, q)``:

- ``lam_value(F)``: ``λ = −∇_F loss`` and the loss value. Squared: ``λ = Y − F``,
  ``½‖λ‖²``. Cross-entropy: ``λ = Y − softmax(Z0 + F)``, ``Σ_i ℓ(Z0_i + F_i; y_i)``.
- ``curvature``: a bound on the loss Hessian in ``F`` per row: 1 (squared), ½ (cross-entropy:
  the softmax Jacobian ``diag(p) − ppᵀ`` has largest eigenvalue ≤ ½: for any ``u``,
  ``uᵀ(diag p − ppᵀ)u = Var_p(u) ≤ (max u − min u)²/4 ≤ ‖u‖²/2``).
- ``cheap_bound(λ, ρ_c, β)``: the dual bound from the gradient's group norms ``ρ``
  (working precision, for stopping decisions only); ``track_bound``: also certify (float64)
  whenever it closes 10% of the gap to the best certified bound (cross-entropy: its single
  scaling ``t`` makes it fluctuate between iterates).

:func:`polish_multipliers` lowers the dual-constraint values of any ``λ`` (both losses
share the constraints).
"""

from __future__ import annotations

import numpy as np

from ..._params import Options, check_params
from ..cross_entropy.certificate_ce import CEReluProgram, as_offset, as_simplex_targets, best_scaling, cross_entropy
from ..relu.certificate import dual_constraint_values, scaled_bound
from ..relu.program import ReluProgram
from .groups import SIGNS, fit_operator_norm2
from .iterations import fista_theta, power_iteration

__all__ = ["LOSSES", "SquaredLoss", "CrossEntropyLoss", "check_loss", "make_loss", "polish_multipliers",
           "power_lambda_max"]

#: The losses of the first-order engine (its ``loss`` option).
LOSSES = ("squared", "cross_entropy")

#: Projected-gradient steps of one multiplier polish (a few dozen bring ``t`` close to 1 on an inexact inner solve).
_POLISH_STEPS = 50
#: Groups whose multipliers are polished, the worst first.
_POLISH_MAX_GROUPS = 64
#: Multiply-adds one polish may spend (its steps are cut at large ``m·d``).
_POLISH_MAX_FLOPS = 5e9
#: Power iterations of the step sizes.
_POWER_ITERS = 20


class SquaredLoss:
    """``½‖F − Y‖²`` (program (12) as written; an offset ``Z0`` is folded into ``Y − Z0``)."""

    name = "squared"
    problem = "convex_relu"
    curvature = 1.0
    track_bound = False  # certify only when the cheap gap meets tol

    def __init__(self, M, Y, patterns, beta, dtype):
        self.program = ReluProgram(M, Y, patterns, beta)
        self.Y = np.ascontiguousarray(Y, dtype=dtype)

    def lam_value(self, F):
        lam = self.Y - F
        return lam, 0.5 * float(np.vdot(lam, lam))

    def value(self, F) -> float:
        r = F - self.Y
        return 0.5 * float(np.vdot(r, r))

    def check_value(self, F) -> float:
        r = F - self.Y
        return 0.5 * float(np.sum(r * r))

    def cheap_bound(self, lam, rho_c, beta: float) -> float:
        lin = np.einsum("mq,mq->q", lam, self.Y).astype(np.float64)
        quad = np.einsum("mq,mq->q", lam, lam).astype(np.float64)
        return float(scaled_bound(lin, quad, rho_c.astype(np.float64), beta)[0].sum())

    def residual(self, V, W):
        return self.program.Y - self.program.fit(V - W)

    def zero_objective(self) -> float:
        return 0.5 * float(np.sum(self.program.Y * self.program.Y))


class CrossEntropyLoss:
    """``Σ_i logsumexp(Z0_i + F_i) − y_iᵀ(Z0_i + F_i)`` (rows of ``Y`` in the simplex)."""

    name = "cross_entropy"
    problem = "convex_relu_ce"
    curvature = 0.5
    track_bound = True  # also certify when the cheap bound closes 10% of the gap to the best certified one

    def __init__(self, M, Y, patterns, beta, Z0, dtype):
        self.program = CEReluProgram(M, Y, patterns, beta, Z0)
        self.Y = np.ascontiguousarray(Y, dtype=dtype)
        self.Z0 = np.ascontiguousarray(Z0, dtype=dtype)

    def lam_value(self, F):
        Z = self.Z0 + F
        zmax = Z.max(axis=1, keepdims=True)
        E = np.exp(Z - zmax)
        s = E.sum(axis=1, keepdims=True)
        value = float(np.sum(zmax) + np.sum(np.log(s)) - np.vdot(self.Y, Z))
        return self.Y - E / s, value

    def value(self, F) -> float:
        return cross_entropy(self.Z0 + F, self.Y)

    check_value = value

    def cheap_bound(self, lam, rho_c, beta: float) -> float:
        rho = float(np.max(rho_c))
        T = 1.0 if rho <= beta else beta / rho
        return best_scaling(lam, self.Y, float(np.vdot(lam, self.Z0)), 0.0, T)[0]

    def residual(self, V, W):
        return self.program.residual(V, W)

    def zero_objective(self) -> float:
        return self.program.zero_objective()


def check_loss(loss, Y, offset):
    """``loss`` one of :data:`LOSSES`; ``(Y, offset)`` validated for it (cross-entropy: ``Y`` rows in the simplex)."""
    check_params("FISTA", {"loss": loss}, {"loss": [Options(LOSSES)]})
    if loss == "cross_entropy":
        Y = as_simplex_targets(Y, Y.shape[0])
    return Y, as_offset(offset, Y.shape)


def make_loss(name: str, M, Y, patterns, beta: float, offset, dtype):
    """The loss object ``name`` (one of :data:`LOSSES`) on validated float64 data; ``offset`` ``(m, q)`` or None."""
    if name == "squared":
        return SquaredLoss(M, Y if offset is None else Y - offset, patterns, beta, dtype)
    return CrossEntropyLoss(M, Y, patterns, beta, np.zeros(Y.shape) if offset is None else offset, dtype)


def polish_multipliers(M, patterns, beta, lam, mu, norm_m2, n_steps=_POLISH_STEPS):
    """Lower the dual-constraint values of the groups with ``ρ_{k,c,s} > β`` by adjusting their ``μ ≥ 0``.

    For each such group, a few projected-gradient (FISTA) steps on
    ``½‖Mᵀ(s D_k λ_c + (2D_k − I) μ)‖²`` over ``μ ≥ 0`` (step ``1/‖M‖₂²``), in place on ``mu`` ``(2, P, m, q)``.
    Any ``μ ≥ 0`` keeps the dual bounds valid; this only brings the scaling ``t`` closer to 1 when the inner solve
    was inexact.
    """
    rho_v, rho_w = dual_constraint_values(M, patterns, lam, mu[0], mu[1])
    cols = [(0, k, c) for k, c in zip(*np.nonzero(rho_v > beta))]
    cols += [(1, k, c) for k, c in zip(*np.nonzero(rho_w > beta))]
    if not cols or n_steps <= 0:
        return
    cols = cols[:_POLISH_MAX_GROUPS]
    m, d = M.shape
    n_steps = min(n_steps, int(_POLISH_MAX_FLOPS // (4 * m * d * len(cols))))  # bounded cost at large m·d
    if n_steps <= 0:
        return
    sgn = SIGNS[[s for s, _, _ in cols]]
    ks = np.array([k for _, k, _ in cols])
    cs = np.array([c for _, _, c in cols])
    Dm = patterns[:, ks].astype(float)  # (m, n)
    S = 2.0 * Dm - 1.0
    A = Dm * lam[:, cs] * sgn  # s D_k λ_c
    Mu = np.stack([mu[s, k, :, c] for s, k, c in cols], axis=1)  # (m, n)
    step = 1.0 / norm_m2
    Z, theta = Mu.copy(), 1.0
    for _ in range(n_steps):
        G = S * (M @ (M.T @ (A + S * Z)))
        Mu_new = np.maximum(Z - step * G, 0.0)
        theta_new = fista_theta(theta)
        Z = Mu_new + ((theta - 1.0) / theta_new) * (Mu_new - Mu)
        Mu, theta = Mu_new, theta_new
    for j, (s, k, c) in enumerate(cols):
        mu[s, k, :, c] = Mu[:, j]


def power_lambda_max(M, Dm, n_iter: int = _POWER_ITERS, seed: int = 0) -> tuple[float, float]:
    """``(λ_max(AᵀA), ‖M‖₂²)`` by power iteration, ``A z = Σ_k D_k M z_k`` for ``z`` ``(d, P)``.

    The fit's gradient in ``(V, W)`` is Lipschitz with constant ``2 κ λ_max(AᵀA)`` (``κ`` the loss's ``curvature``).
    """
    rng = np.random.default_rng(seed)
    lam_a = fit_operator_norm2(M, Dm, rng, n_iter)
    lam_m = power_iteration(lambda u: M.T @ (M @ u), rng.standard_normal(M.shape[1]).astype(M.dtype), n_iter)
    return lam_a, lam_m
