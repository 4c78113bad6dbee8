r"""The two synthetic regression tasks of Section V-A of the paper.

Both tasks learn a scalar function of a scalar input on ``[-5, 5]``:

.. math::

    f_1(u) = 5 \cos(\pi u)\, e^{-|u|/2} \qquad \text{(eq. (14), smooth)}

    f_2(u) = 5\, \operatorname{saw}(u)\, e^{-|u|/2}, \qquad
    \operatorname{saw}(u) = u - 2 \left\lfloor \frac{u + 1}{2} \right\rfloor
    \qquad \text{(non-smooth)}

The paper only says that :math:`f_2` is "a sawtooth wave times a decaying
exponential"; :func:`f_nonsmooth` fixes the definition above (period 2,
amplitude 5, the same envelope as eq. (14)).

Sampling (as in the paper): ``n_train`` training inputs ``u ~ U(-5, 5)`` with
noisy targets ``y ~ U(f(u) - noise, f(u) + noise)``; ``n_test`` evenly spaced
test inputs on ``[-5, 5]`` (endpoints included) with noiseless targets ``f(u)``.
Inputs are returned one sample per row, shape ``(m, 1)``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .._params import Int, Real, check_params
from ._dataset import Dataset

__all__ = ["f_smooth", "f_nonsmooth", "make_smooth", "make_nonsmooth", "DOMAIN"]

#: The input interval ``[low, high]`` of both tasks.
DOMAIN = (-5.0, 5.0)


def f_smooth(u):
    r"""Smooth target of eq. (14): :math:`f_1(u) = 5 \cos(\pi u)\, e^{-|u|/2}`.

    Parameters
    ----------
    u : float or array_like
        Input(s), any shape; evaluated element-wise.

    Returns
    -------
    ndarray or float
        ``f_1(u)`` with the shape of ``u`` (a numpy float for scalar input).

    Examples
    --------
    >>> float(f_smooth(0.0))
    5.0
    """
    u = np.asarray(u, dtype=float)
    return 5.0 * np.cos(np.pi * u) * np.exp(-0.5 * np.abs(u))


def _sawtooth(u: np.ndarray) -> np.ndarray:
    """``saw(u) = u - 2 floor((u + 1) / 2)``: period 2, values in ``[-1, 1)``, ``saw(0) = 0``."""
    return u - 2.0 * np.floor(0.5 * (u + 1.0))


def f_nonsmooth(u):
    r"""Non-smooth target: a sawtooth wave times a decaying exponential.

    .. math::

        f_2(u) = 5\, \operatorname{saw}(u)\, e^{-|u|/2}, \qquad
        \operatorname{saw}(u) = u - 2 \left\lfloor \frac{u + 1}{2} \right\rfloor
        = 2\left(\frac{u+1}{2} - \left\lfloor \frac{u+1}{2} \right\rfloor\right) - 1 .

    ``saw`` has period 2, rises with slope 1 through ``saw(0) = 0`` and takes
    values in ``[-1, 1)``.  It jumps from ``+1`` down to ``-1`` at every odd
    integer, so :math:`f_2` is discontinuous at ``u = ±1, ±3, ±5`` with jumps of
    size :math:`10 e^{-|u|/2}`; it is right-continuous there
    (``f_2(1) = -5 e^{-1/2}``).

    Parameters
    ----------
    u : float or array_like
        Input(s), any shape; evaluated element-wise.

    Returns
    -------
    ndarray or float
        ``f_2(u)`` with the shape of ``u``.

    Examples
    --------
    >>> float(f_nonsmooth(0.5))  # doctest: +ELLIPSIS
    1.947...
    """
    u = np.asarray(u, dtype=float)
    return 5.0 * _sawtooth(u) * np.exp(-0.5 * np.abs(u))


def make_smooth(*, n_train: int = 500, n_test: int = 1000, noise: float = 1.0, seed: int | None = 0) -> Dataset:
    """Synthetic regression task with the smooth target :func:`f_smooth` (eq. (14)).

    Parameters
    ----------
    n_train : int, default 500
        Number of training samples, ``u ~ U(-5, 5)`` i.i.d.
    n_test : int, default 1000
        Number of evenly spaced test points on ``[-5, 5]`` (endpoints included).
    noise : float, default 1.0
        Half-width of the uniform label noise: ``y ~ U(f(u) - noise, f(u) + noise)``.
        ``0`` gives noiseless training targets.
    seed : int or None, default 0
        Seed of ``numpy.random.default_rng``; the same seed gives identical
        arrays.  ``None`` draws fresh entropy (not reproducible).

    Returns
    -------
    Dataset
        ``task="regression"``; ``inputs_*`` are ``float64`` of shape ``(m, 1)``
        (one sample per row), ``targets_*`` are ``float64`` of shape ``(m,)``;
        ``targets_test`` is noiseless.  ``info`` records the function, noise,
        seed and domain.

    Raises
    ------
    ValidationError
        If ``n_train`` or ``n_test`` is not a positive integer, ``noise`` is
        negative or not finite, or ``seed`` is not a non-negative integer or ``None``.

    Examples
    --------
    >>> make_smooth()
    Dataset('smooth', regression, train=500x1, test=1000x1)
    """
    return _make_task("smooth", f_smooth, n_train=n_train, n_test=n_test, noise=noise, seed=seed)


def make_nonsmooth(*, n_train: int = 500, n_test: int = 1000, noise: float = 1.0, seed: int | None = 0) -> Dataset:
    """Synthetic regression task with the discontinuous target :func:`f_nonsmooth`.

    Same sampling, parameters, return value and errors as :func:`make_smooth`;
    only the target function differs.

    Examples
    --------
    >>> make_nonsmooth(n_train=10, noise=0.0).n_train
    10
    """
    return _make_task("nonsmooth", f_nonsmooth, n_train=n_train, n_test=n_test, noise=noise, seed=seed)


def _make_task(
    name: str,
    f: Callable[[np.ndarray], np.ndarray],
    *,
    n_train: int,
    n_test: int,
    noise: float,
    seed: int | None,
) -> Dataset:
    """Sample one task.  Draw order from the generator: all ``u``, then all label noise."""
    check_params(f"make_{name}", {"n_train": n_train, "n_test": n_test, "noise": noise, "seed": seed},
                 {"n_train": [Int(1)], "n_test": [Int(1)], "noise": [Real(0.0)], "seed": [Int(0), None]})
    n_train, n_test, noise = int(n_train), int(n_test), float(noise)

    low, high = DOMAIN
    rng = np.random.default_rng(seed)
    u_train = rng.uniform(low, high, size=n_train)
    f_train = f(u_train)
    y_train = rng.uniform(f_train - noise, f_train + noise) if noise > 0.0 else f_train.copy()
    u_test = np.linspace(low, high, n_test)
    y_test = f(u_test)
    return Dataset(
        name=name,
        task="regression",
        inputs_train=u_train.reshape(-1, 1),
        targets_train=y_train,
        inputs_test=u_test.reshape(-1, 1),
        targets_test=y_test,
        n_classes=None,
        info={
            "function": f"{f.__module__}.{f.__name__}",
            "noise": noise,
            "seed": None if seed is None else int(seed),
            "domain": DOMAIN,
            "train_sampling": "u ~ U(-5, 5), y ~ U(f(u) - noise, f(u) + noise)",
            "test_sampling": f"{n_test} evenly spaced points on [-5, 5], y = f(u)",
        },
    )

