r"""Engine ``ADMM``: program (12) by ADMM with factorisations reused across calls, certified by a float64 dual bound.

Per output ``c``, with ``u = (v_1..v_P, w_1..w_P)`` (**rows of** ``M`` **are samples**, ``patterns[:, k]`` the
diagonal of ``D_k``, ``V, W`` ``(P, d, q)``):

.. math::

    \min_u\; \tfrac12\|F u - y\|^2 + \beta \sum_g \|u_g\|_2
    \quad\text{s.t. } G u \ge 0,\qquad
    F u = \sum_k D_k M (v_k - w_k),\quad G = \mathrm{blockdiag}\big((2D_k - I) M\big).

- :mod:`.iteration` — the splits ``z = u`` and ``s = G u ≥ 0`` (penalties ``ϱ``, ``ϱγ``), the steps and checks;
- :mod:`.operators` — the linear system ``(FᵀF/ϱ + I + γGᵀG) u = r``: ``GᵀG`` is block diagonal with blocks
  ``MᵀM`` (``(2D_k − I)² = I``), so in ``a = v − w``, ``b = v + w`` it splits into one ``d × d`` system and an
  ``a``-system solved by Woodbury in sample space (an ``m × m`` Cholesky, moderate ``m``) or by PCG with a
  Kronecker preconditioner (large ``m``); factorisations cached on digests of ``(M, patterns)``, keyed by ``(ϱ, γ)``;
  the exact reduction to the row space of ``M`` (rank-deficient ``M`` is solved on ``M Q``, re-certified on ``M``);
- :mod:`.certify` and :mod:`.polish` — the certificate checks: ``λ = y − F u`` and ``μ = −ϱγ ν ≥ 0`` give a
  float64 :func:`~cvximplicit.solvers.relu.certificate.dual_bound` (after an NNLS re-fit of the worst groups'
  multipliers); the point judged is moved exactly into its cones, and its support polished by active-set Newton;
- :mod:`.penalty` — the options, the default ``γ = 1/median eig(MᵀM)`` and ``ϱ = 0.1·λ_max(FᵀF)``, residual
  balancing; :mod:`.solve` — the public function.

The reported ``objective`` is at the returned, exactly feasible point (``constraint_violation == 0``), so
``objective ≥ p* ≥ bound`` and ``gap_rel`` is a true certificate. ``docs/engines.md`` has the measurements.
"""

from .operators import ADMM_DIRECT_MAX_M, clear_admm_cache
from .penalty import ADMM_OPTIONS
from .solve import solve_convex_relu_admm

__all__ = ["ADMM_DIRECT_MAX_M", "ADMM_OPTIONS", "clear_admm_cache", "solve_convex_relu_admm"]
