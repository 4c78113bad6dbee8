r"""Engine ``ACTIVE_SET``: program (12) by working sets over groups and cone rows, certified by a float64 dual bound.

The program separates over outputs; per output the engine alternates

- a **full pass** (:mod:`.full_pass`): every group's dual value at the residual (one GEMM, cone projections by
  NNLS where the plain score exceeds ``β``), a certified bound, and the groups with ``ρ_g > β`` entering;
- an **inner solve** (:mod:`.newton`, :mod:`.bent_search`): a primal active-set Newton method on the working set,
  each group on the null space of its tight cone rows (:mod:`.working_set`, :mod:`.linalg`), iterates feasible;

until the gap meets ``tol`` (:mod:`.solve`: the outer loop, its tolerance schedule and the final judgement). The
returned point is moved exactly into its cones and judged by :func:`~cvximplicit.solvers.relu.certificate.dual_bound`
on every group. Budgets count work (full passes, Newton steps); the clock acts only through ``time_limit_s``.
Memory ``O(m·d + m·P·q)``: no ``m × m`` or ``m × P·d`` matrix. ``docs/engines.md`` has the measurements.
"""

from .solve import ACTIVE_SET_OPTIONS, solve_convex_relu_active_set

__all__ = ["ACTIVE_SET_OPTIONS", "solve_convex_relu_active_set"]
