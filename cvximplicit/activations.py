"""Activation maps ``φ`` of implicit models.

All four are CONE maps in the sense of the paper (componentwise, non-expansive,
``φ(0) = 0`` for ReLU/leaky ReLU/tanh), which is what Theorem 1 needs for
``λ_PF(|A|) < 1`` to imply well-posedness.  (Sigmoid is 1/4-Lipschitz; it is
non-expansive too, although ``σ(0) = 1/2``.)
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .exceptions import ValidationError

__all__ = ["ACTIVATIONS", "get_activation", "check_activation"]

LEAKY_RELU_SLOPE = 0.01


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def _leaky_relu(z: np.ndarray) -> np.ndarray:
    return np.where(z >= 0.0, z, LEAKY_RELU_SLOPE * z)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # Numerically stable logistic function.
    out = np.empty_like(z, dtype=np.result_type(z, np.float32))
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
}


def check_activation(name: str) -> str:
    """Return ``name`` if it is a known activation, else raise :class:`ValidationError`."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValidationError(
            f"activation must be one of {sorted(ACTIVATIONS)}; got {name!r}"
        )
    return name


def get_activation(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The elementwise map ``φ`` called ``name``."""
    return ACTIVATIONS[check_activation(name)]
