"""Declared parameter constraints, checked in one place (in the spirit of scikit-learn's ``_parameter_constraints``).

A constraint is a :class:`Int` or :class:`Real` interval, an :class:`Options` set of
strings, :data:`BOOL`, or ``None`` (the value may be None); a parameter may list several
(any one satisfies it). :func:`check_params` raises one :class:`ValidationError` that names
the parameter, what it must be and what it got::

    check_params("AlternatingBlockSolver", {"T": 0}, {"T": [Int(1)]})
    # ValidationError: AlternatingBlockSolver: T must be an integer >= 1; got T=0
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .exceptions import ValidationError

__all__ = ["Int", "Real", "Options", "BOOL", "check_params"]


@dataclass(frozen=True)
class Int:
    """An integer (not bool) in ``[low, high]`` (``None``: unbounded)."""

    low: int | None = None
    high: int | None = None

    def accepts(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self) -> str:
        if self.low is not None and self.low == self.high:
            return f"the integer {self.low}"
        return "an integer" + _bounds(self.low, self.high, True, True)


@dataclass(frozen=True)
class Real:
    """A finite real number (not bool) in the interval; ``closed`` says which ends are included."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right", "neither"

    def accepts(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            return False
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        ok_low = self.low is None or (value >= self.low if left else value > self.low)
        ok_high = self.high is None or (value <= self.high if right else value < self.high)
        return ok_low and ok_high

    def describe(self) -> str:
        return "a finite number" + _bounds(self.low, self.high, self.closed in ("both", "left"),
                                           self.closed in ("both", "right"))


@dataclass(frozen=True)
class Options:
    """One of the given strings."""

    values: tuple

    def accepts(self, value) -> bool:
        return isinstance(value, str) and value in self.values

    def describe(self) -> str:
        return f"one of {list(self.values)}"


class _Bool:
    def accepts(self, value) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "True or False"


#: The constraint "a bool".
BOOL = _Bool()


def _bounds(low, high, left_closed: bool, right_closed: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>=' if left_closed else '>'} {low}")
    if high is not None:
        parts.append(f"{'<=' if right_closed else '<'} {high}")
    return (" " + " and ".join(parts)) if parts else ""


def check_params(owner: str, params: Mapping[str, Any], constraints: Mapping[str, Sequence]) -> None:
    """Raise :class:`ValidationError` for the first parameter that satisfies none of its constraints.

    ``owner`` (the function or class) prefixes the message; ``""`` leaves the prefix out.
    """
    for name, allowed in constraints.items():
        value = params[name]
        if any(value is None if c is None else c.accepts(value) for c in allowed):
            continue
        what = " or ".join("None" if c is None else c.describe() for c in allowed)
        raise ValidationError(f"{owner + ': ' if owner else ''}{name} must be {what}; got {name}={value!r}")
