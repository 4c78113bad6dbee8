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
from ..core._checks import _as_beta, _as_matrix, _program_data
from ..core.bias import apply_bias
from . import certificate as _cert
from .arrangements import DEFAULT_N_PATTERNS, resolve_patterns

__all__ = ["ReluProgram", "decode", "relu_network", "beta_max", "max_group_score", "NEURON_TOL"]

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
        return max_group_score(self.M, self.Y, self.patterns)


def max_group_score(M: np.ndarray, R: np.ndarray, patterns: np.ndarray) -> float:
    """``max_{k,c} ‖Mᵀ D_k R_{:,c}‖₂`` for float64 ``M`` ``(m, d)``, ``R`` ``(m, q)``, bool ``patterns`` ``(m, P)``.

    The largest dual-constraint value at the dual point ``R`` with zero cone multipliers (no checks:
    the callers validated their data). At ``R = Y`` it is β_max of program (12).
    """
    D = patterns.astype(float)
    best = 0.0
    for c in range(R.shape[1]):
        best = max(best, float(_cert.group_scores(M, D * R[:, c : c + 1])[1].max(initial=0.0)))  # ‖Mᵀ D_k r_c‖
    return best


def beta_max(M, Y, patterns="auto", *, n_patterns=DEFAULT_N_PATTERNS, seed=0, bias=None) -> float:
    """β_max of program (12): ``max_{k,c} ‖Mᵀ D_k Y_{:,c}‖₂``; for ``β ≥ β_max`` the zero network is optimal.

    At ``λ = Y`` (the zero network's residual) with zero cone multipliers the dual constraint reads
    ``‖Mᵀ D_k Y_{:,c}‖₂ ≤ β`` for every pattern ``k`` and output ``c``, so the maximum runs over the
    patterns **and** the outputs (the programs of the outputs are separate: one-vs-all). A β is
    usually given as a fraction of it (``beta=0.1 * beta_max(M, y, patterns)``).

    Parameters
    ----------
    M : array_like, shape (m, d)
        Block input, **rows are samples**.
    Y : array_like, shape (m, q) or (m,)
        Targets, rows are samples.
    patterns : {"auto", "exact", "sampled"} or ndarray of bool, shape (m, P)
        As in :func:`~cvximplicit.solvers.solve_convex_relu` (with the same ``n_patterns``, ``seed``
        and ``bias`` the patterns are the same as that solve's).
    n_patterns, seed, bias
        As in :func:`~cvximplicit.solvers.solve_convex_relu` (``bias=True`` appends a column of ones).

    Returns
    -------
    float

    Raises
    ------
    ValidationError
        Bad shapes, non-finite data, a bad ``patterns`` or ``bias``.

    Examples
    --------
    >>> import numpy as np
    >>> M = np.array([[1.0, 1.0], [-1.0, 1.0]])
    >>> beta_max(M, np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[True], [True]]))
    2.8284271247461903
    """
    M = _as_matrix(M).astype(float, copy=False)
    M, _ = apply_bias(M, bias, where="beta_max")
    pats = resolve_patterns(M, patterns, n_patterns, seed).patterns
    M, Y, pats, _ = _program_data(M, Y, pats, 1.0)
    return max_group_score(M, Y, pats)


def relu_network(M: np.ndarray, W1: np.ndarray, W2: np.ndarray) -> np.ndarray:
    """The two-layer ReLU network's output ``relu(M W1ᵀ) W2ᵀ`` ``(m, q)`` for ``M`` ``(m, d)`` (rows are samples)."""
    return np.maximum(M @ W1.T, 0.0) @ W2.T


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
