"""Block partition of the state (Algorithm 1, step 1)."""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import check_memory
from .exceptions import ValidationError

__all__ = ["partition", "block_slices", "check_block_sizes"]


def partition(n: int, L: int) -> list[int]:
    """Split ``n`` states into ``L`` blocks as in Algorithm 1, step 1.

    ``n_i = ⌊n / L⌋`` for ``i < L`` and ``n_L = n − Σ_{i<L} n_i`` (the last block
    takes the remainder).

    Parameters
    ----------
    n : int
        State dimension, ``n > 1``.
    L : int
        Number of blocks, ``1 < L ≤ n``.

    Returns
    -------
    list of int
        ``[n_1, …, n_L]`` in computation order.

    Raises
    ------
    ValidationError
        If ``n`` or ``L`` is not an integer in range, or if the model's dense
        ``n × n`` float64 matrix ``A`` would not fit in this machine's memory
        (the message gives the bytes needed).

    Examples
    --------
    >>> partition(30, 10)
    [3, 3, 3, 3, 3, 3, 3, 3, 3, 3]
    >>> partition(10, 3)
    [3, 3, 4]
    """
    if not _is_int(n) or n <= 1:
        raise ValidationError(f"n must be an integer > 1; got n={n!r}")
    if not _is_int(L) or not 1 < L <= n:
        why = ""
        if _is_int(L) and L == 1:
            why = (": with one block the strictly block-triangular A is zero and the model is a plain two-layer "
                   "network, not an implicit one (Algorithm 1 needs at least two blocks). Use L >= 2, or fit one "
                   "hidden layer directly with cvximplicit.solve_convex_relu (program (12))")
        elif _is_int(L) and L > n:
            why = ": every block needs at least one state; use L <= n or a larger n"
        raise ValidationError(f"L must be an integer in [2, n]; got L={L!r} with n={n}{why}")
    n, L = int(n), int(L)
    check_memory(
        f"a model with n={n} states", {"A (n × n)": (n, n)},
        hint="the state matrix A is dense: use fewer states n",
    )
    base = n // L
    return [base] * (L - 1) + [n - base * (L - 1)]


def check_block_sizes(block_sizes, n: int | None = None) -> list[int]:
    """Validate an explicit partition: positive integers summing to ``n``."""
    try:
        sizes = list(block_sizes)
    except TypeError:
        raise ValidationError(
            f"block_sizes must be a non-empty list of positive integers; got {block_sizes!r}"
        ) from None
    if isinstance(block_sizes, (str, bytes)) or not sizes or not all(_is_int(s) and s >= 1 for s in sizes):
        raise ValidationError(
            f"block_sizes must be a non-empty list of positive integers; got {block_sizes!r}"
        )
    sizes = [int(s) for s in sizes]
    if n is not None and sum(sizes) != n:
        raise ValidationError(
            f"block_sizes must sum to n={n}; got {sizes} (sum {sum(sizes)})"
        )
    return sizes


def block_slices(block_sizes) -> list[slice]:
    """Row slices of each block in the computation-order state ``[X_1; …; X_L]``."""
    edges = np.concatenate([[0], np.cumsum(block_sizes)]).astype(int)
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)
