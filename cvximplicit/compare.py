r"""Compare solvers of the Ergen–Pilanci program (12) on one block, each under a hard wall-clock limit.

The program (rows of ``M`` are samples, ``D_k = diag(patterns[:, k])``):

.. math::

    \min_{V,W}\; \tfrac12 \Big\|\sum_k D_k M (V_k - W_k) - Y\Big\|_F^2
    + \beta \sum_k \big(\|V_k\|_2 + \|W_k\|_2\big)
    \quad \text{s.t. } (2D_k - I) M V_k \ge 0,\; (2D_k - I) M W_k \ge 0,

solved by :func:`cvximplicit.solvers.solve_convex_relu` with ``solver=NAME`` and
certified by its independent dual bound (the report's ``bound``, ``gap_rel`` and
``certificate``, shown as they are: a solve that misses its gap tolerance says
``"none"``).

**Hard limit.** Every solver runs in a child process (:mod:`multiprocessing`,
``fork`` where the platform has it, else ``spawn``), and every child — with or
without a time-limit option of its own — is stopped with ``terminate()`` when
``time_limit_s`` seconds of wall-clock time have passed since it started
(compilation, solve and certificate included) and reported with status
``"time_limit"``. A solver with its own time-limit option
(:data:`TIME_LIMIT_OPTIONS`) gets ``solver_share · time_limit_s`` through it
(default 0.8), so that it can stop by itself and still hand back a point and
its certificate before the hard stop. Peak memory is the child's peak resident set size
(``getrusage(RUSAGE_SELF).ru_maxrss`` in the child; for a stopped child its
``VmHWM`` read from ``/proc`` just before stopping it, where available); a forked
child starts with the parent's pages, so the number includes the parent's
baseline.

Named problems (:data:`PROBLEMS`, :func:`make_problem`):

- ``"exact-1d"``: block 1 of the smooth task, ``m = 500``, ``M = [u, 1]``, all
  arrangements (certificate ``"global"``), β = 1;
- ``"sampled-d50"``: a deeper block's input, ``m = 2000``, ``d = 50`` (49 ReLU
  features of a random layer plus bias), 50 sampled patterns, β = 1;
- ``"wide"``: a wide input like an image block, ``m = 500``, ``d = 401`` (sparse
  non-negative "pixels" plus bias), 20 sampled patterns, two outputs, β = 1.

A researcher's own block is an ``.npz`` file with ``M`` (``m × d``), ``Y``
(``m`` or ``m × q``), optional ``patterns`` (``m × P`` bool) and ``beta``
(:func:`load_problem`).
"""

from __future__ import annotations

import math
import multiprocessing
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import DataError, ValidationError

__all__ = ["PROBLEMS", "TIME_LIMIT_OPTIONS", "BlockProblem", "make_problem", "load_problem", "default_solvers",
           "run_limited", "compare_solvers", "TABLE_HEADER", "format_table", "format_row", "summarize",
           "plot_comparison"]

#: The named block problems, in the order ``cvximplicit compare`` runs them by default.
PROBLEMS = ("exact-1d", "sampled-d50", "wide")

#: Solver → how its own time limit is set (``solver_opts`` key, or a function of the limit).
TIME_LIMIT_OPTIONS = {
    "CLARABEL": lambda s: {"time_limit": s},
    "SCS": lambda s: {"time_limit_secs": s},
    "MOSEK": lambda s: {"mosek_params": {"MSK_DPAR_OPTIMIZER_MAX_TIME": s}},
    "FISTA": lambda s: {"time_limit_s": s},
    "ADMM": lambda s: {"time_limit_s": s},
}


@dataclass(frozen=True, eq=False)
class BlockProblem:
    """One block of program (12): ``M`` ``(m, d)`` and ``Y`` ``(m, q)``, rows are samples.

    ``patterns`` is ``"exact"``, ``"sampled"`` (``n_patterns`` seeded Gaussian
    gates) or an ``(m, P)`` bool array; ``beta`` is β > 0.
    """

    name: str
    M: np.ndarray
    Y: np.ndarray
    patterns: Any = "sampled"
    n_patterns: int = 50
    beta: float = 1.0
    seed: int = 0
    description: str = ""
    info: dict = field(default_factory=dict)

    @property
    def shape(self) -> str:
        P = self.patterns.shape[1] if isinstance(self.patterns, np.ndarray) else (
            self.n_patterns if self.patterns == "sampled" else "all")
        q = 1 if self.Y.ndim == 1 else self.Y.shape[1]
        return f"m={self.M.shape[0]}, d={self.M.shape[1]}, q={q}, P={P}"


def make_problem(name: str, *, seed: int = 0) -> BlockProblem:
    """The named block problem ``name`` (one of :data:`PROBLEMS`), its data seeded by ``seed``.

    Raises
    ------
    ValidationError
        If ``name`` is not one of :data:`PROBLEMS`.
    """
    rng = np.random.default_rng(seed)
    if name == "exact-1d":
        from .datasets import make_smooth

        data = make_smooth(n_train=500, seed=seed)
        u = data.inputs_train[:, 0]
        return BlockProblem(name, np.c_[u, np.ones_like(u)], data.targets_train, "exact", beta=1.0, seed=seed,
                            description="smooth task block 1, M = [u, 1], all arrangements")
    if name == "sampled-d50":
        m, d = 2000, 50
        X = rng.standard_normal((m, 10))
        H = np.maximum(X @ rng.standard_normal((10, d - 1)) / np.sqrt(10), 0.0)  # a previous ReLU layer
        y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.1 * rng.standard_normal(m)
        return BlockProblem(name, np.c_[H, np.ones(m)], y, "sampled", n_patterns=50, beta=1.0, seed=seed,
                            description="49 ReLU features of a random layer plus bias, 50 sampled patterns")
    if name == "wide":
        m, d = 500, 400
        pixels = (rng.random((m, d)) < 0.2) * rng.random((m, d))
        scores = pixels @ rng.standard_normal((d, 2)) / np.sqrt(d)
        Y = scores - scores.mean(axis=0)
        return BlockProblem(name, np.c_[pixels, np.ones(m)], Y, "sampled", n_patterns=20, beta=1.0, seed=seed,
                            description="400 sparse non-negative inputs plus bias, 2 outputs, 20 sampled patterns")
    raise ValidationError(f"problem must be one of {PROBLEMS} or an .npz block file; got {name!r}")


def load_problem(path, *, beta: float | None = None, n_patterns: int = 50, seed: int = 0) -> BlockProblem:
    """A block problem from an ``.npz`` file with ``M``, ``Y`` and optional ``patterns``, ``beta``.

    ``beta`` overrides the file's β (default 1.0 when the file has none);
    without ``patterns`` in the file, ``n_patterns`` Gaussian gates are sampled
    (``"auto"`` mode: all arrangements when ``M`` is one input plus a constant).

    Raises
    ------
    DataError
        If the file is missing, not an ``.npz`` archive, or lacks ``M``/``Y``.
    ValidationError
        If ``M`` or ``Y`` is not a finite real array (complex and string data are
        refused), or their shapes are inconsistent.
    """
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no block file at {path}")
    with open(path, "rb") as fh:
        head = fh.read(6)
    if head == b"\x93NUMPY":
        raise DataError(f"{path} is a .npy array, not an .npz block file with arrays M and Y")
    if not head.startswith(b"PK"):
        raise DataError(f"{path} is not an .npz archive; a block file is an .npz with arrays M and Y "
                        "(numpy.savez(path, M=M, Y=Y))")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, KeyError, AttributeError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read {path} as an .npz block file ({type(exc).__name__}: {exc})") from exc
    missing = [k for k in ("M", "Y") if k not in arrays]
    if missing:
        raise DataError(f"{path} lacks {missing}; a block file holds M (m x d, rows are samples), Y (m or m x q), "
                        f"optional patterns (m x P bool) and beta; it holds {sorted(arrays)}")
    from ._validation import as_real_array

    M = as_real_array(arrays["M"], f"{path}: M", ndim=2)  # complex, strings, NaN/inf refused here
    Y = as_real_array(arrays["Y"], f"{path}: Y", ndim=(1, 2))
    if Y.shape[0] != M.shape[0]:
        raise ValidationError(f"{path}: M must be (m, d) and Y (m,) or (m, q) with the same m; got M{M.shape}, "
                              f"Y{Y.shape}")
    file_beta = float(arrays["beta"]) if "beta" in arrays else 1.0
    patterns = arrays["patterns"].astype(bool) if "patterns" in arrays else "auto"
    return BlockProblem(path.stem, M, Y, patterns, n_patterns=n_patterns,
                        beta=file_beta if beta is None else float(beta), seed=seed,
                        description=f"block file {path}")


def default_solvers() -> list[str]:
    """The solvers compared by default.

    :func:`~cvximplicit.solvers.available_solvers` that accept second-order
    cones (program (12) has group norms; LP/QP-only solvers such as OSQP,
    HiGHS or SciPy can only fail on it), without ``ECOS_BB`` (ECOS's
    branch-and-bound wrapper: on a program without integer variables it runs
    ECOS itself), plus ``"FISTA"`` and, where :func:`~cvximplicit.solvers.check_solver`
    accepts it, ``"ADMM"``. Any other installed solver can still be named.
    """
    from .exceptions import SolverUnavailableError
    from .solvers import available_solvers, check_solver

    names = [s for s in available_solvers() if s != "ECOS_BB" and _supports_soc(s)] + ["FISTA"]
    try:
        check_solver("ADMM")
    except SolverUnavailableError:  # not a solver name here, or its engine is not installed
        return names
    return names + ["ADMM"]


def _supports_soc(name: str) -> bool:
    try:
        import cvxpy as cp
        from cvxpy.reductions.solvers.defines import SOLVER_MAP_CONIC
    except ImportError:  # pragma: no cover - cvxpy is a dependency; its internals may move
        return True
    solver = SOLVER_MAP_CONIC.get(name)
    return solver is not None and cp.SOC in getattr(solver, "SUPPORTED_CONSTRAINTS", [cp.SOC])


# --------------------------------------------------------------------------- one solve, in a child
def _solve_row(problem: BlockProblem, solver: str, own_limit_s: float) -> dict:
    """Run one solve in this process and return its row (errors become rows)."""
    import resource

    from .solvers import solve_convex_relu

    limit = TIME_LIMIT_OPTIONS.get(solver)
    opts = None if limit is None else limit(float(own_limit_s))
    row: dict = {}
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():  # a non-optimal status is reported in the row
            warnings.simplefilter("ignore")
            sol = solve_convex_relu(problem.M, problem.Y, beta=problem.beta, patterns=problem.patterns,
                                    n_patterns=problem.n_patterns, seed=problem.seed, solver=solver,
                                    solver_opts=opts, fallback=())
    except Exception as exc:  # a failing or unsupported solver is a row, not a crash
        status = getattr(exc, "status", None)
        row.update(status=_short_status(status) if status else "error", time_s=time.perf_counter() - start,
                   error=f"{type(exc).__name__}: {str(exc)[:300]}")
    else:
        rep = sol.report.to_dict()
        obj, bound = rep["objective"], rep["bound"]
        bound_gap = None
        if bound is not None and math.isfinite(obj) and math.isfinite(bound):
            bound_gap = (obj - bound) / max(1.0, abs(obj))
        row.update(status=rep["status"], time_s=time.perf_counter() - start, objective=obj, bound=bound,
                   gap_rel=rep["gap_rel"], bound_gap_rel=bound_gap, certificate=rep["certificate"],
                   constraint_violation=rep["residual"], iterations=rep["iterations"], solver_used=rep["solver"],
                   n_patterns=rep["extra"].get("n_patterns"), formulation=rep["extra"].get("formulation"))
        for key in ("requested_solver", "solver_reason", "reductions"):
            if key in rep:
                row[key] = rep[key]
    row["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    row["solver_opts"] = opts
    return row


def _short_status(status: str) -> str:
    return status.split(":")[0] if status.startswith("error") else status


def _child(conn, problem, solver, own_limit_s):  # pragma: no cover - runs in the child process
    try:
        conn.send(_solve_row(problem, solver, own_limit_s))
    except BaseException as exc:
        conn.send({"status": "error", "error": f"{type(exc).__name__}: {exc}",
                   "traceback": traceback.format_exc(limit=3)})
    finally:
        conn.close()


def _vm_hwm_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


def _context(start_method):
    if start_method is None:
        start_method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(start_method)


def run_limited(problem: BlockProblem, solver: str, time_limit_s: float, *, solver_share: float = 0.8,
                start_method: str | None = None) -> dict:
    """One solve of ``problem`` with ``solver`` in a child process, stopped after ``time_limit_s`` seconds.

    The solver's own time-limit option (where it has one) is set to
    ``solver_share · time_limit_s``. Returns the row of :func:`compare_solvers`
    without its common keys (status ``"time_limit"`` when stopped).
    """
    ctx = _context(start_method)
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, problem, solver, solver_share * time_limit_s), daemon=True)
    start = time.perf_counter()
    proc.start()
    child.close()
    deadline = start + time_limit_s
    row = None
    try:
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            if parent.poll(min(remaining, 0.05)):
                try:
                    row = parent.recv()
                except EOFError:  # the child died without sending
                    row = None
                break
            if not proc.is_alive() and not parent.poll(0):
                break
        elapsed = time.perf_counter() - start
        if row is None:
            alive = proc.is_alive()
            peak = _vm_hwm_mib(proc.pid) if alive else None
            if alive:
                proc.terminate()
                proc.join(2.0)
                if proc.is_alive():
                    proc.kill()
                row = {"status": "time_limit", "time_s": elapsed, "peak_rss_mib": peak,
                       "error": f"stopped at the {time_limit_s:g} s limit"}
            else:
                row = {"status": "crashed", "time_s": elapsed,
                       "error": f"the solver process exited with code {proc.exitcode} without a result"}
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join(2.0)
        parent.close()
    return row


def compare_solvers(problem, solvers=None, time_limit_s: float = 10.0, *, solver_share: float = 0.8,
                    start_method: str | None = None, seed: int = 0, progress=None) -> list[dict]:
    """Solve one block problem with each solver under a hard wall-clock limit.

    Parameters
    ----------
    problem : BlockProblem or str
        A problem, or a name of :data:`PROBLEMS` (built with ``seed``).
    solvers : list of str, optional
        Solver names for :func:`~cvximplicit.solvers.solve_convex_relu`
        (default :func:`default_solvers`).
    time_limit_s : float
        Each solver's hard wall-clock limit: its process is stopped when it is
        reached (compilation and certificate included).
    solver_share : float
        Fraction in ``(0, 1]`` of the limit handed to a solver's own time-limit
        option (:data:`TIME_LIMIT_OPTIONS`), leaving the rest for the certificate.
    start_method : {"fork", "spawn", "forkserver"}, optional
        :mod:`multiprocessing` start method (default ``fork`` where available).
    progress : callable, optional
        Called with each row as soon as it is measured.

    Returns
    -------
    list of dict
        One row per solver: ``problem``, ``shape``, ``solver``, ``status``
        (solver status, ``"time_limit"`` when stopped, ``"error"``), ``time_s``,
        ``objective``, ``bound``, ``gap_rel`` (the report's certified relative
        gap; None where the report gives none), ``bound_gap_rel``
        (``(objective − bound) / max(1, |objective|)``, also at an uncertified
        point), ``certificate`` (the report's kind, ``"none"`` included),
        ``constraint_violation``, ``iterations``,
        ``peak_rss_mib``, ``time_limit_s``, ``error`` (or None) and, where the
        solve succeeded, ``solver_used`` and the report's ``requested_solver`` and
        ``solver_reason`` when it has them.

    Raises
    ------
    ValidationError
        If ``time_limit_s`` is not a positive number, ``solver_share`` not in
        ``(0, 1]``, or ``solvers`` is empty.
    """
    if isinstance(time_limit_s, bool) or not isinstance(time_limit_s, (int, float)) or not time_limit_s > 0 \
            or not math.isfinite(time_limit_s):
        raise ValidationError(f"time_limit_s must be a positive number of seconds; got time_limit_s={time_limit_s!r}")
    if isinstance(solver_share, bool) or not isinstance(solver_share, (int, float)) or not 0 < solver_share <= 1:
        raise ValidationError(f"solver_share must be a fraction in (0, 1]; got solver_share={solver_share!r}")
    if isinstance(problem, str):
        problem = make_problem(problem, seed=seed)
    if not isinstance(problem, BlockProblem):
        raise ValidationError(f"problem must be a BlockProblem or one of {PROBLEMS}; got {type(problem).__name__}")
    solvers = default_solvers() if solvers is None else [str(s) for s in solvers]
    if not solvers:
        raise ValidationError(f"solvers must name at least one solver, e.g. {default_solvers()}")
    rows = []
    for solver in solvers:
        row = {"problem": problem.name, "shape": problem.shape, "solver": solver, "status": None, "time_s": None,
               "objective": None, "bound": None, "gap_rel": None, "certificate": None, "iterations": None,
               "peak_rss_mib": None, "time_limit_s": float(time_limit_s), "error": None}
        row.update(run_limited(problem, solver, float(time_limit_s), solver_share=float(solver_share),
                               start_method=start_method))
        rows.append(row)
        if progress is not None:
            progress(row)
    return rows


# --------------------------------------------------------------------------- output
def _fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return format("-", ">" + spec.split(".")[0])
    return format(value, spec)


TABLE_HEADER = (f"{'problem':<12} {'solver':<9} {'time s':>7} {'objective':>14} {'bound':>14} {'cert. gap':>11} "
                f"{'certificate':>17} {'status':<16} {'peak MiB':>8}")


def _gap(row: dict) -> str:
    """The report's certified gap, or ``(objective − bound)`` in parentheses where the report certifies none."""
    if row.get("gap_rel") is not None:
        return f"{row['gap_rel']:.1e}"
    if row.get("bound_gap_rel") is not None:
        return f"({row['bound_gap_rel']:.1e})"
    return "-"


def format_row(row: dict) -> str:
    """One line of the comparison table."""
    line = (f"{row['problem']:<12} {row['solver']:<9} {_fmt(row.get('time_s'), '7.2f')} "
            f"{_fmt(row.get('objective'), '14.8g')} {_fmt(row.get('bound'), '14.8g')} "
            f"{_gap(row):>11} {row.get('certificate') or 'none':>17} "
            f"{row.get('status')!s:<16} {_fmt(row.get('peak_rss_mib'), '8.0f')}")
    if row.get("error"):
        line += f"  {row['error'][:100]}"
    return line


def format_table(rows: list[dict]) -> str:
    """A plain-text table: time, objective, certified bound and gap, certificate kind, status, peak memory.

    The gap column is the report's certified relative gap; in parentheses,
    ``(objective − bound) / max(1, |objective|)`` where the report certifies
    nothing (a point that violates the cone constraints or misses the tolerance).
    """
    return "\n".join([TABLE_HEADER, "-" * len(TABLE_HEADER)] + [format_row(r) for r in rows])


def _plot_gap(row: dict):
    gap = row.get("gap_rel")
    if gap is None:
        gap = row.get("bound_gap_rel")
    return gap if gap is not None and math.isfinite(gap) else None


def plot_comparison(rows: list[dict], path) -> Path:
    """Save a PNG of time vs certified relative gap, one panel per problem (matplotlib, imported here).

    Filled circles: certified gaps; hollow squares: ``(objective − bound)`` at a
    point the report does not certify; ``×`` at the top: no result (stopped, failed).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        from .exceptions import MissingDependencyError

        raise MissingDependencyError("matplotlib is needed for the comparison plot: pip install matplotlib") from exc
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    solvers = list(dict.fromkeys(r["solver"] for r in rows))
    colours = {s: plt.get_cmap("tab10")(i % 10) for i, s in enumerate(solvers)}
    fig, axes = plt.subplots(1, len(problems), figsize=(4.2 * len(problems), 3.6), squeeze=False)
    for ax, prob in zip(axes[0], problems):
        sub = [r for r in rows if r["problem"] == prob]
        gaps = [abs(_plot_gap(r)) for r in sub if _plot_gap(r) is not None]
        top = max(gaps + [1.0]) * 10
        for r in sub:
            t, gap = r.get("time_s") or 0.0, _plot_gap(r)
            certified = (r.get("certificate") or "none") != "none"
            if gap is None:
                ax.scatter(t, top, color=colours[r["solver"]], label=r["solver"], marker="x", s=50)
            else:
                ax.scatter(t, max(abs(gap), 1e-12), label=r["solver"], s=40, marker="o" if certified else "s",
                           color=colours[r["solver"]] if certified else "none", edgecolors=colours[r["solver"]])
        limit = sub[0]["time_limit_s"]
        ax.axvline(limit, color="grey", lw=0.8, ls="--")
        ax.set_xlim(0, 1.05 * max([limit] + [r.get("time_s") or 0.0 for r in sub]))
        ax.set_yscale("log")
        ax.set_xlabel("wall-clock time (s); dashed: limit")
        ax.set_title(f"{prob} ({sub[0].get('shape', '')})", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("relative gap (objective − bound)\n● certified  □ not certified  × no result", fontsize=8)
    handles, labels = [], []
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h), labels.append(lab)
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def summarize(rows: list[dict]) -> str:
    """One line per problem: the fastest solver that returned a certificate other than ``none``."""
    lines = []
    for prob in dict.fromkeys(r["problem"] for r in rows):
        ok = [r for r in rows if r["problem"] == prob and (r.get("certificate") or "none") != "none"]
        if ok:
            best = min(ok, key=lambda r: r["time_s"])
            lines.append(f"{prob}: fastest certified: {best['solver']} ({best['time_s']:.2f} s, "
                         f"gap {best['gap_rel']:.1e}, {best['certificate']})")
        else:
            lines.append(f"{prob}: no solver returned a certificate within the limit")
    return "\n".join(lines)
