"""Certified regularization paths of program (12): one certified solve per β, each warm-started from the last.

Orientation as in :func:`~cvximplicit.solvers.solve_convex_relu`: ``M`` is ``(m, d)`` with
**rows as samples**, ``Y`` is ``(m, q)`` (a 1-D ``y`` is ``q = 1``), patterns ``(m, P)`` bool.

Every point of the path is an ordinary :func:`~cvximplicit.solvers.solve_convex_relu` solve
with its own independently recomputed dual bound and certificate kind (``"global"``,
``"restricted"``, or ``"none"`` when its gap missed the tolerance: a path never relabels a
point). The β values are taken in the order given; from the largest down (the usual order)
each solution is sparse and close to the next one, so the engines (``"ACTIVE_SET"``, ``"ADMM"``,
``"FISTA"``) start from the previous ``(V, W)`` through ``warm_start``. Conic solvers ignore a warm start.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

from ...exceptions import MissingDependencyError, ValidationError
from ..core._checks import _as_matrix
from ..core.bias import apply_bias, bias_scope
from .arrangements import DEFAULT_N_PATTERNS
from .convex_relu import ConvexReLUSolution, solve_convex_relu

__all__ = ["ConvexReLUPath", "solve_convex_relu_path"]


@dataclass
class ConvexReLUPath:
    """The solutions of program (12) along a sequence of β values.

    Attributes
    ----------
    betas : ndarray, shape (n,)
        The β values, in the order they were solved.
    solutions : list of ConvexReLUSolution
        One per β, each with its own :class:`~cvximplicit.solvers.SolveReport`.
    wall_time_s : float
        Wall-clock time of the whole path (validation, pattern resolution and certificates included).
    """

    betas: np.ndarray
    solutions: list = field(default_factory=list)
    wall_time_s: float = 0.0

    def __len__(self) -> int:
        return len(self.solutions)

    def __iter__(self):
        return iter(self.solutions)

    @property
    def objectives(self) -> np.ndarray:
        """The objective of program (12) at each solution."""
        return np.array([s.report.objective for s in self.solutions], dtype=float)

    @property
    def bounds(self) -> np.ndarray:
        """The certified lower bound at each β (NaN where a report has none)."""
        return np.array([math.nan if s.report.bound is None else s.report.bound for s in self.solutions], dtype=float)

    @property
    def gaps(self) -> np.ndarray:
        """The relative gap at each β (NaN where the point was infeasible, so no gap counts)."""
        return np.array([math.nan if s.report.gap_rel is None else s.report.gap_rel for s in self.solutions],
                        dtype=float)

    @property
    def n_active(self) -> np.ndarray:
        """Active groups (decoded neurons) at each β."""
        return np.array([s.report.extra["n_active_neurons"] for s in self.solutions], dtype=int)

    @property
    def certificates(self) -> list[str]:
        """The certificate kind of each point."""
        return [s.report.certificate for s in self.solutions]

    @property
    def certified(self) -> bool:
        """Whether every point of the path is certified (no ``"none"``)."""
        return all(kind != "none" for kind in self.certificates)

    def summary(self) -> str:
        """One line per β: objective, certified bound, relative gap, active neurons, certificate, solver."""
        head = (f"{'beta':>12} {'objective':>16} {'bound':>16} {'gap_rel':>9} {'active':>6} {'certificate':>17}  "
                "solver")
        lines = [f"ConvexReLUPath: {len(self)} values of β, {self.wall_time_s:.3g} s", head]
        for r in self.to_records():
            bound = "n/a" if r["bound"] is None else f"{r['bound']:.10g}"
            gap = "n/a" if r["gap_rel"] is None else f"{r['gap_rel']:.1e}"
            lines.append(f"{r['beta']:>12.6g} {r['objective']:>16.10g} {bound:>16} {gap:>9} {r['n_active']:>6} "
                         f"{r['certificate']:>17}  {r['solver']}")
        return "\n".join(lines)

    def to_records(self) -> list[dict]:
        """One dict per β: ``beta``, ``objective``, ``bound``, ``gap_rel``, ``n_active``, ``certificate``,
        ``solver``, ``iterations``, ``time_s``."""
        return [{"beta": float(b), "objective": s.report.objective, "bound": s.report.bound,
                 "gap_rel": s.report.gap_rel, "n_active": int(s.report.extra["n_active_neurons"]),
                 "certificate": s.report.certificate, "solver": s.report.solver,
                 "iterations": s.report.iterations, "time_s": s.report.total_time_s}
                for b, s in zip(self.betas, self.solutions)]

    def plot(self, ax=None):
        """Objective (with its bound), active groups and relative gap against β (log scale).

        Parameters
        ----------
        ax : sequence of three matplotlib Axes, optional
            Where to draw; by default a new figure with three panels side by side.

        Returns
        -------
        ndarray of matplotlib Axes
            The three panels.

        Raises
        ------
        MissingDependencyError
            If matplotlib is not installed (``pip install 'cvximplicit[plot]'``).
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise MissingDependencyError(
                "matplotlib is needed for ConvexReLUPath.plot: pip install 'cvximplicit[plot]'") from exc
        if ax is None:
            _, ax = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained")
        axes = np.asarray(ax, dtype=object).ravel()
        if axes.size != 3:
            raise ValidationError(f"ax must hold three matplotlib Axes (objective, active groups, gap); got {ax!r}")
        betas, cert = self.betas, np.array([k != "none" for k in self.certificates])
        axes[0].plot(betas, self.objectives, "o-", label="objective")
        axes[0].plot(betas, self.bounds, "x--", label="certified bound")
        axes[0].set_ylabel("program (12)")
        axes[0].legend()
        axes[1].plot(betas, self.n_active, "o-")
        axes[1].set_ylabel("active groups")
        gaps = np.abs(self.gaps)
        floor = np.finfo(float).eps
        axes[2].semilogy(betas, np.maximum(gaps, floor), "o-", label="|gap_rel|")
        if (~cert).any():
            axes[2].semilogy(betas[~cert], np.maximum(np.nan_to_num(gaps[~cert], nan=1.0), floor), "rs",
                             label="not certified")
        axes[2].set_ylabel("relative gap")
        axes[2].legend()
        for a in axes:
            a.set_xscale("log")
            a.set_xlabel("β")
        return axes


def _as_betas(betas) -> np.ndarray:
    try:
        out = np.asarray(betas, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(f"betas must be a 1-D sequence of positive finite numbers; got {betas!r}") from None
    if out.ndim != 1 or out.size == 0 or not np.all(np.isfinite(out)) or not np.all(out > 0):
        raise ValidationError(f"betas must be a non-empty 1-D sequence of positive finite numbers; got {betas!r}")
    return out


def solve_convex_relu_path(M, Y, betas, *, patterns="auto", n_patterns=DEFAULT_N_PATTERNS, seed=0, bias=None,
                           solver="auto", solver_opts=None, fallback=("SCS",), reductions=(), gap_tol=None,
                           warm_start=True) -> ConvexReLUPath:
    """Solve program (12) for each β in ``betas``, warm-starting each solve from the previous solution.

    Parameters
    ----------
    M, Y
        The block's data, rows are samples, as in :func:`~cvximplicit.solvers.solve_convex_relu`.
    betas : sequence of float
        The β values, solved in the order given (normally decreasing, e.g.
        ``np.geomspace(0.5, 0.01, 10) * beta_max(M, y, patterns)``, :func:`~cvximplicit.solvers.beta_max`).
    patterns, n_patterns, seed, bias, solver, solver_opts, fallback, reductions, gap_tol
        As in :func:`~cvximplicit.solvers.solve_convex_relu`, the same for every β (so every point
        uses the same patterns; the bias check runs once).
    warm_start : bool
        Start each solve from the previous ``(V, W)`` (used by the engines ``"ACTIVE_SET"``, ``"ADMM"``
        and ``"FISTA"``; conic solvers solve from scratch).

    Returns
    -------
    ConvexReLUPath
        ``solutions`` (one :class:`~cvximplicit.solvers.ConvexReLUSolution` per β, each certified
        on its own or reported ``"none"``), summary arrays and :meth:`ConvexReLUPath.plot`.

    Raises
    ------
    ValidationError
        ``betas`` empty, not 1-D, or not positive and finite; anything
        :func:`~cvximplicit.solvers.solve_convex_relu` raises.

    Examples
    --------
    >>> import numpy as np
    >>> from cvximplicit.solvers import solve_convex_relu_path
    >>> u = np.linspace(-1, 1, 20)
    >>> M, y = np.c_[u, np.ones(20)], np.abs(u)
    >>> path = solve_convex_relu_path(M, y, [1.0, 0.3, 0.1], patterns="exact")
    >>> path.certificates
    ['global', 'global', 'global']
    """
    t0 = time.perf_counter()
    betas = _as_betas(betas)
    if not isinstance(warm_start, bool):
        raise ValidationError(f"warm_start must be True or False; got warm_start={warm_start!r}")
    M, appended = apply_bias(_as_matrix(M).astype(float, copy=False), bias, where="solve_convex_relu_path")
    solutions: list[ConvexReLUSolution] = []
    previous = None
    for beta in betas:
        start = (previous.V, previous.W) if (warm_start and previous is not None) else None
        previous = solve_convex_relu(M, Y, beta=float(beta), patterns=patterns, n_patterns=n_patterns, seed=seed,
                                     bias=False, solver=solver, solver_opts=solver_opts, fallback=fallback,
                                     reductions=reductions, gap_tol=gap_tol, warm_start=start)
        if appended:  # the solve saw the ones as a column of M: its solution and report say where they came from
            scope = {**previous.report.scope, "bias": bias_scope(M, True)}
            previous = replace(previous, bias=True, report=replace(previous.report, scope=scope))
        solutions.append(previous)
    return ConvexReLUPath(betas=betas, solutions=solutions, wall_time_s=time.perf_counter() - t0)
