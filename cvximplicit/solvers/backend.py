"""Solver names, the MOSEK licence probe, and a status-checked cvxpy solve.

Two levels of options (see STYLE.md): a *checked* solver name and an opaque
``solver_opts`` dict passed unchanged to ``problem.solve``.

- :data:`SOLVER_NAMES` — every name accepted anywhere in :mod:`cvximplicit.solvers`:
  ``"auto"``, ``"FISTA"`` (the first-order engine for the Ergen–Pilanci program)
  and every cvxpy solver name.
- :func:`check_solver` normalises the case and raises a typed error when a name is
  unknown, not installed, or (MOSEK) installed but unlicensed. ``cvxpy.installed_solvers()``
  lists MOSEK even without a licence, so "installed" is not "usable":
  :func:`available_solvers` only lists usable ones.
- :func:`solve_cvxpy` solves a :class:`cvxpy.Problem`, checks ``problem.status``,
  warns on ``optimal_inaccurate`` (:class:`~cvximplicit.exceptions.InaccurateSolutionWarning`
  carrying the numbers), walks a fallback chain on failure and raises
  :class:`~cvximplicit.exceptions.SolverFailedError` when the chain is exhausted.
"""

from __future__ import annotations

import functools
import time
import warnings
from typing import Any, Mapping, NamedTuple, Sequence

import cvxpy as cp
import cvxpy.settings as _cp_settings

from ..exceptions import InaccurateSolutionWarning, MosekLicenseError, SolverFailedError, SolverUnavailableError

__all__ = [
    "SOLVER_NAMES",
    "DEFAULT_CONIC_SOLVER",
    "CLARABEL_OPTS",
    "CvxpySolveResult",
    "available_solvers",
    "mosek_licensed",
    "check_solver",
    "solve_cvxpy",
]

#: Every cvxpy solver name cvxpy knows about, plus the installed ones it lists
#: separately (e.g. ``ECOS_BB``).
_CVXPY_NAMES = tuple(dict.fromkeys(list(_cp_settings.SOLVERS) + list(cp.installed_solvers())))

#: Names accepted by :func:`check_solver`: ``"auto"``, ``"FISTA"`` and the cvxpy solvers.
SOLVER_NAMES: tuple[str, ...] = ("auto", "FISTA") + _CVXPY_NAMES

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
    """

    solver: str
    status: str
    compile_time_s: float
    solve_time_s: float
    iterations: int | None


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

    ``"auto"`` and ``"FISTA"`` are always accepted besides these.
    """
    names = list(_installed())
    if "MOSEK" in names and not mosek_licensed():
        names.remove("MOSEK")
    return names


def check_solver(name: str) -> str:
    """Validate a solver name and return its canonical (upper-case) spelling.

    Parameters
    ----------
    name : str
        ``"auto"``, ``"FISTA"`` or a cvxpy solver name, any case.

    Returns
    -------
    str
        ``"auto"``, ``"FISTA"`` or the upper-case cvxpy name.

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
            f"(installed and usable here: {['auto', 'FISTA'] + available_solvers()})"
        )
    if canonical == "FISTA":
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


def _chain(solver: str, fallback: Sequence[str]) -> list[str]:
    """The ordered, de-duplicated list of usable solvers to try."""
    first = [DEFAULT_CONIC_SOLVER] if solver == "auto" else [solver]
    chain = []
    for name in first + [str(f).upper() for f in fallback]:
        if name in ("auto", "FISTA") or name in chain:
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
    fallback: Sequence[str] = ("CLARABEL", "SCS"),
    problem_name: str = "",
    default_opts: Mapping[str, Mapping[str, Any]] | None = None,
) -> CvxpySolveResult:
    """Solve ``problem`` with status checks and a fallback chain.

    Parameters
    ----------
    problem : cvxpy.Problem
        The problem; on return its variables (and constraint duals) hold the solution.
    solver : str
        A name accepted by :func:`check_solver` other than ``"FISTA"``; ``"auto"``
        means :data:`DEFAULT_CONIC_SOLVER`.
    solver_opts : dict, optional
        Passed unchanged to ``problem.solve`` for the *requested* solver only
        (fallback solvers get their ``default_opts``: options of one solver are
        usually invalid for another).
    fallback : sequence of str
        Solvers tried, in order, when the requested one raises or returns a
        non-optimal status (infeasible, unbounded, solver error). Uninstalled or
        unlicensed entries are skipped.
    problem_name : str
        Used in warnings and errors.
    default_opts : mapping, optional
        Per-solver defaults (e.g. ``{"CLARABEL": CLARABEL_OPTS}``), overridden key
        by key by ``solver_opts`` for the requested solver.

    Returns
    -------
    CvxpySolveResult
        ``(solver, status, compile_time_s, solve_time_s, iterations)``.

    Raises
    ------
    SolverUnavailableError, MosekLicenseError
        If ``solver`` is not usable (see :func:`check_solver`).
    SolverFailedError
        If every solver of the chain failed; ``.solver`` and ``.status`` name the last one.

    Warns
    -----
    InaccurateSolutionWarning
        If the accepted solution has status ``optimal_inaccurate``.
    """
    requested = check_solver(solver)
    if requested == "FISTA":
        raise SolverUnavailableError(
            f"solver 'FISTA' is the first-order engine of the convex ReLU program (12); it cannot solve the "
            f"cvxpy problem {problem_name or 'given'}. Use solver='auto' or a conic solver such as 'CLARABEL'"
        )
    defaults = {} if default_opts is None else dict(default_opts)
    chain = _chain(requested, fallback)
    failures = []
    last_solver, last_status = None, None
    for name in chain:
        opts = dict(defaults.get(name, {}))
        if name == chain[0] and solver_opts:
            opts.update(solver_opts)
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                # cvxpy's generic "Solution may be inaccurate" is replaced by our warning with the numbers.
                warnings.filterwarnings("ignore", message="Solution may be inaccurate", category=UserWarning)
                problem.solve(solver=name, **opts)
            status = problem.status
        except Exception as exc:  # cvxpy.SolverError, solver-specific errors (e.g. mosek.Error)
            status = f"error: {type(exc).__name__}: {exc}"
        wall = time.perf_counter() - start
        last_solver, last_status = name, status
        if status in _OK and problem.value is not None:
            compile_s = float(getattr(problem, "compilation_time", None) or 0.0)
            stats = problem.solver_stats
            solve_s = stats.solve_time if stats is not None and stats.solve_time is not None else None
            solve_s = float(max(wall - compile_s, 0.0) if solve_s is None else solve_s)
            iters = None if stats is None or stats.num_iters is None else int(stats.num_iters)
            if status == cp.OPTIMAL_INACCURATE:
                warnings.warn(
                    f"{name} returned 'optimal_inaccurate' on {problem_name or 'a problem'}: "
                    f"objective={problem.value:.10g}, iterations={iters}, solve_time={solve_s:.3g}s; "
                    "tighten/raise the iteration limit via solver_opts or use another solver",
                    InaccurateSolutionWarning,
                    stacklevel=2,
                )
            return CvxpySolveResult(name, status, compile_s, solve_s, iters)
        failures.append(f"{name}: {status}")
    raise SolverFailedError(
        f"no solver produced a solution for {problem_name or 'the problem'}; tried "
        f"{'; '.join(failures) or 'no usable solver'}",
        solver=last_solver,
        status=last_status,
    )
