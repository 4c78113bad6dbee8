"""What every block solver shares: the :class:`~cvximplicit.solvers.core.report.SolveReport` and the cvxpy backend.

- :mod:`.report` — ``SolveReport`` and the table of certificate kinds (``CERTIFIED_CLASS``).
- :mod:`.backend` — solver names, the MOSEK licence probe, strict cvxpy options, the status-checked solve.
- :mod:`._lru` — a small LRU cache and content digests (compiled cvxpy problems, the ADMM engine's operators).
- :mod:`._threads` — one BLAS thread for the loops of many small products.
- :mod:`._checks` — array checks of program (12)'s data at the public boundary.

The public names are exported by :mod:`cvximplicit.solvers`.
"""
