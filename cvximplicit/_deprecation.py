"""Old call forms kept working, with a :class:`FutureWarning`, while a public signature changes.

:func:`deprecated_call_forms` wraps a function whose keyword-only parameters used to be positional, or
whose keyword arguments were renamed (scikit-learn's ``_deprecate_positional_args`` does the first):
``inspect.signature`` shows the new signature, and an old call runs as the new one after one
:class:`FutureWarning` that says what to write instead.
"""

from __future__ import annotations

import functools
import inspect
import warnings

__all__ = ["deprecated_call_forms"]


def deprecated_call_forms(*, positional: tuple[str, ...] = (), renamed: tuple[tuple[str, str], ...] = ()):
    """Accept ``positional`` keyword-only parameters positionally and the old names of ``renamed``, warning.

    Parameters
    ----------
    positional : tuple of str
        Keyword-only parameters that callers used to pass positionally, in their old order, right after
        the function's positional parameters.
    renamed : tuple of (old, new) pairs
        Keyword arguments that were renamed from ``old`` to ``new``.
    """
    old_names = dict(renamed)

    def decorate(func):
        params = inspect.signature(func).parameters.values()
        n_positional = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
        name = func.__name__

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            extra, args = args[n_positional:], args[:n_positional]
            if len(extra) > len(positional):
                raise TypeError(f"{name}() takes {n_positional} positional arguments but "
                                f"{n_positional + len(extra)} were given")
            fixes = []
            for key, value in zip(positional, extra):
                if key in kwargs:
                    raise TypeError(f"{name}() got multiple values for argument {key!r}")
                kwargs[key] = value
                fixes.append(f"pass {key} as a keyword ({key}=...), not positionally")
            for old, new in old_names.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{name}() got both {old}= (its old name) and {new}=; pass {new}= only")
                    kwargs[new] = kwargs.pop(old)
                    fixes.append(f"{old}= is now {new}=")
            if fixes:
                warnings.warn(f"{name}: {'; '.join(fixes)}. The old form is deprecated and will stop working in a "
                              "future release", FutureWarning, stacklevel=2)
            return func(*args, **kwargs)

        return wrapper

    return decorate
