"""What every engine checks on entry: strict options, warm starts, and where ``verbose`` progress lines go.

Options are strict: an unknown keyword raises :class:`~cvximplicit.exceptions.ValidationError` naming the valid
ones (:func:`reject_unknown`); values are checked against declared constraints (``check_params``). A warm start
``V0, W0`` is validated to ``(P, d, q)`` (:func:`warm_start_groups`). With ``verbose`` an engine logs one line per
pass or check at level INFO on the logger ``cvximplicit.solvers.engines`` (:func:`progress_logger`).
"""

from __future__ import annotations

import logging
import sys

import numpy as np

from ...exceptions import ValidationError
from ..core._checks import _as_groups

__all__ = ["LOGGER", "progress_logger", "reject_unknown", "warm_start_groups"]

#: The logger of the engines' progress lines (``verbose=True``).
LOGGER = logging.getLogger("cvximplicit.solvers.engines")


def reject_unknown(engine: str, unknown, valid) -> None:
    """ValidationError naming the ``unknown`` keywords given to ``engine`` and its ``valid`` options, if any."""
    if unknown:
        raise ValidationError(f"unknown {engine} option(s) {sorted(unknown)}; valid options are {', '.join(valid)}")


def warm_start_groups(V0, W0, P: int, d: int, q: int) -> list:
    """``[V0, W0]`` validated to ``(P, d, q)`` float64 (None stays None)."""
    return [None if Z0 is None else _as_groups(Z0, P, d, q, name).astype(np.float64)
            for Z0, name in ((V0, "V0"), (W0, "W0"))]


def progress_logger(verbose: bool) -> logging.Logger | None:
    """:data:`LOGGER` when ``verbose`` (None otherwise), so that ``if log: log.info(...)`` writes a progress line.

    So that ``verbose=True`` shows something where logging was never configured, the first verbose call then adds
    a handler to stderr and lets INFO through; a configured application keeps its own handlers and levels.
    """
    if not verbose:
        return None
    if not LOGGER.hasHandlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        LOGGER.addHandler(handler)
        LOGGER.setLevel(logging.INFO)
    return LOGGER
