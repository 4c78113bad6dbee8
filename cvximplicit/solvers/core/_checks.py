"""Array checks of program (12)'s data at the solvers' public boundary (internals trust their callers).

Orientation: ``M`` ``(m, d)`` and ``Y`` ``(m, q)`` have rows as samples; ``patterns`` is
``(m, P)`` bool; groups ``V, W`` are ``(P, d, q)``; multipliers ``(P, m, q)``.
"""

from __future__ import annotations

import math

import numpy as np

from ..._validation import as_real_array
from ...exceptions import ValidationError


def _finite(Z, name: str) -> np.ndarray:
    """``Z``, or ValidationError when it has a NaN or inf entry."""
    if not np.all(np.isfinite(Z)):
        raise ValidationError(f"{name} must be finite; got NaN or inf entries")
    return Z


def _as_matrix(M, name: str = "M") -> np.ndarray:
    M = np.asarray(M)
    if M.dtype.kind not in "iuf":  # bool, complex, strings and objects are refused
        raise ValidationError(f"{name} must be a real numeric array; got dtype {M.dtype}")
    if M.ndim != 2:
        raise ValidationError(
            f"{name} must be a 2-D array of shape (m, d) (rows are samples); got shape {M.shape}"
        )
    return _finite(M, name)


def _as_targets(Y, m: int, name: str = "Y") -> np.ndarray:
    Y = np.asarray(Y)
    if Y.dtype.kind not in "iuf":
        raise ValidationError(f"{name} must be a real numeric array; got dtype {Y.dtype}")
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape[0] != m:
        raise ValidationError(
            f"{name} must have shape (m, q) or (m,) with m = M.shape[0] = {m} (rows are samples); "
            f"got shape {np.shape(Y)}"
        )
    return _finite(Y, name)


def _as_patterns(patterns, m: int) -> np.ndarray:
    patterns = np.asarray(patterns)
    if patterns.dtype != bool:
        raise ValidationError(
            f"patterns must be a bool array of shape (m, P) (column k = diagonal of D_k); got dtype {patterns.dtype}"
        )
    if patterns.ndim != 2 or patterns.shape[0] != m:
        raise ValidationError(
            f"patterns must have shape (m, P) with m = M.shape[0] = {m}; got shape {patterns.shape}"
        )
    if patterns.shape[1] < 1:
        raise ValidationError("patterns must contain at least one pattern (P >= 1); got P = 0")
    return patterns


def _as_beta(beta) -> float:
    if isinstance(beta, (str, bytes, bool, np.bool_)):
        raise ValidationError(f"beta must be a positive finite float; got beta={beta!r}")
    try:
        beta = float(beta)
    except (TypeError, ValueError):
        raise ValidationError(f"beta must be a positive finite float; got beta={beta!r}") from None
    if not (beta > 0 and math.isfinite(beta)):
        raise ValidationError(f"beta must be a positive finite float; got beta={beta!r}")
    return beta


def _as_stack(Z, shape: tuple[int, int, int], axes: str, name: str, *, optional: str = "") -> np.ndarray:
    """``Z`` of shape ``(P, ·, q)`` (``axes`` names them, e.g. ``"P, d, q"``), finite; a 2-D ``Z`` when ``q == 1``."""
    Z = np.asarray(Z)
    if Z.ndim == 2 and shape[2] == 1:
        Z = Z[:, :, None]
    if Z.shape != shape:
        raise ValidationError(f"{name} must have shape ({axes}) = {shape}{optional}; got shape {Z.shape}")
    return _finite(Z, name)


def _as_groups(Z, P: int, d: int, q: int, name: str) -> np.ndarray:
    return _as_stack(Z, (P, d, q), "P, d, q", name)


def _as_multiplier(mu, P: int, m: int, q: int, name: str) -> np.ndarray | None:
    if mu is None:
        return None
    mu = _as_stack(np.asarray(mu, dtype=float), (P, m, q), "P, m, q", name, optional=" or be None")
    if np.any(mu < 0):
        raise ValidationError(
            f"{name} must be >= 0 (multipliers of the cone constraints); got min {float(mu.min()):.3g}"
        )
    return mu


def _program_data(M, Y, patterns, beta):
    """Validated float64 ``M`` (m, d), ``Y`` (m, q), bool ``patterns`` (m, P) and ``β > 0`` of program (12)."""
    M = _as_matrix(M).astype(float, copy=False)
    Y = _as_targets(Y, M.shape[0]).astype(float, copy=False)
    return M, Y, _as_patterns(patterns, M.shape[0]), _as_beta(beta)


def _as_float_dtype(dtype) -> np.dtype:
    """``numpy.float32`` or ``numpy.float64`` (the engines' iteration precision), else ValidationError."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValidationError(f"dtype must be 'float64' or 'float32'; got dtype={dtype!r}")
    return dt


def _real_block_data(M, Y, beta):
    """Real, finite float64 ``M`` (m, d) and ``Y`` (m, q), and ``β > 0`` (complex and string data are rejected)."""
    M = as_real_array(M, "M")
    if M.ndim != 2:
        raise ValidationError(f"M must be a 2-D array (m samples × d features, rows are samples); got {M.shape}")
    Y = as_real_array(Y, "Y")
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape[0] != M.shape[0]:
        raise ValidationError(
            f"Y must have shape (m, q) or (m,) with m = M.shape[0] = {M.shape[0]} (rows are samples); got {Y.shape}"
        )
    return M, Y, _as_beta(beta)
