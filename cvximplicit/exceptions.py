"""Exception types raised by cvximplicit.

Every error names what is wrong and how to fix it.  All of them derive from
:class:`CvxImplicitError`, so ``except CvxImplicitError`` catches any of them;
the validation errors also derive from :class:`ValueError` so that generic
callers (scikit-learn's checks, argparse wrappers) see the usual type.

:class:`NotFittedError` subclasses scikit-learn's ``NotFittedError``; it is built on first
use (module ``__getattr__``), so ``import cvximplicit`` does not import scikit-learn.
"""

from __future__ import annotations

__all__ = [
    "CvxImplicitError",
    "ValidationError",
    "InputTypeError",
    "NotFittedError",
    "DataError",
    "SolverUnavailableError",
    "MosekLicenseError",
    "SolverFailedError",
    "ConvergenceError",
    "MissingDependencyError",
    "InaccurateSolutionWarning",
    "ConvergenceWarning",
    "MissingBiasWarning",
    "OrientationWarning",
]


class CvxImplicitError(Exception):
    """Base class of every error raised by cvximplicit."""


class ValidationError(CvxImplicitError, ValueError):
    """Bad input: wrong shape, NaN/inf, an out-of-range or unknown option."""


class InputTypeError(ValidationError, TypeError):
    """Input whose type cannot be read as real numbers: complex, strings, objects, sparse.

    Both a :class:`ValidationError` (``ValueError``) and a ``TypeError``, as
    scikit-learn's checks expect for non-numeric data.
    """


def _not_fitted_error() -> type:
    """Build :class:`NotFittedError` once (importing scikit-learn) and keep it as a module attribute."""
    from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

    cls = type("NotFittedError", (CvxImplicitError, _SklearnNotFittedError), {
        "__module__": __name__,
        "__qualname__": "NotFittedError",
        "__doc__": """An estimator was used before ``fit``.

    Subclasses scikit-learn's ``NotFittedError`` (itself a ``ValueError`` and an
    ``AttributeError``), so scikit-learn's tooling recognises it. The class is created when
    first used, so that ``import cvximplicit`` does not import scikit-learn.
    """,
    })
    globals()["NotFittedError"] = cls
    return cls


def __getattr__(name: str):
    if name == "NotFittedError":
        return _not_fitted_error()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"NotFittedError"})


class DataError(CvxImplicitError, OSError):
    """A data file is missing, truncated or does not match its checksum."""


class SolverUnavailableError(CvxImplicitError, ValueError):
    """The requested solver is unknown or not installed."""


class MosekLicenseError(SolverUnavailableError):
    """MOSEK is installed but no licence could be checked out."""


class SolverFailedError(CvxImplicitError, RuntimeError):
    """A solver ran but returned no usable solution (infeasible, error, ...)."""

    def __init__(self, message: str, *, solver: str | None = None, status: str | None = None):
        super().__init__(message)
        self.solver = solver
        self.status = status


class ConvergenceError(CvxImplicitError, RuntimeError):
    """An iteration (e.g. Picard fixed-point iteration) did not converge."""


class MissingDependencyError(CvxImplicitError, ImportError):
    """An optional dependency (torch, matplotlib, ...) is needed but missing."""


class InaccurateSolutionWarning(UserWarning):
    """A solver returned ``optimal_inaccurate``; the message carries its numbers."""


class ConvergenceWarning(UserWarning):
    """An iteration stopped at its cap; the message carries the residual."""


class MissingBiasWarning(UserWarning):
    """A solver's input ``M`` has no constant column, so its ReLU neurons have no bias (pass ``bias=``)."""


class OrientationWarning(UserWarning):
    """A square input reads either way (samples as rows or as columns); the documented layout was used."""
