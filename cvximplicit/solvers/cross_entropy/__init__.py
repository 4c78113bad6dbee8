"""The cross-entropy versions of the block steps, each certified by a Fenchel dual.

- :mod:`.certificate_ce` — the cross-entropy program (12): ``CEReluProgram``, objective, softmax
  Fenchel-dual bound (``ce_dual_bound``), β_max.
- :mod:`.convex_relu_ce` — ``solve_convex_relu_ce``: the exponential-cone program (Clarabel) or the
  FISTA engine with ``loss="cross_entropy"``, certified independently.
- :mod:`.logistic` — the output step: ridge multinomial logistic regression (``solve_multinomial_logistic``).

The public names are exported by :mod:`cvximplicit.solvers`.
"""
