"""The Ergen–Pilanci convex program (12) of a ReLU block, its certificate, and its public solve.

- :mod:`.program` — ``ReluProgram``: data, patterns and β validated once; objective, violation,
  dual bound, network objective, decoding, β_max.
- :mod:`.certificate` — the maths of program (12): objective, constraint violation, scores, the scaled dual
  bound; public functions validate, kernels trust.
- :mod:`.arrangements` — activation patterns: exact (1-D), sampled, guided; ``resolve_patterns``.
- :mod:`.conic` — the cvxpy formulations of program (12) and ``ConicEngine`` (any cvxpy solver, or ``"auto"``).
- :mod:`.convex_relu` — ``solve_convex_relu``: the ``"auto"`` rule, the solve through an engine
  (:mod:`cvximplicit.solvers.engines`), the independent certificate and its kind.
- :mod:`.budget` — the block budget: exactly ``n_i`` neurons per block (the pool rule, the β path).
- :mod:`.path` — program (12) along a β sequence, each point certified.
- :mod:`.gated_relu` — ``solve_gated_relu``: the gated-ReLU relaxation and its certificate; its solver
  (:mod:`.group_lasso`: working sets, a group lasso in Gram form) and :mod:`.cone_decomposition` (back to a
  feasible point of program (12)).

The public names are exported by :mod:`cvximplicit.solvers`.
"""
