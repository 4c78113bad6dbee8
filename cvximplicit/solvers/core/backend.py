"""Solver names, the MOSEK licence probe, and a status-checked cvxpy solve.

Two levels of options: a *checked* solver name and a ``solver_opts`` dict whose keys are
checked against the solver's own settings, then passed to ``problem.solve``.

- :data:`SOLVER_NAMES` — every name accepted anywhere in :mod:`cvximplicit.solvers`:
  ``"auto"``, our engines for the Ergen–Pilanci program (:data:`~cvximplicit.solvers.engines.ENGINES`:
  ``"ACTIVE_SET"``, ``"ADMM"``, ``"FISTA"``) and every cvxpy solver name.
- :func:`check_solver` normalises the case and raises a typed error when a name is
  unknown, not installed, or (MOSEK) installed but unlicensed. ``cvxpy.installed_solvers()``
  lists MOSEK even without a licence, so "installed" is not "usable":
  :func:`available_solvers` only lists usable ones.
- :func:`check_solver_options` rejects an option the named solver does not have
  (:class:`~cvximplicit.exceptions.ValidationError` naming the valid ones where the solver
  lists them); an option error is never a reason to try another solver.
- :func:`solve_cvxpy` solves a :class:`cvxpy.Problem` and checks ``problem.status``. A
  solver named explicitly runs alone: its failure raises
  :class:`~cvximplicit.exceptions.SolverFailedError` with its status. Only under ``"auto"``
  is a fallback chain walked, and the result says which solver ran and why.
"""

from __future__ import annotations

import functools
import time
import warnings
from typing import Any, Mapping, NamedTuple, Sequence

import cvxpy as cp
import cvxpy.settings as _cp_settings

from ...exceptions import (InaccurateSolutionWarning, MosekLicenseError, SolverFailedError, SolverUnavailableError,
                           ValidationError)
from ..engines.registry import ENGINES, engine_available, is_engine

__all__ = ["SOLVER_NAMES", "DEFAULT_CONIC_SOLVER", "CLARABEL_OPTS", "CvxpySolveResult", "available_solvers",
           "mosek_licensed", "check_solver", "check_solver_options", "solver_option_names", "solve_cvxpy"]

#: Every cvxpy solver name cvxpy knows about, plus the installed ones it lists
#: separately (e.g. ``ECOS_BB``).
_CVXPY_NAMES = tuple(dict.fromkeys(list(_cp_settings.SOLVERS) + list(cp.installed_solvers())))

#: Names accepted by :func:`check_solver`: ``"auto"``, our engines and the cvxpy solvers.
SOLVER_NAMES: tuple[str, ...] = ("auto",) + tuple(ENGINES) + _CVXPY_NAMES

#: The conic solver ``"auto"`` uses first.
DEFAULT_CONIC_SOLVER = "CLARABEL"

#: Clarabel options used by the block solvers unless ``solver_opts`` overrides
#: them: gap and feasibility tolerances 1e-8 (Clarabel's defaults, stated
#: explicitly). Measured on the exact 1-D block (m=500, 4 data sets × 5 values of
#: β): the independent dual certificate of program (12) reached ``gap_rel`` ≤ 7e-8
#: (target 1e-6) with no inaccurate status; tightening to 1e-9 gave no better
#: worst case and more ``optimal_inaccurate`` returns inside the trainer.
CLARABEL_OPTS: dict[str, Any] = {"tol_gap_abs": 1e-8, "tol_gap_rel": 1e-8, "tol_feas": 1e-8}

#: Statuses treated as success (``optimal_inaccurate`` additionally warns).
_OK = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)

#: pip package names for the install hint of a missing solver.
_PIP_HINT = {
    "CLARABEL": "clarabel", "SCS": "scs", "ECOS": "ecos", "ECOS_BB": "ecos", "OSQP": "osqp",
    "MOSEK": "mosek", "HIGHS": "highspy", "GUROBI": "gurobipy", "CVXOPT": "cvxopt", "PIQP": "piqp",
    "PROXQP": "proxsuite", "QOCO": "qoco", "DAQP": "daqp", "SCIP": "pyscipopt", "COPT": "coptpy",
    "XPRESS": "xpress", "CPLEX": "cplex", "GLPK": "cvxopt", "GLPK_MI": "cvxopt", "GLOP": "ortools",
    "PDLP": "ortools", "CBC": "cylp", "SDPA": "sdpa-python", "KNITRO": "knitro",
}


class CvxpySolveResult(NamedTuple):
    """What :func:`solve_cvxpy` returns (unpacks as a 5-tuple).

    Attributes
    ----------
    solver : str
        The solver whose solution is in the problem's variables.
    status : str
        ``problem.status`` after that solve (``"optimal"`` or ``"optimal_inaccurate"``).
    compile_time_s : float
        cvxpy's compilation (canonicalisation) time of the successful solve.
    solve_time_s : float
        Time inside the solver (``solver_stats.solve_time``, else wall time minus compilation).
    iterations : int or None
        Solver iterations, when the solver reports them.
    reason : str
        Why ``solver`` ran: ``"requested"``, ``"auto: ..."``, or the failures under
        ``"auto"`` that led to it.
    """

    solver: str
    status: str
    compile_time_s: float
    solve_time_s: float
    iterations: int | None
    reason: str = "requested"


@functools.lru_cache(maxsize=1)
def mosek_licensed() -> bool:
    """Whether MOSEK is importable *and* a licence can be checked out.

    A cheap probe (~20 ms, cached for the process): ``mosek.Env().checkoutlicense(mosek.feature.pts)``
    raises ``mosek.Error`` 1008 when no licence file is found.
    """
    try:
        import mosek  # noqa: PLC0415  (optional dependency)
    except ImportError:
        return False
    try:
        with mosek.Env() as env:
            env.checkoutlicense(mosek.feature.pts)
    except Exception:  # mosek.Error (licence missing/expired) or an environment error
        return False
    return True


@functools.lru_cache(maxsize=1)
def _installed() -> tuple[str, ...]:
    """``cvxpy.installed_solvers()``, cached (it probes every solver's import: ~30 ms)."""
    return tuple(cp.installed_solvers())


def available_solvers() -> list[str]:
    """cvxpy solvers that are installed *and* usable here (MOSEK only when licensed).

    ``"auto"`` and the available engines (:func:`~cvximplicit.solvers.engines.engine_available`)
    are accepted besides these.
    """
    names = list(_installed())
    if "MOSEK" in names and not mosek_licensed():
        names.remove("MOSEK")
    return names


def _engines_here() -> list[str]:
    return [name for name in ENGINES if engine_available(name)]


def check_solver(name: str) -> str:
    """Validate a solver name and return its canonical (upper-case) spelling.

    Parameters
    ----------
    name : str
        ``"auto"``, an engine name (``"FISTA"``, ``"ADMM"``) or a cvxpy solver name, any case.

    Returns
    -------
    str
        ``"auto"``, the engine name or the upper-case cvxpy name.

    Raises
    ------
    SolverUnavailableError
        If the name is unknown (the message lists the valid names) or the solver
        is not installed (the message gives the pip package to install).
    MosekLicenseError
        If MOSEK is installed but no licence can be checked out.
    """
    if not isinstance(name, str):
        raise SolverUnavailableError(f"solver must be a string, one of {list(SOLVER_NAMES)}; got {name!r}")
    if name.lower() == "auto":
        return "auto"
    canonical = name.upper()
    if canonical not in SOLVER_NAMES:
        raise SolverUnavailableError(
            f"unknown solver {name!r}; valid names are {list(SOLVER_NAMES)} "
            f"(installed and usable here: {['auto'] + _engines_here() + available_solvers()})"
        )
    if is_engine(canonical):
        if not engine_available(canonical):
            raise SolverUnavailableError(
                f"engine {canonical!r} is not available in this installation; use one of "
                f"{['auto'] + _engines_here() + available_solvers()}"
            )
        return canonical
    if canonical not in _installed():
        package = _PIP_HINT.get(canonical, canonical.lower())
        raise SolverUnavailableError(
            f"solver {canonical!r} is not installed; install it with `pip install {package}` "
            f"or use one of {['auto'] + available_solvers()}"
        )
    if canonical == "MOSEK" and not mosek_licensed():
        raise MosekLicenseError(
            "solver 'MOSEK' is installed but unlicensed (mosek.Error 1008: no licence file found). "
            "Install a licence at ~/mosek/mosek.lic or point MOSEKLM_LICENSE_FILE at it "
            "(free academic licences: https://www.mosek.com/products/academic-licenses/), "
            "or use solver='auto' or solver='CLARABEL'"
        )
    return canonical


#: Keyword arguments of ``cvxpy.Problem.solve`` itself, accepted with every solver.
CVXPY_SOLVE_OPTIONS = ("verbose", "warm_start", "canon_backend", "enforce_dpp", "ignore_dpp")

#: ECOS's settings (its Python interface's keyword arguments).
_ECOS_OPTIONS = ("feastol", "abstol", "reltol", "feastol_inacc", "abstol_inacc", "reltol_inacc", "max_iters",
                 "nitref")


@functools.lru_cache(maxsize=None)
def solver_option_names(name: str) -> tuple[str, ...] | None:
    """The options ``solver_opts`` may hold for cvxpy solver ``name``, or None where the solver does not list them.

    Clarabel's are read from ``clarabel.DefaultSettings``; ECOS's are fixed. For other
    solvers, an unknown option is caught when the solver rejects it (see :func:`solve_cvxpy`).
    """
    if name == "CLARABEL":
        return CVXPY_SOLVE_OPTIONS + tuple(sorted(a for a, _ in _clarabel_settings_items()))
    if name in ("ECOS", "ECOS_BB"):
        return CVXPY_SOLVE_OPTIONS + _ECOS_OPTIONS
    return None


@functools.lru_cache(maxsize=1)
def _clarabel_settings_items() -> tuple:
    """``(name, default)`` of every setting of ``clarabel.DefaultSettings`` (cvxpy's own solve options left out)."""
    import clarabel  # noqa: PLC0415

    settings = clarabel.DefaultSettings()
    own = [a for a in dir(settings) if not a.startswith("_") and not callable(getattr(settings, a))
           and a not in CVXPY_SOLVE_OPTIONS]  # verbose is cvxpy's own (problem.solve's argument)
    return tuple((a, getattr(settings, a)) for a in own)


def _clarabel_settings() -> dict[str, Any]:
    """Clarabel's default value of every setting."""
    return dict(_clarabel_settings_items())


def check_solver_options(name: str, solver_opts: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``solver_opts`` as a dict, or raise :class:`ValidationError` naming an unknown key and the valid ones.

    ``name`` is a canonical cvxpy solver name (see :func:`check_solver`).
    """
    if solver_opts is None:
        return {}
    if not isinstance(solver_opts, Mapping):
        raise ValidationError(f"solver_opts must be a dict of options for solver {name!r} or None; got {solver_opts!r}")
    valid = solver_option_names(name)
    unknown = [k for k in solver_opts if not isinstance(k, str) or (valid is not None and k not in valid)]
    if unknown:
        raise ValidationError(
            f"unknown option(s) {unknown} for solver {name!r}; valid options are {list(valid or [])}"
        )
    return dict(solver_opts)


def _option_error(name: str, exc: Exception, solver_opts: Mapping[str, Any]) -> ValidationError | None:
    """A :class:`ValidationError` when ``exc`` is the solver rejecting one of the user's options, else None."""
    if not isinstance(exc, (TypeError, ValueError)):
        return None
    text = str(exc)
    bad = [k for k in solver_opts if str(k) in text]
    if not bad:
        return None
    return ValidationError(
        f"solver {name!r} rejected option(s) {bad} of solver_opts ({type(exc).__name__}: {text}); "
        "see the solver's documentation for its settings"
    )


def _chain(solver: str, fallback: Sequence[str]) -> list[str]:
    """The solvers to try: the named one alone, or under ``"auto"`` the default then the usable fallbacks."""
    if solver != "auto":
        return [solver]
    chain = []
    for name in [DEFAULT_CONIC_SOLVER] + [str(f).upper() for f in fallback]:
        if name == "AUTO" or is_engine(name) or name in chain:
            continue
        if name == "MOSEK" and not mosek_licensed():
            continue
        if name in _installed():
            chain.append(name)
    return chain


def solve_cvxpy(
    problem: cp.Problem,
    *,
    solver: str = "auto",
    solver_opts: Mapping[str, Any] | None = None,
    fallback: Sequence[str] = ("SCS",),
    problem_name: str = "",
    default_opts: Mapping[str, Mapping[str, Any]] | None = None,
    warn_inaccurate: bool = True,
) -> CvxpySolveResult:
    """Solve ``problem`` with status checks; a fallback chain only under ``"auto"``.

    Parameters
    ----------
    problem : cvxpy.Problem
        The problem; on return its variables (and constraint duals) hold the solution.
    solver : str
        A name accepted by :func:`check_solver` other than an engine; ``"auto"``
        means :data:`DEFAULT_CONIC_SOLVER` with ``fallback`` after it.
    solver_opts : dict, optional
        Options of the requested solver (under ``"auto"``: of :data:`DEFAULT_CONIC_SOLVER`),
        checked by :func:`check_solver_options` and then passed to ``problem.solve``
        on top of its ``default_opts``. Fallback solvers get only their ``default_opts``.
    fallback : sequence of str
        Under ``"auto"`` only: solvers tried, in order, when the previous one raises or
        returns a non-optimal status. Uninstalled or unlicensed entries are skipped.
        A solver named explicitly never falls back.
    problem_name : str
        Used in warnings and errors.
    default_opts : mapping, optional
        Per-solver defaults (e.g. ``{"CLARABEL": CLARABEL_OPTS}``).
    warn_inaccurate : bool
        Warn when the accepted status is ``optimal_inaccurate``. Callers that certify
        the solution independently (least squares, program (12)) pass False and warn
        only when their certificate fails.

    Returns
    -------
    CvxpySolveResult
        ``(solver, status, compile_time_s, solve_time_s, iterations, reason)``.

    Raises
    ------
    SolverUnavailableError, MosekLicenseError
        If ``solver`` is not usable (see :func:`check_solver`).
    ValidationError
        If ``solver_opts`` has an option the solver does not know.
    SolverFailedError
        If the named solver failed, or (``"auto"``) every solver of the chain failed;
        ``.solver`` and ``.status`` name the last one.

    Warns
    -----
    InaccurateSolutionWarning
        If ``warn_inaccurate`` and the accepted solution has status ``optimal_inaccurate``.
    """
    requested = check_solver(solver)
    if is_engine(requested):
        raise SolverUnavailableError(
            f"solver {requested!r} is an engine of the convex ReLU program (12) only; it cannot solve the "
            f"cvxpy problem {problem_name or 'given'}. Use solver='auto' or a conic solver such as 'CLARABEL'"
        )
    defaults = {} if default_opts is None else dict(default_opts)
    chain = _chain(requested, fallback)
    user_opts = check_solver_options(chain[0], solver_opts) if chain else {}
    failures = []
    last_solver, last_status = None, None
    for name in chain:
        opts = dict(defaults.get(name, {}))
        if name == chain[0]:
            opts.update(user_opts)
        if name == "CLARABEL":
            # every setting, each call: cvxpy re-solves a cached problem by updating its Clarabel solver, starting
            # from the last call's settings, so an option of an earlier call (max_iter=1) would otherwise persist
            opts = {**_clarabel_settings(), **opts}
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                # cvxpy's generic "Solution may be inaccurate" is replaced by the caller's certificate.
                warnings.filterwarnings("ignore", message="Solution may be inaccurate", category=UserWarning)
                problem.solve(solver=name, **opts)
            status = problem.status
        except Exception as exc:  # cvxpy.SolverError, solver-specific errors (e.g. mosek.Error)
            option_error = _option_error(name, exc, user_opts) if name == chain[0] else None
            if option_error is not None:
                raise option_error from exc
            status = f"error: {type(exc).__name__}: {exc}"
        wall = time.perf_counter() - start
        last_solver, last_status = name, status
        if status in _OK and problem.value is not None:
            compile_s = float(getattr(problem, "compilation_time", None) or 0.0)
            stats = problem.solver_stats
            solve_s = stats.solve_time if stats is not None and stats.solve_time is not None else None
            solve_s = float(max(wall - compile_s, 0.0) if solve_s is None else solve_s)
            iters = None if stats is None or stats.num_iters is None else int(stats.num_iters)
            if warn_inaccurate and status == cp.OPTIMAL_INACCURATE:
                warnings.warn(
                    f"{name} returned 'optimal_inaccurate' on {problem_name or 'a problem'}: "
                    f"objective={problem.value:.10g}, iterations={iters}, solve_time={solve_s:.3g}s; "
                    "tighten/raise the iteration limit via solver_opts or use another solver",
                    InaccurateSolutionWarning,
                    stacklevel=2,
                )
            if requested != "auto":
                reason = "requested"
            elif not failures:
                reason = f"auto: {DEFAULT_CONIC_SOLVER}, the default conic solver"
            else:
                reason = f"auto: fallback after {'; '.join(failures)}"
            return CvxpySolveResult(name, status, compile_s, solve_s, iters, reason)
        failures.append(f"{name}: {status}")
    what = "the requested solver failed" if requested != "auto" else "no solver of the 'auto' chain succeeded"
    raise SolverFailedError(
        f"{what} on {problem_name or 'the problem'}: {'; '.join(failures) or 'no usable solver'}"
        + ("" if requested == "auto" else "; use solver='auto' to allow a fallback, or change solver_opts"),
        solver=last_solver,
        status=last_status,
    )
