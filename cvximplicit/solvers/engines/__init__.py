"""What solves program (12): the :class:`Engine` protocol, its registry, and our own engines.

- :mod:`.registry` — the protocol (:class:`Engine`, :class:`EngineSolution`, :class:`WarmStart`,
  :class:`OwnCertificate`, :class:`FunctionEngine`) and the registry :data:`ENGINES` / :func:`get_engine`
  (re-exported here).
- :mod:`.first_order` — engine ``"FISTA"`` (augmented Lagrangian + restarted FISTA), with its smooth
  losses in :mod:`.losses`.
- :mod:`.admm` — engine ``"ADMM"``, with its operators (:mod:`._admm_ops`), repair and polish
  (:mod:`._admm_repair`) and options (:mod:`._admm_rho`).
- :mod:`._groups` — the engines' variable layout ``(d, 2, P, q)``.

A new engine is a new module here whose function is registered in :data:`ENGINES`; engines are
imported only when first used, so importing this package imports only the registry.
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
