"""Well-posedness numbers of an implicit model (Theorem 1 of the paper).

For a CONE activation, ``λ_PF(|A|) < 1`` (the Perron–Frobenius eigenvalue of the
entrywise absolute value of ``A``) implies that ``x = φ(A x + B u)`` has a unique
solution for every ``u``, reached by Picard iteration from 0.  ``‖A‖∞ < 1`` is a
convex sufficient condition, because ``λ_PF(|A|) ≤ ‖|A|‖∞ = ‖A‖∞``.  A strictly
(block) triangular ``A`` has ``λ_PF(|A|) = 0`` and is always well-posed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .partition import block_slices

__all__ = ["WellPosedness", "pf_eigenvalue", "inf_norm", "is_strictly_block_lower", "check_wellposedness"]


@dataclass(frozen=True)
class WellPosedness:
    """Well-posedness diagnostics of ``A``.

    Attributes
    ----------
    pf_eigenvalue : float
        ``λ_PF(|A|)``, the spectral radius of ``|A|``.
    inf_norm : float
        ``‖A‖∞``, the largest absolute row sum.
    strictly_block_triangular : bool
        ``A_{i,j} = 0`` for ``j ≥ i`` in computation order (forward substitution applies).
    well_posed : bool
        ``strictly_block_triangular or pf_eigenvalue < 1``.
    reason : str
        Which sufficient condition holds (or that none does).
    """

    pf_eigenvalue: float
    inf_norm: float
    strictly_block_triangular: bool
    well_posed: bool
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def pf_eigenvalue(A: np.ndarray) -> float:
    """``λ_PF(|A|)``: the spectral radius of the nonnegative matrix ``|A|``."""
    A = np.abs(np.asarray(A, dtype=float))
    if A.size == 0:
        return 0.0
    return float(np.max(np.abs(np.linalg.eigvals(A))))


def inf_norm(A: np.ndarray) -> float:
    """``‖A‖∞ = max_i Σ_j |A_ij|``."""
    A = np.asarray(A, dtype=float)
    return float(np.abs(A).sum(axis=1).max()) if A.size else 0.0


def is_strictly_block_lower(A: np.ndarray, block_sizes) -> bool:
    """True when every block ``A_{i,j}`` with ``j ≥ i`` is zero (computation order)."""
    slices = block_slices(block_sizes)
    for i, rows in enumerate(slices):
        if np.any(A[rows, rows.start:]):
            return False
    return True


def check_wellposedness(A: np.ndarray, block_sizes) -> WellPosedness:
    """Compute the :class:`WellPosedness` numbers of ``A``."""
    strict = is_strictly_block_lower(A, block_sizes)
    rho = 0.0 if strict else pf_eigenvalue(A)
    norm = inf_norm(A)
    if strict:
        reason = "A is strictly block lower triangular (λ_PF(|A|) = 0): forward substitution"
    elif rho < 1.0:
        reason = f"λ_PF(|A|) = {rho:.4g} < 1 (Theorem 1): Picard iteration converges"
    else:
        reason = f"λ_PF(|A|) = {rho:.4g} ≥ 1: no well-posedness guarantee"
    return WellPosedness(rho, norm, strict, strict or rho < 1.0, reason)
