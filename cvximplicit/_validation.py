"""Input validation shared by the public entry points.

One check decides what counts as real numeric data (:func:`as_real_array`);
every public boundary that takes arrays (the estimators, :class:`ImplicitModel`,
the solvers, the baselines) goes through it, so they all accept and reject the
same things.  The rules follow scikit-learn's ``check_array(dtype="numeric")``:

* accepted: integer, unsigned, floating and boolean arrays (``True``/``False``
  read as 1/0, as scikit-learn does), and ``object`` arrays whose elements are
  all real numbers (e.g. a pandas column of Python ints);
* rejected with :class:`~cvximplicit.exceptions.InputTypeError` (a
  ``ValidationError`` that is also a ``TypeError``): complex arrays (even with a
  zero imaginary part — dropping it silently hides a bug upstream), string and
  bytes arrays (also numeric strings such as ``"1.5"``), ``object`` arrays with
  any element that is not a real number, dates and times, structured arrays,
  and sparse matrices;
* rejected with :class:`~cvximplicit.exceptions.ValidationError`: ragged
  nested sequences, a wrong number of dimensions, NaN and ±inf.
"""

from __future__ import annotations

import numbers
import os

import numpy as np

from .exceptions import InputTypeError, ValidationError

# Bytes per float64 entry, used by the size checks' memory estimates.
FLOAT64_BYTES = 8


def _describe(value) -> str:
    return type(value).__name__


def _check_object_elements(arr: np.ndarray, name: str) -> None:
    """Every element of an ``object`` array must be a real number."""
    for v in arr.flat:
        if isinstance(v, numbers.Real):
            continue
        if isinstance(v, (str, bytes, np.str_, np.bytes_)):
            raise InputTypeError(
                f"{name} contains strings (e.g. {v!r}); cvximplicit needs numbers — convert them first "
                f"(e.g. np.asarray({name}, dtype=float) for numeric strings, or encode categories)"
            )
        if isinstance(v, numbers.Complex):
            raise InputTypeError(
                f"Complex data not supported: {name} contains the complex value {v!r}; pass real numbers"
            )
        raise InputTypeError(
            f"{name} contains a {_describe(v)} where a number is expected: each argument must be a real "
            f"number, not a string or {_describe(v)} — pass an array of numbers"
        )


def as_real_array(x, name: str, *, ndim=None, copy: bool = False) -> np.ndarray:
    """``x`` as a finite float64 array, or a typed error naming ``name``.

    Parameters
    ----------
    x : array_like
        Real numeric data (see the module docstring for what is accepted).
    name : str
        The argument's name, used in error messages (``"X"``, ``"U"`` ...).
    ndim : int or tuple of int, optional
        Allowed number(s) of dimensions; ``None`` accepts any.
    copy : bool
        Always return a new array (otherwise ``x`` itself is returned when it
        already is a float64 ndarray).

    Returns
    -------
    numpy.ndarray
        float64, every entry finite.

    Raises
    ------
    InputTypeError
        Complex, string, bytes, date/time, structured or sparse input, or an
        ``object`` array holding anything but real numbers.  It is a
        :class:`ValidationError` (a ``ValueError``) and a ``TypeError``.
    ValidationError
        A ragged nested sequence, the wrong number of dimensions, NaN or inf.

    Examples
    --------
    >>> as_real_array([[1, 2], [3, 4]], "X", ndim=2).dtype
    dtype('float64')
    >>> as_real_array([1 + 2j], "X")
    Traceback (most recent call last):
    ...
    cvximplicit.exceptions.InputTypeError: Complex data not supported: X has dtype complex128; ...
    """
    if hasattr(x, "toarray") and hasattr(x, "nnz"):  # scipy.sparse, without importing scipy here
        raise InputTypeError(f"{name} is a sparse matrix; pass a dense array ({name}.toarray())")
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{name} must be a numeric array; got a {_describe(x)} that numpy cannot read as one ({exc})"
        ) from exc
    kind = arr.dtype.kind
    if kind == "c":
        raise InputTypeError(
            f"Complex data not supported: {name} has dtype {arr.dtype}; pass real numbers "
            f"(np.real({name}) if the imaginary part is known to be zero)"
        )
    if kind in "US":
        raise InputTypeError(
            f"{name} has the string dtype {arr.dtype}; cvximplicit needs numbers — convert first "
            f"(np.asarray({name}, dtype=float) for numeric strings, or encode categories)"
        )
    if kind == "O":
        if arr.ndim == 0 and not isinstance(arr.item(), numbers.Real):
            raise InputTypeError(f"{name} must be a numeric array; got {_describe(x)}")
        _check_object_elements(arr, name)
    elif kind not in "biuf":
        raise InputTypeError(f"{name} must be a real numeric array; got dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{k}-D" for k in allowed)
            raise ValidationError(f"{name} must be a {want} array; got an array with shape {arr.shape}")
    try:
        out = np.array(arr, dtype=np.float64, copy=True if copy else None)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"{name} could not be converted to float64 ({exc})") from exc
    if not np.all(np.isfinite(out)):
        bad = int(np.size(out) - np.count_nonzero(np.isfinite(out)))
        raise ValidationError(f"{name} contains NaN or inf ({bad} of {out.size} entries); remove or impute them")
    return out


def as_finite_matrix(name: str, value, *, layout: str = "") -> np.ndarray:
    """``value`` as a new finite 2-D float64 array, or a typed error naming ``name``.

    ``layout`` (e.g. ``"features × samples"``) is added to the shape message.
    The dtype rules are those of :func:`as_real_array`.
    """
    M = as_real_array(value, name, copy=True)
    if M.ndim != 2:
        what = f" ({layout})" if layout else ""
        raise ValidationError(f"{name} must be a 2-D matrix{what}; got an array with shape {M.shape}")
    return M


def check_memory(what: str, arrays: dict, *, hint: str = "reduce the sizes", limit_bytes: float | None = None) -> None:
    """Refuse a request whose float64 arrays could not be allocated, before allocating anything.

    Parameters
    ----------
    what : str
        The request, for the message (``"training with n=… on m=… samples"``).
    arrays : dict
        ``{label: shape}`` of the float64 arrays the request needs at once, e.g.
        ``{"A (n × n)": (n, n), "X (n × m)": (n, m)}``.
    hint : str
        How to fix it, appended to the message.
    limit_bytes : float, optional
        Default: the machine's physical memory.

    Raises
    ------
    ValidationError
        If ``Σ prod(shape) × 8`` bytes exceeds the limit; the message gives the
        bytes each array and the whole request would need.
    """
    sizes = {}
    for label, shape in arrays.items():
        need = float(FLOAT64_BYTES)
        for s in shape:
            need *= float(s)
        sizes[label] = (shape, need)
    total = sum(need for _, need in sizes.values())
    limit = _physical_memory() if limit_bytes is None else float(limit_bytes)
    if limit is not None and total > limit:
        parts = ", ".join(
            f"{label} = {' × '.join(str(int(s)) for s in shape)} float64 = {_format_bytes(need)}"
            for label, (shape, need) in sizes.items()
        )
        raise ValidationError(
            f"{what} would need {_format_bytes(total)} of memory ({parts}), more than the "
            f"{_format_bytes(limit)} this machine has; {hint}"
        )


def _physical_memory() -> float | None:
    try:
        return float(os.sysconf("SC_PAGE_SIZE")) * float(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if n < 1024 or unit == "EiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} EiB"


#: Values of the ``layout`` argument of the models' ``predict`` / ``state``: which axis of ``U`` holds the samples.
LAYOUTS = (None, "columns", "rows")


def samples_as_columns(U, p: int, layout, owner: str, *, stacklevel: int = 3) -> np.ndarray:
    """``U`` validated and in the paper's layout ``(p, m)``, columns are samples.

    ``layout="columns"``: ``U`` is ``(p, m)``; ``"rows"``: ``U`` is ``(m, p)`` (transposed here);
    ``None``: ``"columns"``, and a square ``U`` (``p == m > 1``, which reads either way) warns
    :class:`~cvximplicit.exceptions.OrientationWarning`. A 1-D ``U`` is ``m`` samples of one feature.
    ``owner`` names the model in messages (``"ImplicitModel"``); ``stacklevel`` points the warning at
    the user's call.
    """
    import warnings

    from .exceptions import OrientationWarning

    if layout not in LAYOUTS:
        raise ValidationError(f"layout must be 'columns' ((p, m): columns are samples), 'rows' ((m, p): rows are "
                              f"samples) or None ('columns'); got layout={layout!r}")
    U = as_real_array(U, "U", ndim=(1, 2))
    if U.ndim == 1 and p == 1:
        U = U[None, :] if layout != "rows" else U[:, None]
    if layout == "rows":
        if U.ndim != 2 or U.shape[1] != p:
            raise ValidationError(f"U must have shape (m, p) = (m, {p}) with layout='rows' (rows are samples); "
                                  f"got {U.shape}")
        return U.T
    if U.ndim != 2 or U.shape[0] != p:
        hint = (" (columns are samples; did you mean U.T, or layout='rows' for rows as samples?)"
                if U.ndim == 2 and U.shape[1] == p else "")
        raise ValidationError(f"U must have shape (p, m) = ({p}, m); got {U.shape}{hint}")
    if layout is None and p > 1 and U.shape[1] == p:
        warnings.warn(
            f"U is square ({p} × {p}), so it reads either way: {owner} takes it as (p, m), columns are samples (the "
            "paper's layout). If your rows are samples pass layout='rows'; pass layout='columns' to confirm the "
            "columns and silence this warning", OrientationWarning, stacklevel=stacklevel)
    return U
