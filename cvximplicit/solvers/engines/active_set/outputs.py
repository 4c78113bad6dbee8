"""The working-set engine's outputs, one after another or spread over forked worker processes.

The outputs are independent programs. On a large block (``m · d >`` :data:`SMALL_PRODUCTS`) the sequential solve
keeps the caller's BLAS threads, whose small LAPACK calls lose more to threading than the big products gain:
measured on a 60 000 × 129, ``q = 2`` block, 45.8 s with two threads against 40.6 s with one. There the outputs go
by default to ``min(q, cpu_count)`` processes with one BLAS thread each. The processes are forked (the block is
shared copy-on-write, nothing large is pickled, nothing re-imported); where ``fork`` is not available the outputs
are solved one after another.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from ...core._threads import SMALL_PRODUCTS, one_blas_thread

__all__ = ["map_outputs", "n_processes"]

_WORKER: tuple = ()  # in a worker process: (the per-output function, the shared data with its own deadline)


def n_processes(n_jobs, q: int, m: int, d: int) -> tuple[int, str | None]:
    """The processes over which ``q`` outputs are spread for the option ``n_jobs``, and why fewer, if so.

    ``None``: ``min(q, cpu_count)`` when ``q ≥ 2`` and ``m · d >`` :data:`SMALL_PRODUCTS`, else 1; ``-1``: every
    core; never more than ``q``; 1 where the start method ``fork`` is not available.
    """
    cores = os.cpu_count() or 1
    if n_jobs is None:
        n_jobs = cores if q >= 2 and m * d > SMALL_PRODUCTS else 1
    elif n_jobs == -1:
        n_jobs = cores
    n = min(n_jobs, q)
    if n > 1 and "fork" not in multiprocessing.get_all_start_methods():
        return 1, f"{n} processes asked, but the start method 'fork' is not available: outputs solved sequentially"
    return n, None


def map_outputs(fn, shared, q: int, n: int) -> list:
    """``[fn(c, shared) for c in range(q)]``, in ``n`` forked processes (one BLAS thread each) when ``n > 1``.

    ``shared.deadline`` (a :func:`time.perf_counter` time or None) is carried to each worker as the seconds left
    and rebased on the worker's own clock. A worker's exception is raised here (its type and message).
    """
    if n <= 1:
        return [fn(c, shared) for c in range(q)]
    left = None if shared.deadline is None else shared.deadline - time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(n, mp_context=ctx, initializer=_start_worker,
                             initargs=(fn, shared, left, os.getpid())) as pool:
        futures = [pool.submit(_run_output, c) for c in range(q)]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _start_worker(fn, shared, left, parent: int):
    """In a forked worker: keep ``fn`` and ``shared`` (inherited, not pickled), the deadline on this clock; die
    with the parent (a parent killed, e.g. by a timeout, must not leave workers solving on)."""
    global _WORKER
    _die_with_parent(parent)
    deadline = None if left is None else time.perf_counter() + left
    _WORKER = (fn, shared._replace(deadline=deadline))


def _run_output(c: int):
    """In a worker: output ``c`` on one BLAS thread."""
    fn, shared = _WORKER
    with one_blas_thread():
        return fn(c, shared)


def _die_with_parent(parent: int) -> None:
    """Linux: ask the kernel to send SIGKILL to this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``),
    then exit if the parent is already gone. Elsewhere nothing (the pool's own shutdown applies)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)
