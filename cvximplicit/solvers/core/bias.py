"""The bias column of program (12)'s input: one rule, ``bias=None | True | False``, for every public solver.

A neuron ``(M a)_+`` of program (12) has a bias only through a constant column of ``M``
(``M = Ũᵀ``, the block input **with rows as samples**). The public solvers
(:func:`~cvximplicit.solvers.solve_convex_relu`, :func:`~cvximplicit.solvers.solve_gated_relu`,
:func:`~cvximplicit.solvers.solve_convex_relu_path`, :func:`~cvximplicit.solvers.solve_convex_relu_ce`
and :func:`~cvximplicit.solvers.beta_max`) take ``bias``:

- ``None`` (default): ``M`` is used as given; when it has no constant column a
  :class:`~cvximplicit.exceptions.MissingBiasWarning` says so (then every neuron's hyperplane passes
  through the origin, and a 1-D input has only two arrangements, so ``patterns="auto"`` samples instead
  of enumerating them and no certificate can be ``"global"``);
- ``True``: a column of ones is appended to ``M`` (last column), and the solution's ``predict``
  appends it to new inputs too; an ``M`` that already has a constant column is refused;
- ``False``: ``M`` is used as given, without a check (a network without biases, or a bias you handle).
"""

from __future__ import annotations

import warnings

import numpy as np

from ...exceptions import MissingBiasWarning, ValidationError

__all__ = ["BIAS_VALUES", "apply_bias", "bias_scope", "constant_columns", "prediction_input"]

#: The values of the solvers' ``bias`` argument.
BIAS_VALUES = (None, True, False)


def constant_columns(M: np.ndarray) -> np.ndarray:
    """Indices of the columns of ``M`` ``(m, d)`` that hold one non-zero value in every row."""
    M = np.asarray(M)
    if M.ndim != 2 or M.shape[0] == 0:
        return np.zeros(0, dtype=int)
    return np.flatnonzero(np.all(M == M[0], axis=0) & (M[0] != 0))


def apply_bias(M: np.ndarray, bias, *, where: str, stacklevel: int = 3) -> tuple[np.ndarray, bool]:
    """``(M to solve with, whether a column of ones was appended)`` for a validated ``M`` ``(m, d)``.

    ``where`` names the caller in messages (e.g. ``"solve_convex_relu"``); ``stacklevel`` points the
    warning at the user's call.

    Raises
    ------
    ValidationError
        ``bias`` not one of ``None``, ``True``, ``False``; ``bias=True`` for an ``M`` that already has
        a constant column.
    """
    if not (bias is None or isinstance(bias, (bool, np.bool_))):
        raise ValidationError(f"{where}: bias must be None (check and warn), True (append a column of ones) or "
                              f"False (use M as given); got bias={bias!r}")
    if bias is not None and not bias:
        return M, False
    const = constant_columns(M)
    if bias:
        if const.size:
            raise ValidationError(
                f"{where}: M already has a constant column (column {int(const[0])}); bias=True would append a "
                "second one. Pass bias=False (or leave bias=None) to use M as given")
        return np.hstack([M, np.ones((M.shape[0], 1), dtype=M.dtype)]), True
    if const.size == 0:
        one_d = (" With a single input column there are only two arrangements, so patterns='auto' samples "
                 "them instead of enumerating them and no certificate can be 'global'." if M.shape[1] == 1 else "")
        warnings.warn(
            f"{where}: M ({M.shape[0]} × {M.shape[1]}, rows are samples) has no constant column, so the ReLU "
            f"neurons (M a)_+ have no bias: every hyperplane passes through the origin.{one_d} Pass bias=True to "
            "append a column of ones (the solution's predict appends it to new inputs too), or bias=False to use "
            "M as given without this check", MissingBiasWarning, stacklevel=stacklevel)
    return M, False


def prediction_input(M, d: int, appended: bool) -> np.ndarray:
    """New inputs ``M`` ``(m, d − appended)`` for a solution over ``d`` columns, with the ones appended if they were.

    Raises
    ------
    ValidationError
        ``M`` is not 2-D with the columns of the ``M`` solved on (without the appended bias column).
    """
    M = np.asarray(M, dtype=float)
    width = d - int(appended)
    if M.ndim != 2 or M.shape[1] != width:
        note = "; the bias column is appended by predict, as the solve had bias=True" if appended else ""
        raise ValidationError(f"M must have shape (m, {width}) (rows are samples, the columns of the M "
                              f"solved on{note}); got shape {M.shape}")
    if appended:
        M = np.hstack([M, np.ones((M.shape[0], 1))])
    return M


def bias_scope(M: np.ndarray, appended: bool) -> str:
    """What a report's ``scope["bias"]`` says: where the solved ``M``'s bias column is, if it has one."""
    if appended:
        return f"a column of ones appended by bias=True (column {M.shape[1] - 1})"
    const = constant_columns(M)
    return f"constant column {int(const[0])} of M" if const.size else "none (M has no constant column)"
