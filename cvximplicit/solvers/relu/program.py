"""Program (12), stated once: :class:`ReluProgram` holds its data, validated once, and owns its maths.

Orientation: ``M`` is ``(m, d)`` with **rows as samples** (``M = Ũ_iᵀ``, bias column
included); ``Y`` is ``(m, q)``; ``patterns`` is ``(m, P)`` bool, column ``k`` the
diagonal of ``D_k``; the variables ``V, W`` are ``(P, d, q)``.

.. math::

    \\min_{V,W}\\; \\tfrac12 \\sum_c \\Big\\|\\sum_k D_k M (V_{k,:,c} - W_{k,:,c}) - Y_{:,c}\\Big\\|^2
    + \\beta \\sum_{k,c} \\big(\\|V_{k,:,c}\\|_2 + \\|W_{k,:,c}\\|_2\\big)
    \\quad \\text{s.t. } (2D_k - I) M V_{k,:,c} \\ge 0,\\; (2D_k - I) M W_{k,:,c} \\ge 0.

Vector outputs are one-vs-all: the program separates over the outputs ``c`` (each
neuron feeds one output). The objective, the constraint violation and the dual bound
are computed by :mod:`cvximplicit.solvers.relu.certificate` (in float64); a solution decodes
to a two-layer ReLU network by :func:`decode`. Engines, the conic formulations and the
certificate all read the program from this one object, so it is validated once at the
public boundary and trusted inside.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ...exceptions import ValidationError
from ..core._checks import _as_beta, _program_data
from . import certificate as _cert

__all__ = ["ReluProgram", "decode", "beta_max", "NEURON_TOL"]

#: A group ``V[k,:,c]`` (or ``W``) is an active neuron when its norm exceeds
#: ``NEURON_TOL · max(largest group norm, ‖Y‖_F/‖M‖_F)`` (interior-point
#: solutions leave inactive groups at ~1e-9 relative, not exactly 0).
NEURON_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class ReluProgram:
    """The data of program (12): ``M`` ``(m, d)``, ``Y`` ``(m, q)``, ``patterns`` ``(m, P)``, ``β > 0``.

    ``structure`` is the patterns' threshold structure when ``M = [u, c·1]``
    (:func:`~cvximplicit.solvers.relu.arrangements.threshold_structure_1d`; it lets the conic engine
    use the reduced 1-D form), else None. Build it with :meth:`from_data` (validates); the
    constructor trusts its arguments.
    """

    M: np.ndarray
    Y: np.ndarray
    patterns: np.ndarray
    beta: float
    structure: tuple | None = None

    @classmethod
    def from_data(cls, M, Y, patterns, beta) -> "ReluProgram":
        """Validated float64 ``M``, ``Y`` (a 1-D ``y`` is ``q = 1``), bool ``patterns`` and ``β``.

        Raises
        ------
        ValidationError
            Non-numeric, complex or non-finite data, shapes that do not match, ``β ≤ 0``.
        """
        return cls(*_program_data(M, Y, patterns, beta))

    def with_beta(self, beta) -> "ReluProgram":
        """The same data at another ``β`` (validated)."""
        return replace(self, beta=_as_beta(beta))

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(m, d, P, q)``."""
        return self.M.shape[0], self.M.shape[1], self.patterns.shape[1], self.Y.shape[1]

    @property
    def scale(self) -> float:
        """``‖Y‖_F / ‖M‖_F``: the natural size of a group norm."""
        return float(np.linalg.norm(self.Y)) / max(float(np.linalg.norm(self.M)), 1e-300)

    def fit(self, Z: np.ndarray) -> np.ndarray:
        """``Σ_k D_k M Z[k, :, c]`` for every output, ``(m, q)`` (``Z = V − W``)."""
        return _cert.pattern_fit(self.M, self.patterns, Z)

    def objective(self, V: np.ndarray, W: np.ndarray) -> float:
        """The objective at ``(V, W)`` in float64 (constraints not checked)."""
        return _cert.objective_kernel(self.M, self.Y, self.patterns, V, W, self.beta)

    def violation(self, V: np.ndarray, W: np.ndarray) -> float:
        """Largest relative cone-constraint violation (see
        :func:`~cvximplicit.solvers.relu.certificate.constraint_violation`; groups are measured against at least
        :attr:`scale`)."""
        return _cert.violation_kernel(self.M, self.patterns, V, W, self.scale)

    def bound(self, lam: np.ndarray, mu_pos=None, mu_neg=None) -> tuple[float, dict]:
        """A certified lower bound from any ``λ`` ``(m, q)`` and any multipliers ``μ ≥ 0`` ``(P, m, q)``.

        See :func:`~cvximplicit.solvers.relu.certificate.dual_bound` for the maths; computed in float64.
        """
        lam = np.asarray(lam, dtype=float)
        return _cert.bound_kernel(self.M, self.Y, self.patterns, self.beta, lam, mu_pos, mu_neg)

    def network_objective(self, W1: np.ndarray, W2: np.ndarray) -> float:
        """``½‖relu(M W1ᵀ) W2ᵀ − Y‖² + (β/2)(‖W1‖² + ‖W2‖²)`` of a network ``W1`` ``(k, d)``, ``W2`` ``(q, k)``."""
        return _cert.network_objective_kernel(self.M, self.Y, W1, W2, self.beta)

    def beta_max(self) -> float:
        """``max_{k,c} ‖Mᵀ D_k Y_{:,c}‖₂``: for ``β`` at least this, the zero network is optimal."""
        return beta_max(self.M, self.Y, self.patterns)


def beta_max(M, Y, patterns) -> float:
    """``max_{k,c} ‖Mᵀ D_k Y_{:,c}‖₂``: for β at least this, the zero network is optimal.

    At ``λ = Y`` (the zero network's residual) with ``μ = 0`` the dual constraint reads
    ``‖Mᵀ D_k Y_{:,c}‖₂ ≤ β`` for every ``k, c``. ``M`` ``(m, d)`` and ``Y`` ``(m, q)``
    have rows as samples; ``patterns`` is ``(m, P)`` bool.
    """
    M = np.asarray(M, dtype=float)
    Y = np.asarray(Y, dtype=float).reshape(M.shape[0], -1)
    D = np.asarray(patterns, dtype=float)
    best = 0.0
    for c in range(Y.shape[1]):
        best = max(best, float(_cert.group_scores(M, D * Y[:, c : c + 1])[1].max(initial=0.0)))  # ‖Mᵀ D_k y_c‖
    return best


def decode(V: np.ndarray, W: np.ndarray, tol: float, scale: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The ReLU network of a solution: ``W1`` ``(k, d)`` input weights, ``W2`` ``(q, k)`` output weights.

    Each group ``V[k,:,c]`` with ``‖V[k,:,c]‖ > tol · max(max_group_norm, scale)`` becomes a
    neuron with input weights ``V/√‖V‖`` and output weight ``+√‖V‖`` on output ``c``
    (zero on the others); ``W`` groups give output weight ``−√‖W‖``. ``V`` neurons come
    first, each ordered by ``(k, c)``. ``tol = 0`` keeps every non-zero group. The network's
    weight decay ``(β/2)(‖W1‖² + ‖W2‖²)`` equals ``β Σ‖groups‖`` (the program's regulariser).
    """
    if not tol >= 0:
        raise ValidationError(f"tol must be >= 0; got tol={tol!r}")
    P, d, q = V.shape
    nv = np.linalg.norm(V, axis=1)  # (P, q)
    nw = np.linalg.norm(W, axis=1)
    largest = max(float(nv.max(initial=0.0)), float(nw.max(initial=0.0)))
    thr = tol * max(largest, scale)
    rows, outs = [], []
    for norms, Z, sign in ((nv, V, 1.0), (nw, W, -1.0)):
        ks, cs = np.nonzero((norms > thr) & (norms > 0))
        for k, c in zip(ks, cs):
            r = float(np.sqrt(norms[k, c]))
            rows.append(Z[k, :, c] / r)
            col = np.zeros(q)
            col[c] = sign * r
            outs.append(col)
    if not rows:
        return np.zeros((0, d)), np.zeros((q, 0))
    return np.array(rows), np.array(outs).T
