r"""Engine ``FISTA``: program (12) by an augmented Lagrangian with FISTA inner solves, certified by a float64 bound.

The loss is squared or, with ``loss="cross_entropy"``, ``Σ_i ℓ(Z0_i + F_i; y_i)`` of
:mod:`cvximplicit.solvers.cross_entropy.certificate_ce` (loss objects: :mod:`cvximplicit.solvers.engines.losses`);
below, ``½‖Fz − Y‖²`` stands for the loss and ``λ = Y − Fz`` for ``−∇_F`` of it. The program (one-vs-all outputs,
rows of ``M`` are samples, ``patterns[:, k]`` is the diagonal of ``D_k``, ``V, W`` are ``(P, d, q)``):

.. math::

    \min_{V,W}\; \tfrac12 \sum_c \Big\|\sum_k D_k M (V_{k,:,c} - W_{k,:,c}) - Y_{:,c}\Big\|^2
    + \beta \sum_{k,c} \big(\|V_{k,:,c}\|_2 + \|W_{k,:,c}\|_2\big)
    \quad \text{s.t. } (2D_k - I) M z_{k,c} \ge 0 \text{ for every group } z \in \{V, W\}.

- :mod:`.iteration` — the method of multipliers on the cone constraints (as scnn does), restarted FISTA on each
  inner problem, the cheap certificate from the gradient's group norms and the float64 one;
- :mod:`.solve` — the public function.

**Certificate.** The reported bound is always recomputed in float64 by
:func:`~cvximplicit.solvers.relu.certificate.dual_bound` (cross-entropy:
:func:`~cvximplicit.solvers.cross_entropy.certificate_ce.ce_dual_bound`), valid for any ``λ`` and ``μ ≥ 0`` whatever
the iterate; the largest such bound seen is kept.

**What ``objective`` means.** The float64 convex objective at the returned ``(V, W)``. The augmented Lagrangian
iterate may violate the cone constraints slightly; that relative violation is reported as ``residual``, and the
solve is certified only when it is at most ``max(tol, 1e-6)``. With a violation the convex objective is not
guaranteed to be ≥ the optimum, so ``extra["network_objective"]`` also gives the objective of the decoded network
(every non-zero group), always a true upper bound on the global nonconvex optimum.
"""

from .iteration import AL_PENALTY_DEFAULT
from .solve import FISTA_OPTIONS, solve_convex_relu_first_order

__all__ = ["AL_PENALTY_DEFAULT", "FISTA_OPTIONS", "solve_convex_relu_first_order"]
