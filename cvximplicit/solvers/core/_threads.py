"""One BLAS thread for the loops of many small products (first-order and active-set inner loops).

Thread start-up and synchronisation cost more than they save on products of a few hundred entries, and on
shared, loaded cores they cost far more: measured, the same gated-ReLU solve 2–20× slower with two threads,
and an ACTIVE_SET solve of a 100 × 43 block with q = 2 outputs 1.1 s with one thread against 2.7 s with two.
The large products (Gram matrices, the full passes over every pattern) keep the caller's threads.
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import lru_cache

from threadpoolctl import ThreadpoolController

__all__ = ["SMALL_PRODUCTS", "one_blas_thread", "one_blas_thread_if_small"]

#: ``m · d`` at or below which an engine's inner loop runs on one BLAS thread (its products are then at most a
#: few million multiply-adds each).
SMALL_PRODUCTS = 1_000_000


@lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread():
    """A context in which BLAS runs on one thread (threadpoolctl); the caller's setting is restored after."""
    return _controller().limit(limits=1, user_api="blas")


def one_blas_thread_if_small(m: int, d: int):
    """:func:`one_blas_thread` when ``m · d ≤`` :data:`SMALL_PRODUCTS`, else a context that changes nothing."""
    return one_blas_thread() if m * d <= SMALL_PRODUCTS else nullcontext()
