"""Input validation shared by the model and the baselines."""

from __future__ import annotations

import numpy as np

from .exceptions import ValidationError


def as_finite_matrix(name: str, value, *, layout: str = "") -> np.ndarray:
    """``value`` as a finite 2-D float array, or a :class:`ValidationError` naming ``name``.

    ``layout`` (e.g. ``"features × samples"``) is added to the shape message.
    """
    try:
        M = np.array(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be a numeric matrix; got {type(value).__name__}") from exc
    if M.ndim != 2:
        what = f" ({layout})" if layout else ""
        raise ValidationError(f"{name} must be a 2-D matrix{what}; got an array with shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValidationError(f"{name} contains NaN or inf")
    return M
