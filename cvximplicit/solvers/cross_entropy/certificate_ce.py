"""The cross-entropy (softmax) version of program (12): objective and its dual certificate.

Orientation as in :mod:`cvximplicit.solvers.relu.certificate`: ``M`` ``(m, d)`` rows are
samples (bias column included), ``Y`` ``(m, q)`` rows in the probability simplex
(one-hot labels), ``Z0`` ``(m, q)`` a fixed logit offset (the earlier blocks' logits),
``patterns`` ``(m, P)`` bool, ``V, W`` ``(P, d, q)`` one group per pattern and output logit.
Per row ``ℓ(z; y) = logsumexp(z) − yᵀz``; the loss is the **sum** over rows.

.. math::

    p^\\star = \\min_{V,W}\\; \\sum_i
    \\ell\\Big(Z_{0,i} + \\big(\\textstyle\\sum_k D_k M (V_k - W_k)\\big)_i;\\, y_i\\Big)
    + \\beta \\sum_{k,c} \\big(\\|V_{k,:,c}\\|_2 + \\|W_{k,:,c}\\|_2\\big)
    \\quad \\text{s.t. } (2D_k - I) M V_{k,:,c} \\ge 0,\\; (2D_k - I) M W_{k,:,c} \\ge 0.

**Dual bound.** ``ℓ(z; y) = max_{p∈Δ} (p − y)ᵀz + H(p)`` (``H`` the entropy, the conjugate
of logsumexp on the simplex). With ``λ_i = y_i − p_i`` (so ``y_i − λ_i ∈ Δ``; at a point,
``λ = Y − softmax(Z)``, the negative gradient, as the residual is for the squared loss)
and ``μ ≥ 0`` for the cones, the Lagrangian is
``Σ_i [H(y_i − λ_i) − λ_iᵀ(Z0_i + F(V, W)_i)] + β Σ‖groups‖ − Σ μᵀ(2D_k − I) M z``. Its
minimum over a group ``V_{k,:,c}`` is 0 when
``ρ_{k,c,+} = ‖Mᵀ D_k λ_c + Mᵀ(2D_k − I) μ⁺_{k,c}‖ ≤ β`` and −∞ otherwise (``W``: ``−λ_c``),
the **same** dual constraints as the squared program
(:func:`~cvximplicit.solvers.relu.certificate.dual_constraint_values`), and then

.. math::

    g(\\lambda) = \\sum_i \\big[H(y_i - \\lambda_i) - \\lambda_i^\\top Z_{0,i}\\big] \\le p^\\star .

Any ``(λ, μ)`` is made feasible by one common factor ``t ∈ [0, T]``, ``T = min(1, β/ρ)``
(``ρ`` the largest ``ρ_{k,c,s}``): the dual constraints scale by ``t``, and ``t ≤ 1`` keeps
``y − tλ = (1 − t) y + t (y − λ)`` in the simplex. The outputs are coupled by the
softmax, so there is one ``t``, and the bound is ``max_{t∈[0,T]} g(tλ)`` (concave in ``t``;
found by a safeguarded Newton search on ``g'``). At an optimum, ``λ = Y − softmax(Z*)``
with the optimal ``μ`` gives ``ρ ≤ β``, ``t = 1`` and ``g = p*``.

The zero network is optimal for every ``β ≥ β_max = max_{k,c} ‖Mᵀ D_k λ⁰_c‖``,
``λ⁰ = Y − softmax(Z0)`` (at ``V = W = 0`` and ``μ = 0`` the pair is dual feasible and
``g(λ⁰) = Σ ℓ(Z0_i; y_i)`` by Fenchel equality: a zero gap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...exceptions import ValidationError
from ..core._checks import (
    _as_beta,
    _as_groups,
    _as_matrix,
    _as_multiplier,
    _as_patterns,
    _as_targets,
)
from ..relu import certificate as _cert
from ..relu.program import ReluProgram, max_group_score

__all__ = [
    "softmax",
    "cross_entropy",
    "entropy_sum",
    "best_scaling",
    "as_simplex_targets",
    "as_offset",
    "ce_objective",
    "ce_dual_bound",
    "ce_beta_max",
    "ce_network_objective",
    "CEReluProgram",
    "SIMPLEX_TOL",
]

#: Rows of ``Y`` must be ``≥ −SIMPLEX_TOL`` entrywise and sum to ``1 ± SIMPLEX_TOL``;
#: accepted rows are clipped at 0 and renormalised.
SIMPLEX_TOL = 1e-9


# --------------------------------------------------------------------------- row primitives
def _lse(Z):
    """Row-wise ``logsumexp``, shape ``(m,)`` (shifted by the row maximum)."""
    zmax = Z.max(axis=1)
    return zmax + np.log(np.exp(Z - zmax[:, None]).sum(axis=1))


def softmax(Z):
    """Row-wise softmax of ``Z`` ``(m, q)`` (in ``Z``'s dtype)."""
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def cross_entropy(Z, Y) -> float:
    """``Σ_i logsumexp(Z_i) − y_iᵀ Z_i`` (rows of ``Y`` in the simplex)."""
    return float(np.sum(_lse(Z)) - np.vdot(Y, Z))


def entropy_sum(Pr) -> float:
    """``Σ_{i,c} −P_ic log P_ic`` with ``0 log 0 = 0`` (entries clipped at 0)."""
    Pr = np.maximum(Pr, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(Pr > 0.0, Pr * np.log(Pr), 0.0)
    return float(-t.sum())


def best_scaling(lam, Y, lin: float, quad: float, T: float, iters: int = 60) -> tuple[float, float]:
    """``max_{0≤t≤T} h(t)``, ``h(t) = H(Y − tλ) − t·lin − ½t²·quad``, and its maximiser ``(value, t)``.

    ``H(Y − tλ) = Σ entropy`` of the rows (``Y`` and ``Y − λ`` rows in the simplex, ``T ≤ 1``).
    ``h`` is concave: ``t = T`` when ``h'(T) ≥ 0``, else a safeguarded Newton/bisection search
    on ``h'(t) = Σ λ (log(Y − tλ) + 1) − lin − t·quad``. Any ``t`` in ``[0, T]`` gives a
    valid bound; the search only makes it tight. Computed in float64.
    """
    lam = np.asarray(lam, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    nz = lam != 0.0
    lz, yz = lam[nz], Y[nz]  # entries with λ = 0 contribute a constant to h and nothing to h'

    def h(t):
        return entropy_sum(Y - t * lam) - t * lin - 0.5 * t * t * quad

    def dh(t):
        u = yz - t * lz
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log(np.maximum(u, 0.0))
        d1 = float(np.sum(lz * logs)) + float(lz.sum()) - lin - t * quad
        with np.errstate(divide="ignore", invalid="ignore"):
            d2 = -float(np.sum(lz * lz / np.maximum(u, 0.0))) - quad
        return (d1 if math.isfinite(d1) else (-math.inf if np.any(lz[u <= 0.0] > 0) else math.inf)), d2

    if T <= 0.0:
        return h(0.0), 0.0
    if lz.size == 0:  # h is the concave quadratic −t·lin − ½t²·quad
        t = min(max(-lin / quad, 0.0), T) if quad > 0.0 else (T if lin < 0.0 else 0.0)
        return h(t), t
    if dh(T)[0] >= 0.0:
        return h(T), T
    if dh(0.0)[0] <= 0.0:
        return h(0.0), 0.0
    lo, hi, t = 0.0, T, 0.5 * T
    for _ in range(iters):
        g, g2 = dh(t)
        if g > 0.0:
            lo = t
        else:
            hi = t
        if hi - lo <= 1e-13 * T or g == 0.0:
            break
        step = t - g / g2 if (math.isfinite(g2) and g2 < 0.0 and math.isfinite(g)) else math.nan
        t = step if lo < step < hi else 0.5 * (lo + hi)
    return max((h(t), t), (h(lo), lo))


# --------------------------------------------------------------------------- validation
def as_simplex_targets(Y, m: int, name: str = "Y") -> np.ndarray:
    """``Y`` ``(m, q)`` float64 with rows in the probability simplex (``q ≥ 2``), or :class:`ValidationError`.

    Rows within :data:`SIMPLEX_TOL` of the simplex are clipped at 0 and renormalised.
    """
    Y = _as_targets(Y, m, name).astype(float)
    if Y.shape[1] < 2:
        raise ValidationError(f"{name} must have q >= 2 columns (classes) for the cross-entropy loss; "
                              f"got shape {Y.shape}")
    sums = Y.sum(axis=1)
    bad = np.nonzero((Y.min(axis=1) < -SIMPLEX_TOL) | (np.abs(sums - 1.0) > SIMPLEX_TOL))[0]
    if bad.size:
        i = int(bad[0])
        raise ValidationError(
            f"the rows of {name} must lie in the probability simplex (entries >= 0 summing to 1, e.g. one-hot "
            f"labels) for the cross-entropy loss; {bad.size} row(s) do not, e.g. row {i} = {Y[i, :6].tolist()} "
            f"(sum {sums[i]:.6g})"
        )
    Y = np.maximum(Y, 0.0)
    return Y / Y.sum(axis=1, keepdims=True)


def as_offset(offset, shape: tuple[int, int], name: str = "offset") -> np.ndarray | None:
    """``None`` or a finite float64 array of ``shape`` (the fixed logits ``Z0``)."""
    if offset is None:
        return None
    Z0 = np.asarray(offset)
    if Z0.dtype.kind not in "iuf":
        raise ValidationError(f"{name} must be a real numeric array; got dtype {Z0.dtype}")
    if Z0.shape != tuple(shape):
        raise ValidationError(f"{name} must have shape (m, q) = {tuple(shape)} (rows are samples); got shape "
                              f"{Z0.shape}")
    if not np.all(np.isfinite(Z0)):
        raise ValidationError(f"{name} must be finite; got NaN or inf entries")
    return Z0.astype(float)


def _ce_data(M, Y, patterns, beta, offset):
    M = _as_matrix(M).astype(float, copy=False)
    Y = as_simplex_targets(Y, M.shape[0])
    Z0 = as_offset(offset, Y.shape)
    return M, Y, _as_patterns(patterns, M.shape[0]), _as_beta(beta), (np.zeros(Y.shape) if Z0 is None else Z0)


# --------------------------------------------------------------------------- the program
@dataclass(frozen=True, eq=False)
class CEReluProgram:
    """The data of the cross-entropy program: ``M``, simplex ``Y``, ``patterns``, ``β``, offset ``Z0`` (float64).

    The same interface as :class:`~cvximplicit.solvers.relu.program.ReluProgram` (``fit``,
    ``objective``, ``violation``, ``bound``, ``network_objective``, ``beta_max``,
    ``scale``). Build it with :meth:`from_data` (validates); the constructor trusts its arguments.
    """

    M: np.ndarray
    Y: np.ndarray
    patterns: np.ndarray
    beta: float
    Z0: np.ndarray

    @classmethod
    def from_data(cls, M, Y, patterns, beta, offset=None) -> CEReluProgram:
        return cls(*_ce_data(M, Y, patterns, beta, offset))

    # ``(m, d, P, q)`` and ``‖Y‖_F / ‖M‖_F`` as for program (12) (shared code, not a subclass: a
    # CEReluProgram must never be taken for the squared program by an engine)
    shape = property(ReluProgram.shape.fget)
    scale = property(ReluProgram.scale.fget)

    def fit(self, Z):
        return _cert.pattern_fit(self.M, self.patterns, Z)

    def loss(self, F) -> float:
        """``Σ_i ℓ(Z0_i + F_i; y_i)`` of a fit ``F`` ``(m, q)``."""
        return cross_entropy(self.Z0 + F, self.Y)

    def zero_objective(self) -> float:
        """The objective of the zero network, ``Σ_i ℓ(Z0_i; y_i)``."""
        return cross_entropy(self.Z0, self.Y)

    def objective(self, V, W) -> float:
        reg = float(np.linalg.norm(V, axis=1).sum()) + float(np.linalg.norm(W, axis=1).sum())
        return self.loss(self.fit(V - W)) + self.beta * reg

    def violation(self, V, W) -> float:
        return _cert.violation_kernel(self.M, self.patterns, V, W, self.scale)

    def residual(self, V, W) -> np.ndarray:
        """``λ = Y − softmax(Z0 + fit)``, the dual point of ``(V, W)``."""
        return self.Y - softmax(self.Z0 + self.fit(V - W))

    def bound(self, lam, mu_pos=None, mu_neg=None) -> tuple[float, dict]:
        """``max_{0≤t≤min(1, β/ρ)} g(tλ)`` for ``λ`` with ``Y − λ`` rows in the simplex and ``μ ≥ 0`` (float64)."""
        lam = np.asarray(lam, dtype=float)
        rho_v, rho_w = _cert.dual_constraint_values(self.M, self.patterns, lam, mu_pos, mu_neg)
        rho = max(float(rho_v.max()), float(rho_w.max()))
        T = 1.0 if rho <= self.beta else self.beta / rho
        lin = float(np.vdot(lam, self.Z0))
        b, t = best_scaling(lam, self.Y, lin, 0.0, T)
        details = {"rho": rho, "t": t, "feasible": rho <= self.beta,
                   "dual_objective_unscaled": entropy_sum(self.Y - lam) - lin}
        return float(b), details

    def network_objective(self, W1, W2) -> float:
        """``Σ ℓ(Z0 + relu(M W1ᵀ) W2ᵀ) + (β/2)(‖W1‖² + ‖W2‖²)``."""
        pred = np.maximum(self.M @ W1.T, 0.0) @ W2.T if W1.shape[0] else np.zeros(self.Y.shape)
        return self.loss(pred) + 0.5 * self.beta * (float(np.sum(W1**2)) + float(np.sum(W2**2)))

    def beta_max(self) -> float:
        return max_group_score(self.M, self.Y - softmax(self.Z0), self.patterns)  # the scores at λ = Y − softmax(Z0)


# --------------------------------------------------------------------------- public functions
def ce_objective(M, Y, patterns, V, W, beta, offset=None) -> float:
    """The cross-entropy program's objective at ``(V, W)`` (constraints not checked), float64.

    ``Σ_i ℓ(Z0_i + (Σ_k D_k M (V_k − W_k))_i; y_i) + β Σ_{k,c}(‖V_{k,:,c}‖ + ‖W_{k,:,c}‖)``.
    """
    prog = CEReluProgram.from_data(M, Y, patterns, beta, offset)
    _, d, P, q = prog.shape
    V = _as_groups(V, P, d, q, "V").astype(float, copy=False)
    W = _as_groups(W, P, d, q, "W").astype(float, copy=False)
    return prog.objective(V, W)


def ce_dual_bound(M, Y, patterns, beta, residual, mu_pos=None, mu_neg=None, offset=None) -> tuple[float, dict]:
    """A certified lower bound on the cross-entropy program from any ``λ`` and any ``μ ≥ 0``.

    ``bound = max_{0≤t≤min(1, β/ρ)} Σ_i [H(y_i − tλ_i) − tλ_iᵀZ0_i]`` (see the module docstring).

    Parameters
    ----------
    residual : array_like, shape (m, q)
        The dual point ``λ``; every row of ``Y − λ`` must lie in the simplex (e.g.
        ``λ = Y − softmax(Z)`` for any logits ``Z``).
    mu_pos, mu_neg : array_like, shape (P, m, q), optional
        Non-negative cone multipliers (``None``: zero).

    Returns
    -------
    bound : float
    details : dict
        ``rho``, ``t`` (the scaling used), ``feasible`` (``ρ ≤ β``), ``dual_objective_unscaled`` (``g(λ)``).

    Raises
    ------
    ValidationError
        Bad shapes, non-finite data, ``Y`` rows off the simplex, ``Y − λ`` off the simplex,
        negative multipliers, ``β ≤ 0``.
    """
    prog = CEReluProgram.from_data(M, Y, patterns, beta, offset)
    m, _, P, q = prog.shape
    lam = _as_targets(residual, m, "residual").astype(float)
    if lam.shape != prog.Y.shape:
        raise ValidationError(f"residual must have the shape of Y, {prog.Y.shape}; got shape {lam.shape}")
    as_simplex_targets(prog.Y - lam, m, "Y - residual")
    return prog.bound(lam, _as_multiplier(mu_pos, P, m, q, "mu_pos"), _as_multiplier(mu_neg, P, m, q, "mu_neg"))


def ce_beta_max(M, Y, patterns, offset=None) -> float:
    """``β_max = max_{k,c} ‖Mᵀ D_k λ⁰_c‖₂``, ``λ⁰ = Y − softmax(Z0)``: for ``β ≥ β_max`` the zero network is optimal."""
    return CEReluProgram.from_data(M, Y, patterns, 1.0, offset).beta_max()


def ce_network_objective(M, Y, W1, W2, beta, offset=None) -> float:
    """``Σ_i ℓ(Z0_i + (relu(M W1ᵀ) W2ᵀ)_i; y_i) + (β/2)(‖W1‖² + ‖W2‖²)``, ``W1`` ``(k, d)``, ``W2`` ``(q, k)``."""
    M = _as_matrix(M).astype(float, copy=False)
    Y = as_simplex_targets(Y, M.shape[0])
    Z0 = as_offset(offset, Y.shape)
    W1 = np.asarray(W1, dtype=float)
    W2 = np.asarray(W2, dtype=float)
    if W1.ndim != 2 or W1.shape[1] != M.shape[1] or W2.shape != (Y.shape[1], W1.shape[0]):
        raise ValidationError(f"W1 must be (k, d = {M.shape[1]}) and W2 (q = {Y.shape[1]}, k); got {W1.shape}, "
                              f"{W2.shape}")
    prog = CEReluProgram(M, Y, np.ones((M.shape[0], 1), bool), _as_beta(beta),
                         np.zeros(Y.shape) if Z0 is None else Z0)
    return prog.network_objective(W1, W2)
