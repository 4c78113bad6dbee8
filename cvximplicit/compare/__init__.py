r"""Compare solvers of the Ergen–Pilanci program (12) on one block, each under a hard wall-clock limit.

The program (rows of ``M`` are samples, ``D_k = diag(patterns[:, k])``):

.. math::

    \min_{V,W}\; \tfrac12 \Big\|\sum_k D_k M (V_k - W_k) - Y\Big\|_F^2
    + \beta \sum_k \big(\|V_k\|_2 + \|W_k\|_2\big)
    \quad \text{s.t. } (2D_k - I) M V_k \ge 0,\; (2D_k - I) M W_k \ge 0,

solved by :func:`cvximplicit.solvers.solve_convex_relu` with ``solver=NAME`` and
certified by its independent dual bound (the report's ``bound``, ``gap_rel`` and
``certificate``, shown as they are: a solve that misses its gap tolerance says
``"none"``).

**Hard limit.** Every solver runs in a child process (:mod:`multiprocessing`,
``fork`` where the platform has it, else ``spawn``), and every child — with or
without a time-limit option of its own — is stopped with ``terminate()`` when
``time_limit_s`` seconds of wall-clock time have passed since it started
(compilation, solve and certificate included) and reported with status
``"time_limit"``. A solver with its own time-limit option
(:data:`TIME_LIMIT_OPTIONS`) gets ``solver_share · time_limit_s`` through it
(default 0.8), so that it can stop by itself and still hand back a point and
its certificate before the hard stop. Peak memory is the child's peak resident set size
(``getrusage(RUSAGE_SELF).ru_maxrss`` in the child; for a stopped child its
``VmHWM`` read from ``/proc`` just before stopping it, where available); a forked
child starts with the parent's pages, so the number includes the parent's
baseline.

Named problems (:data:`PROBLEMS`, :func:`make_problem`):

- ``"exact-1d"``: block 1 of the smooth task, ``m = 500``, ``M = [u, 1]``, all
  arrangements (certificate ``"global"``), β = 1;
- ``"sampled-d50"``: a deeper block's input, ``m = 2000``, ``d = 50`` (49 ReLU
  features of a random layer plus bias), 50 sampled patterns, β = 1;
- ``"wide"``: a wide input like an image block, ``m = 500``, ``d = 401`` (sparse
  non-negative "pixels" plus bias), 20 sampled patterns, two outputs, β = 1.

A researcher's own block is an ``.npz`` file with ``M`` (``m × d``), ``Y``
(``m`` or ``m × q``), optional ``patterns`` (``m × P`` bool) and ``beta``
(:func:`load_problem`).
"""

from __future__ import annotations

from .output import TABLE_HEADER, format_row, format_table, plot_comparison, summarize
from .problems import (
           PROBLEMS,
           TIME_LIMIT_OPTIONS,
           BlockProblem,
           default_solvers,
           load_problem,
           make_problem,
)
from .run import compare_solvers, run_limited

__all__ = ["PROBLEMS", "TIME_LIMIT_OPTIONS", "BlockProblem", "make_problem", "load_problem", "default_solvers",
           "run_limited", "compare_solvers", "TABLE_HEADER", "format_table", "format_row", "summarize",
           "plot_comparison"]

