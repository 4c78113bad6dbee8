"""What solves program (12): the :class:`Engine` protocol, its registry, our own engines and what they share.

- :mod:`.registry` — the protocol (:class:`Engine`, :class:`EngineSolution`, :class:`WarmStart`,
  :class:`OwnCertificate`, :class:`FunctionEngine`) and the registry :data:`ENGINES` / :func:`get_engine`
  (re-exported here).
- :mod:`.active_set` — engine ``"ACTIVE_SET"`` (working sets over groups and cone rows; the first choice of
  ``solver="auto"`` for a plain program): the outer loop, the full pass, the working set and its Gram cache,
  the Newton inner solve and its bent search, the dense linear algebra of the faces.
- :mod:`.admm` — engine ``"ADMM"``: the iteration, its cached operators and linear solver, the certificate
  checks with the support polish and multiplier re-fit, the options and penalties.
- :mod:`.first_order` — engine ``"FISTA"`` (augmented Lagrangian + restarted FISTA), with its smooth
  losses in :mod:`.losses`.

What every engine imports, written once:

- :mod:`.groups` — the variables' and multipliers' layouts, the group norms' prox and curvature, ``λ_max(FᵀF)``;
- :mod:`.iterations` — power iteration, backtracking (Armijo), restarted FISTA's step and momentum;
- :mod:`.cones` — a group's cone: membership, NNLS multipliers, the projection;
- :mod:`.feasibility` — groups moved exactly into their cones, ``exact_point``;
- :mod:`.options` — strict options, warm starts, the ``verbose`` logger;
- :mod:`.judge` — the final judgement of a point into a report.

The dual side (scores ``‖Mᵀ D_k r‖``, the scaled dual bound, the float64 certificate) is
:mod:`cvximplicit.solvers.relu.certificate`. A new engine is a new module (or package) here whose function is
registered in :data:`ENGINES`; engines are imported only when first used, so importing this package imports only
the registry.
"""

from __future__ import annotations

from .registry import (
    CONIC_ENGINE,
    ENGINES,
    Engine,
    EngineSolution,
    FunctionEngine,
    OwnCertificate,
    WarmStart,
    engine_available,
    get_engine,
    is_engine,
)

__all__ = ["ENGINES", "CONIC_ENGINE", "Engine", "EngineSolution", "OwnCertificate", "WarmStart", "FunctionEngine",
           "is_engine", "engine_available", "get_engine"]
