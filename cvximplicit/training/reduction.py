"""How the convex step (12) of a block is posed from the block's data: the reductions, in one place.

The alternating block solver (Algorithm 2) may pose program (12) on less than the block's
full data, for speed: a seeded subset of the rows (``max_rows``), the top principal
directions of the block input plus its bias (``max_features``), the top singular directions
of the residual (``max_outputs``), and a subset of the activation patterns (sampled, plus
*guided* ones fitted to the residual). :class:`ConvexStepReduction` applies them and says
what it did, as the strings that each solve's report lists (any of them makes a certificate
``"restricted"``). Orientation: ``M`` is ``(m, d)`` and the residual ``(m, q)``, rows are
samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._params import BOOL, Int, check_params
from ..solvers.relu.arrangements import guided_patterns, resolve_patterns, unique_patterns

__all__ = ["ConvexStepReduction", "InputBasis", "ReducedStep", "input_basis", "principal_basis"]


@dataclass(frozen=True)
class ReducedStep:
    """Program (12) as posed for one round: data, patterns and what was reduced.

    Attributes
    ----------
    M, Y : ndarray, shapes (m_r, d_r) and (m_r, q_r)
        The reduced block input and residual.
    rows : slice or ndarray of int
        The samples kept.
    basis : ndarray, shape (d, d_r), or None
        Orthonormal feature basis (``M_reduced = M[rows] @ basis``).
    patterns : str or ndarray of bool
        What to pass as ``patterns`` to the convex solve.
    reductions : tuple of str
        What was reduced, for the reports.
    """

    M: np.ndarray
    Y: np.ndarray
    rows: slice | np.ndarray
    basis: np.ndarray | None
    patterns: object
    reductions: tuple

    def project(self, M: np.ndarray) -> np.ndarray:
        """Any ``M`` ``(m, d)`` in the reduced feature coordinates (for selection on every sample)."""
        return M if self.basis is None else M @ self.basis

    def lift(self, W1: np.ndarray) -> np.ndarray:
        """Input weights found on the reduced features, in the block's coordinates: ``W1 @ basisᵀ``."""
        return W1 if self.basis is None else W1 @ self.basis.T


@dataclass(frozen=True)
class ConvexStepReduction:
    """The reductions of the convex step (see the module docstring); ``None`` limits mean "all".

    Parameters
    ----------
    max_rows, max_features, max_outputs : int or None
        Rows (≥ 2), principal directions (≥ 1, the bias is added) and residual directions (≥ 1).
    patterns, n_patterns : see :func:`~cvximplicit.solvers.resolve_patterns`.
    guided : bool
        Add :func:`~cvximplicit.solvers.guided_patterns` to sampled patterns.
    """

    max_rows: int | None = None
    max_features: int | None = None
    max_outputs: int | None = None
    patterns: object = "auto"
    n_patterns: int = 30
    guided: bool = False

    def __post_init__(self):
        check_params("ConvexStepReduction", vars(self), {
            "max_rows": [None, Int(2)], "max_features": [None, Int(1)], "max_outputs": [None, Int(1)],
            "n_patterns": [Int(1)], "guided": [BOOL],
        })

    def rows(self, m: int, *, seed: int) -> slice | np.ndarray:
        """All samples, or a seeded subset of ``max_rows``."""
        if self.max_rows is None or m <= self.max_rows:
            return slice(None)
        return np.sort(np.random.default_rng(seed).choice(m, size=self.max_rows, replace=False))

    def apply(self, M: np.ndarray, residual: np.ndarray, rows, *, seed: int) -> ReducedStep:
        """Pose program (12) for block input ``M`` ``(m, d)`` and residual ``(m, q)`` on ``rows``."""
        m = M.shape[0]
        M_r, R_r = M[rows], residual[rows]
        reductions = [] if isinstance(rows, slice) else [f"rows {rows.size}/{m} (seeded subsample)"]
        basis = principal_basis(M_r, self.max_features)
        if basis is not None:
            M_r = M_r @ basis
            reductions.append(f"features {basis.shape[1]}/{M.shape[1]} (principal basis with bias)")
        if self.max_outputs is not None and R_r.shape[1] > self.max_outputs:
            left, sing, _ = np.linalg.svd(R_r, full_matrices=False)
            reductions.append(f"outputs {self.max_outputs}/{R_r.shape[1]} (top singular directions of the residual)")
            R_r = left[:, : self.max_outputs] * sing[: self.max_outputs]
        patterns = self.patterns
        base = resolve_patterns(M_r, self.patterns, self.n_patterns, seed)
        if not base.all_arrangements:  # a subset of the arrangements: say which
            patterns, label = base.patterns, f"patterns {base.patterns.shape[1]} {base.source}"
            if self.guided:
                guided = guided_patterns(M_r, R_r)
                patterns = unique_patterns(np.hstack([base.patterns, guided]))
                label += f" + {guided.shape[1]} guided"
            reductions.append(label)
        return ReducedStep(M_r, R_r, rows, basis, patterns, tuple(reductions))


def principal_basis(M: np.ndarray, k: int | None) -> np.ndarray | None:
    """Orthonormal ``(d, k)`` or ``(d, k + 1)``: the top ``k`` principal directions of ``M`` ``(m, d)`` and its bias.

    Principal directions are the right singular vectors of the centred ``M``; the
    coordinate vector of a constant non-zero column (the bias), if any, is added so
    that thresholds ``1[M g ≥ τ]`` stay expressible in the reduced coordinates. None
    when ``k`` is None or ``≥ d``.
    """
    if k is None or k >= M.shape[1]:
        return None
    _, _, Vt = np.linalg.svd(M - M.mean(axis=0), full_matrices=False)
    return _with_bias(Vt[:k].T, M)


def _with_bias(directions: np.ndarray, M: np.ndarray) -> np.ndarray:
    """An orthonormal basis of ``directions`` ``(d, k)`` and the coordinate vector of the first constant non-zero
    column of the samples ``M`` ``(m, d)`` (the bias; zero columns add nothing), that coordinate first."""
    constant = np.flatnonzero((np.ptp(M, axis=0) == 0) & (M[0] != 0))[:1]
    Q, _ = np.linalg.qr(np.hstack([np.eye(M.shape[1])[:, constant], directions]))
    return Q


#: Samples the input basis is computed on (a seeded subset beyond this many).
INPUT_BASIS_ROWS = 10_000


@dataclass(frozen=True)
class InputBasis:
    """An orthonormal basis ``P`` ``(p, k')`` of the block inputs' coordinates and the inputs in it, ``Pᵀ U``.

    Attributes
    ----------
    P : ndarray, shape (p, k')
        Top principal directions of the inputs, plus the bias coordinate if a row of ``U`` is constant.
    U : ndarray, shape (k', m)
        ``Pᵀ U``: every block's input rows, in the basis.
    reduction : str
        What was reduced, for the reports.
    """

    P: np.ndarray
    U: np.ndarray
    reduction: str


def input_basis(U: np.ndarray, k: int, *, seed: int = 0) -> InputBasis | None:
    """The top ``k`` principal directions of the inputs ``U`` ``(p, m)`` (columns are samples), or None if ``k ≥ p``.

    Directions are the top eigenvectors of the centred second-moment matrix
    ``(U − ū)(U − ū)ᵀ`` on every sample, or on a seeded subset of :data:`INPUT_BASIS_ROWS`;
    the coordinate vector of a constant non-zero row (the bias) is added, as in
    :func:`principal_basis`. A neuron ``w`` on ``Pᵀ U`` is ``P w`` on ``U``: exact for input
    weights in ``span(P)``.
    """
    p, m = U.shape
    if k >= p:
        return None
    rows = slice(None) if m <= INPUT_BASIS_ROWS else np.sort(
        np.random.default_rng(seed).choice(m, size=INPUT_BASIS_ROWS, replace=False))
    S = U[:, rows]
    centred = S - S.mean(axis=1, keepdims=True)
    _, vecs = np.linalg.eigh(centred @ centred.T)  # the p × p Gram: cheaper than an SVD of the m × p samples
    P = _with_bias(vecs[:, ::-1][:, :k], S.T)
    sample = "every sample" if isinstance(rows, slice) else f"{INPUT_BASIS_ROWS} seeded samples"
    return InputBasis(P, P.T @ U, f"inputs {P.shape[1]}/{p} (principal directions of the inputs on {sample}, "
                                  "with bias; every step of the block)")
