"""Objectives, constraint violation and the dual certificate of the Ergen–Pilanci program (12).

The judge of every solve of program (12) (:mod:`cvximplicit.solvers.relu.convex_relu` and every engine of
:mod:`cvximplicit.solvers.engines`), and the dual side the engines build on: the scores ``‖Mᵀ D_k r‖``
(:func:`group_scores`) and the scaled bound (:func:`scaled_bound`).

Orientation: ``M`` is ``(m, d)`` with **rows as samples** (``M = Ũ_iᵀ``, bias
column included); ``Y`` is ``(m, q)`` (a 1-D ``y`` is ``q = 1``); ``patterns`` is an
``(m, P)`` bool array whose column ``k`` is the diagonal of ``D_k``; ``V, W`` are
``(P, d, q)``; multipliers ``mu_pos, mu_neg`` are ``(P, m, q)``.

The program (one-vs-all outputs, separable over ``c``):

.. math::

    p^\\star = \\min_{V,W}\\; \\tfrac12 \\sum_c \\Big\\|\\sum_k D_k M (V_{k,:,c} - W_{k,:,c}) - Y_{:,c}\\Big\\|^2
    + \\beta \\sum_{k,c} \\big(\\|V_{k,:,c}\\|_2 + \\|W_{k,:,c}\\|_2\\big)
    \\quad \\text{s.t. } (2D_k - I) M V_{k,:,c} \\ge 0,\\; (2D_k - I) M W_{k,:,c} \\ge 0.

**Dual bound.** Writing ``½‖r‖² = max_λ λᵀ(y − z) − ½‖λ‖²`` and adding
``−μᵀ(2D_k − I) M z_k`` (``μ ≥ 0``) for every cone constraint, minimising the
Lagrangian over each group ``z_k`` is finite (and zero) iff

.. math::

    \\rho_{k,c,s} = \\big\\| M^\\top D_k (s\\,\\lambda_c) + M^\\top (2D_k - I)\\, \\mu^{s}_{k,c} \\big\\|_2 \\le \\beta,
    \\qquad s \\in \\{+1\\ (V), -1\\ (W)\\},

and then ``g(λ) = Σ_c (λ_cᵀ Y_{:,c} − ½‖λ_c‖²) ≤ p*`` (weak duality). Any
``(λ, μ)`` becomes feasible by scaling both by ``t ≥ 0`` (the left-hand side
scales exactly by ``t``). Because the program separates over outputs, each output
gets its own factor ``t_c = clip(λ_cᵀY_c / ‖λ_c‖², 0, β/ρ_c)`` (the maximiser of the
concave quadratic ``g_c(tλ_c)`` on the feasible interval ``[0, β/ρ_c]``), and the
bound is ``Σ_c g_c(t_c λ_c)``. This is at least as large as the single-``t`` rule
``clip(ΣλᵀY/Σ‖λ‖², 0, min(1, β/ρ))`` and equally rigorous. It is a valid lower bound
for **any** ``λ`` and **any** ``μ ≥ 0`` (negative entries of ``μ`` are rejected).

With *all* hyperplane arrangements of ``M`` the program equals, output by output,
the global optimum of the weight-decayed two-layer ReLU network (Pilanci & Ergen
2020): for a scalar output the bound certifies that nonconvex problem globally
(``"global"``); for ``q > 1`` only for networks whose neurons each feed one output
(``"global_one_vs_all"``); with sampled patterns, or on a reduced ``M``/``Y``, it
certifies the program solved (``"restricted"``). The kinds are decided in
:func:`~cvximplicit.solvers.core.report.relu_certificate_kind`.

The public functions validate their arguments; the kernels (``*_kernel``, :func:`group_scores`,
:func:`scaled_bound`) trust theirs (validated float64 arrays): :class:`~cvximplicit.solvers.relu.program.ReluProgram`
and the engines call them. Multipliers ``μ`` are one array ``(2, P, m, q)`` inside the package; ``mu_pos, mu_neg``
are its halves.
"""

from __future__ import annotations

import math

import numpy as np

from ...exceptions import ValidationError
from ..core._checks import _as_beta, _as_groups, _as_matrix, _as_multiplier, _as_patterns, _as_targets, _program_data

__all__ = ["relu_network_objective", "convex_objective", "constraint_violation", "dual_bound", "pattern_fit",
           "dual_constraint_values", "group_scores", "scaled_bound", "scaled_bound_one", "objective_kernel",
           "violation_kernel", "bound_kernel", "network_objective_kernel"]

#: Work arrays of size ``m · (patterns per chunk) · q`` are kept below this many entries.
_CHUNK_ENTRIES = 4_000_000


def _chunks(m: int, P: int, q: int):
    step = max(1, _CHUNK_ENTRIES // max(1, m * q))
    for lo in range(0, P, step):
        yield lo, min(P, lo + step)


# --------------------------------------------------------------------------- objectives
def pattern_fit(M, patterns, Z) -> np.ndarray:
    """The convex model's prediction ``Σ_k D_k M Z[k, :, c]`` for every output, shape ``(m, q)``.

    ``M`` ``(m, d)`` (rows are samples), ``patterns`` ``(m, P)`` bool, ``Z`` ``(P, d, q)``
    (e.g. ``V − W``). Computed in chunks of patterns, never an ``m·P·d`` array.
    """
    m, d = M.shape
    P, _, q = Z.shape
    dtype = np.result_type(M.dtype, Z.dtype)
    out = np.zeros((m, q), dtype=dtype)
    for lo, hi in _chunks(m, P, q):
        Zc = np.ascontiguousarray(Z[lo:hi].transpose(1, 0, 2)).reshape(d, (hi - lo) * q)
        MZ = (M @ Zc).reshape(m, hi - lo, q)
        out += np.einsum("mp,mpq->mq", patterns[:, lo:hi].astype(dtype), MZ)
    return out


def relu_network_objective(M, Y, W1, W2, beta) -> float:
    """Weight-decayed objective of a two-layer ReLU network (the nonconvex problem behind (12)).

    .. math::

        \\tfrac12 \\big\\| \\mathrm{relu}(M W_1^\\top) W_2^\\top - Y \\big\\|_F^2
        + \\tfrac{\\beta}{2} \\big(\\|W_1\\|_F^2 + \\|W_2\\|_F^2\\big)

    Parameters
    ----------
    M : array_like, shape (m, d)
        Inputs, rows are samples.
    Y : array_like, shape (m, q) or (m,)
        Targets, rows are samples.
    W1 : array_like, shape (k, d)
        Input weights, one row per neuron (``k = 0`` allowed: the zero network).
    W2 : array_like, shape (q, k)
        Output weights (a 1-D ``(k,)`` is accepted when ``q = 1``).
    beta : float
        Weight decay ``β > 0``.

    Returns
    -------
    float
        The objective. For any network this is an upper bound on the global
        optimum of the nonconvex problem.

    Raises
    ------
    ValidationError
        Shapes that do not match, non-finite entries, ``β ≤ 0``.
    """
    M = _as_matrix(M).astype(float, copy=False)
    m, d = M.shape
    Y = _as_targets(Y, m).astype(float, copy=False)
    q = Y.shape[1]
    beta = _as_beta(beta)
    W1 = np.asarray(W1, dtype=float)
    if W1.ndim != 2 or W1.shape[1] != d:
        raise ValidationError(f"W1 must have shape (k, d) with d = {d}; got shape {W1.shape}")
    k = W1.shape[0]
    W2 = np.asarray(W2, dtype=float)
    if W2.ndim == 1 and q == 1:
        W2 = W2[None, :]
    if W2.shape != (q, k):
        raise ValidationError(f"W2 must have shape (q, k) = {(q, k)}; got shape {W2.shape}")
    if not (np.all(np.isfinite(W1)) and np.all(np.isfinite(W2))):
        raise ValidationError("W1 and W2 must be finite; got NaN or inf entries")
    return network_objective_kernel(M, Y, W1, W2, beta)


def network_objective_kernel(M, Y, W1, W2, beta: float) -> float:
    """:func:`relu_network_objective` on validated float64 arrays."""
    pred = np.maximum(M @ W1.T, 0.0) @ W2.T if W1.shape[0] else np.zeros(Y.shape)
    fit = 0.5 * float(np.sum((pred - Y) ** 2))
    return fit + 0.5 * beta * (float(np.sum(W1**2)) + float(np.sum(W2**2)))


def convex_objective(M, Y, patterns, V, W, beta) -> float:
    """Objective of the Ergen–Pilanci program (12) at ``(V, W)`` (constraints not checked).

    .. math::

        \\tfrac12 \\sum_c \\Big\\|\\sum_k D_k M (V_{k,:,c} - W_{k,:,c}) - Y_{:,c}\\Big\\|^2
        + \\beta \\sum_{k,c} \\big(\\|V_{k,:,c}\\|_2 + \\|W_{k,:,c}\\|_2\\big)

    Parameters
    ----------
    M : array_like, shape (m, d)
        Rows are samples.
    Y : array_like, shape (m, q) or (m,)
    patterns : ndarray of bool, shape (m, P)
        Column ``k`` is the diagonal of ``D_k``.
    V, W : array_like, shape (P, d, q) (``(P, d)`` accepted when ``q = 1``)
    beta : float
        ``β > 0``.

    Returns
    -------
    float
        Computed in float64. Equals :func:`relu_network_objective` of the decoded
        network when :func:`constraint_violation` is zero.
    """
    M, Y, patterns, beta = _program_data(M, Y, patterns, beta)
    d, q, P = M.shape[1], Y.shape[1], patterns.shape[1]
    V = _as_groups(V, P, d, q, "V").astype(float, copy=False)
    W = _as_groups(W, P, d, q, "W").astype(float, copy=False)
    return objective_kernel(M, Y, patterns, V, W, beta)


def objective_kernel(M, Y, patterns, V, W, beta: float) -> float:
    """:func:`convex_objective` on validated float64 arrays."""
    r = pattern_fit(M, patterns, V - W) - Y
    reg = float(np.linalg.norm(V, axis=1).sum()) + float(np.linalg.norm(W, axis=1).sum())
    return 0.5 * float(np.sum(r * r)) + beta * reg


def constraint_violation(M, patterns, V, W, *, group_floor: float = 0.0) -> float:
    """Largest relative violation of the cone constraints ``(2D_k − I) M z ≥ 0``.

    Over every group ``z = V[k,:,c]`` (and ``W[k,:,c]``):

    .. math::

        \\mathrm{viol} = \\frac{\\max_{k,c,i} \\big(-[(2D_k - I) M z_{k,c}]_i\\big)_+}
        {\\max_i \\|M_{i,:}\\|_2 \\; \\max(\\max_{k,c} \\|z_{k,c}\\|_2,\\ \\text{group\\_floor})},

    the worst negative part measured on the scale of the largest entry ``M z`` can
    have for the largest group (0 when all constraints hold, or all groups are 0).
    Invariant to scaling ``M`` or ``(V, W)``. Normalising by the *largest* group (not
    each group's own norm) keeps round-off-size inactive groups (``‖z‖ ≈ 1e-10``
    from an interior-point solver) from reporting O(1) violations. ``group_floor`` (e.g.
    ``‖Y‖_F/‖M‖_F``, the natural size of a group) does the same when *every* group is
    round-off, as at β ≥ β_max.
    """
    M = _as_matrix(M).astype(float, copy=False)
    m, d = M.shape
    patterns = _as_patterns(patterns, m)
    P = patterns.shape[1]
    V = np.asarray(V, dtype=float)
    q = V.shape[2] if V.ndim == 3 else 1
    V = _as_groups(V, P, d, q, "V")
    W = _as_groups(W, P, d, q, "W")
    return violation_kernel(M, patterns, V, W, group_floor)


def violation_kernel(M, patterns, V, W, group_floor: float = 0.0) -> float:
    """:func:`constraint_violation` on validated arrays."""
    m, d = M.shape
    P, q = patterns.shape[1], V.shape[2]
    row_scale = float(np.sqrt(np.max(np.sum(M * M, axis=1))))
    group_scale = max(float(np.linalg.norm(V, axis=1).max()), float(np.linalg.norm(W, axis=1).max()),
                      float(group_floor))
    if row_scale == 0.0 or group_scale == 0.0:
        return 0.0
    worst = 0.0
    sign = 2.0 * patterns.astype(float) - 1.0  # (m, P): diagonal of 2D_k − I
    for Z in (V, W):
        for lo, hi in _chunks(m, P, q):
            Zc = np.ascontiguousarray(Z[lo:hi].transpose(1, 0, 2)).reshape(d, (hi - lo) * q)
            GZ = (M @ Zc).reshape(m, hi - lo, q) * sign[:, lo:hi, None]
            worst = max(worst, float(-GZ.min()))
    return max(worst, 0.0) / (row_scale * group_scale)


# --------------------------------------------------------------------------- dual bound
def dual_constraint_values(M, patterns, residual, mu_pos=None, mu_neg=None) -> tuple[np.ndarray, np.ndarray]:
    """Left-hand sides ``ρ_{k,c,s}`` of the dual constraints, as two ``(P, q)`` arrays (``s = +1``, ``s = −1``).

    ``ρ_{k,c,s} = ‖Mᵀ D_k (s λ_c) + Mᵀ (2D_k − I) μ^s_{k,c}‖₂`` with ``λ = residual``
    ``(m, q)``; ``μ = None`` means zero. Inputs are assumed validated; computed in
    the result dtype of the inputs (pass float64 for a rigorous bound).
    """
    m, d = M.shape
    P = patterns.shape[1]
    q = residual.shape[1]
    dtype = np.result_type(M.dtype, residual.dtype)
    out = []
    for s, mu in ((1.0, mu_pos), (-1.0, mu_neg)):
        if s < 0 and mu_pos is None and mu_neg is None:
            out.append(out[0].copy())  # ‖Mᵀ D_k (−λ)‖ = ‖Mᵀ D_k λ‖
            continue
        rho = np.empty((P, q))
        for lo, hi in _chunks(m, P, q):
            D = patterns[:, lo:hi].astype(dtype)  # (m, p)
            A = D[:, :, None] * (s * residual)[:, None, :]  # (m, p, q)
            if mu is not None:
                A += (2.0 * D - 1.0)[:, :, None] * mu[lo:hi].transpose(1, 0, 2)
            rho[lo:hi] = group_scores(M, A.reshape(m, (hi - lo) * q))[1].reshape(hi - lo, q)
        out.append(rho)
    return out[0], out[1]


def group_scores(M, X) -> tuple[np.ndarray, np.ndarray]:
    """``G = Mᵀ X`` and the norms of its columns (one GEMM).

    With ``X = D ∘ r`` (column ``k`` is ``D_k r``, ``D`` the ``(m, P)`` patterns as numbers) the columns of ``G``
    are the groups' ascent directions ``Mᵀ D_k r`` and the norms their scores ``‖Mᵀ D_k r‖`` (the dual-constraint
    values at ``μ = 0``); with ``(2D_k − I) μ`` added to the columns, the dual-constraint values ``ρ``.
    """
    G = M.T @ X
    return G, np.linalg.norm(G, axis=0)


def scaled_bound_one(lin: float, quad: float, rho: float, beta: float) -> tuple[float, float]:
    """One output's bound ``max_{0 ≤ t ≤ β/ρ} t·lin − ½t²·quad`` and its maximiser ``t`` (see :func:`scaled_bound`)."""
    t = 0.0
    if quad > 0.0:
        t = min(max(lin / quad, 0.0), math.inf if rho == 0.0 else beta / rho)
    return t * lin - 0.5 * t * t * quad, t


def scaled_bound(lin, quad, rho, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-output bound ``max_{0 ≤ t ≤ β/ρ_c} t·lin_c − ½t²·quad_c`` and its maximiser ``t_c``.

    ``lin_c = λ_cᵀY_c``, ``quad_c = ‖λ_c‖²``, ``ρ_c`` the largest dual-constraint value of
    output ``c`` (arrays of length ``q``). ``ρ_c = 0`` leaves ``t`` uncapped; ``λ_c = 0``
    gives 0. Returns ``(bound_c, t_c)`` as float64 arrays.
    """
    lin = np.asarray(lin, dtype=float)
    quad = np.asarray(quad, dtype=float)
    rho = np.asarray(rho, dtype=float)
    pairs = [scaled_bound_one(float(lin[c]), float(quad[c]), float(rho[c]), float(beta)) for c in range(lin.size)]
    return np.array([b for b, _ in pairs]).reshape(lin.shape), np.array([t for _, t in pairs]).reshape(lin.shape)


def dual_bound(M, Y, patterns, beta, residual, mu_pos=None, mu_neg=None) -> tuple[float, dict]:
    """A certified lower bound on the optimum of program (12) from any ``λ`` and any ``μ ≥ 0``.

    .. math::

        \\text{bound} = \\sum_c \\Big( t_c\\,\\lambda_c^\\top Y_{:,c} - \\tfrac{t_c^2}{2}\\|\\lambda_c\\|^2 \\Big),
        \\qquad t_c = \\mathrm{clip}\\Big(\\frac{\\lambda_c^\\top Y_{:,c}}{\\|\\lambda_c\\|^2},\\, 0,\\,
        \\frac{\\beta}{\\rho_c}\\Big),\\quad
        \\rho_c = \\max_{k,s} \\rho_{k,c,s}

    (see the module docstring for ``ρ`` and why scaling ``(λ_c, μ_{·,c})`` by ``t_c``
    makes the pair dual feasible). At the optimum, ``λ = Y − Σ_k D_k M (V_k − W_k)``
    with the optimal constraint duals gives ``t_c = 1`` and a zero gap.

    Parameters
    ----------
    M, Y, patterns, beta
        Program (12)'s data, as in :func:`convex_objective`.
    residual : array_like, shape (m, q) or (m,)
        The dual variable ``λ`` (normally the residual ``Y − prediction``).
    mu_pos, mu_neg : array_like, shape (P, m, q), optional
        Non-negative multipliers of the ``V`` and ``W`` cone constraints
        (``(P, m)`` accepted when ``q = 1``). ``None`` means zero.

    Returns
    -------
    bound : float
        Lower bound on the optimal value (computed in float64).
    details : dict
        ``rho`` (largest dual-constraint value over all ``k, c, s``), ``t`` (the
        smallest per-output scaling), ``feasible`` (``rho ≤ β``: ``λ`` itself is dual
        feasible), ``dual_objective_unscaled`` (``g(λ)``), and per-output arrays
        ``rho_per_output``, ``t_per_output``, ``bound_per_output`` (length ``q``).

    Raises
    ------
    ValidationError
        Bad shapes, non-finite inputs, ``β ≤ 0``, negative multipliers.
    """
    M, Y, patterns, beta = _program_data(M, Y, patterns, beta)
    m, q, P = M.shape[0], Y.shape[1], patterns.shape[1]
    lam = _as_targets(residual, m, name="residual").astype(float, copy=False)
    if lam.shape != Y.shape:
        raise ValidationError(f"residual must have the shape of Y, {Y.shape}; got shape {lam.shape}")
    mu_pos = _as_multiplier(mu_pos, P, m, q, "mu_pos")
    mu_neg = _as_multiplier(mu_neg, P, m, q, "mu_neg")
    return bound_kernel(M, Y, patterns, beta, lam, mu_pos, mu_neg)


def bound_kernel(M, Y, patterns, beta: float, lam, mu_pos=None, mu_neg=None) -> tuple[float, dict]:
    """:func:`dual_bound` on validated float64 arrays (``μ ≥ 0`` or None)."""
    rho_v, rho_w = dual_constraint_values(M, patterns, lam, mu_pos, mu_neg)
    rho_c = np.maximum(rho_v.max(axis=0), rho_w.max(axis=0))  # (q,)
    lin = np.einsum("mq,mq->q", lam, Y)  # λ_cᵀ Y_c
    quad = np.einsum("mq,mq->q", lam, lam)  # ‖λ_c‖²
    bound_c, t_c = scaled_bound(lin, quad, rho_c, beta)
    details = {
        "rho": float(rho_c.max()),
        "t": float(t_c.min()),
        "feasible": bool(rho_c.max() <= beta),
        "dual_objective_unscaled": float(np.sum(lin - 0.5 * quad)),
        "rho_per_output": rho_c,
        "t_per_output": t_c,
        "bound_per_output": bound_c,
    }
    return float(bound_c.sum()), details
