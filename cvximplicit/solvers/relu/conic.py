"""Conic formulations of program (12) in cvxpy, and the conic solve.

Two formulations of the program of :mod:`cvximplicit.solvers.relu.program` (``Y`` and ``β``
are DPP parameters and the compiled problem is cached on ``(M, patterns)``, so a β path
and the alternations re-solve without recompiling):

- **reduced 1-D** — ``M = [u, c·1]`` (either column order) and threshold
  patterns. Every pattern is a suffix ``{u ≥ t_j}`` or a prefix ``{u ≤ t_j}`` of
  the sorted distinct values ``t``; ``M v = v_u u + c v_c`` is affine in ``u``, so
  the ``m`` sign constraints of a pattern reduce to the extreme points of its
  "on" and "off" sets (≤ 4 rows), and the fit at each distinct value is a
  cumulative sum over the thresholds. ``O(m)`` variables and sparse rows; tied
  values of ``u`` are merged (weights ``n_l``, targets their means; the
  within-tie variance is a constant).
- **plain** — the program as written, ``O(m P d q)`` non-zeros (:func:`plain_nnz`).
  Interior-point cost grows fast with ``m·P``.

:func:`solve_conic` returns an :class:`~cvximplicit.solvers.engines.EngineSolution`: the
solution, the constraint duals (as multipliers for the certificate) and what ran;
:class:`ConicEngine` puts it behind the engine protocol (with Clarabel's refinement ladder).
Certification is the caller's (:func:`~cvximplicit.solvers.solve_convex_relu`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ..core._lru import LRUCache, digest
from ..core.backend import (
    CLARABEL_OPTS,
    DEFAULT_CONIC_SOLVER,
    solve_cvxpy,
    solver_option_names,
)
from ..engines.registry import EngineSolution
from .arrangements import one_d_columns
from .program import ReluProgram

__all__ = ["CLARABEL_RELU_OPTS", "CLARABEL_REFINE_LADDER", "CONIC_GAP_TOL", "ConicEngine", "conic_gap_tol",
           "plain_nnz", "solve_conic"]

#: Clarabel options for program (12): :data:`~cvximplicit.solvers.core.backend.CLARABEL_OPTS`
#: (gap/feasibility tolerances 1e-8; certified ``gap_rel`` ≤ 7e-8 measured on the
#: exact 1-D block) and ``direct_solve_method="qdldl"``. Measured here (2 shared
#: cores, single runs): plain form m=500, d=10, P=20: qdldl 0.9 s vs faer
#: (Clarabel's "auto") 3.5 s; m=1000, d=10, P=30: 5.6 s vs 17 s; on the reduced
#: 1-D form (m=500) 0.13 s vs 0.14 s.
CLARABEL_RELU_OPTS = dict(CLARABEL_OPTS, direct_solve_method="qdldl")

#: Clarabel re-solves tried in turn, cold, when a solve's independent bound misses the certificate
#: tolerance (and the caller set no options); the first that certifies is kept. The duals' quality is
#: not monotone in the tolerances. Seen in the tests' 1-D blocks (gap_rel of the independent bound):
#: a warm-started re-solve of a cached problem on a β path 9.3e-6, cold 2.5e-8; at β = 1e-4 β_max
#: (m = 150) cold 3.9e-6, at tolerances 1e-10 3.2e-8; at β = 1e-4 β_max (m = 120) cold 2.5e-8, at
#: 1e-10 5.0e-6, at 1e-12 7.7e-10 (status optimal_inaccurate: the bound decides).
CLARABEL_REFINE_LADDER = tuple(
    dict(CLARABEL_RELU_OPTS, warm_start=False, **({} if tol is None else
                                                   {"tol_gap_abs": tol, "tol_gap_rel": tol, "tol_feas": tol}))
    for tol in (None, 1e-10, 1e-12)
)

_CACHE = LRUCache(6)


class _Plain:
    """Program (12) as written; ``O(m P d q)`` non-zeros."""

    name = "plain"

    def __init__(self, M, patterns, q):
        m, d = M.shape
        P = patterns.shape[1]
        self.m, self.d, self.P, self.q = m, d, P, q
        mask = patterns.astype(float)
        sign = 2.0 * mask - 1.0
        self.Y = cp.Parameter((m, q), name="Y")
        self.beta = cp.Parameter(nonneg=True, name="beta")
        self.Vs = [cp.Variable((d, P), name=f"V{c}") for c in range(q)]
        self.Ws = [cp.Variable((d, P), name=f"W{c}") for c in range(q)]
        self.cons_v, self.cons_w = [], []
        loss, reg = 0, 0
        for c in range(q):
            MV, MW = M @ self.Vs[c], M @ self.Ws[c]
            fit = cp.sum(cp.multiply(mask, MV - MW), axis=1)
            loss = loss + 0.5 * cp.sum_squares(fit - self.Y[:, c])
            reg = reg + cp.sum(cp.norm(self.Vs[c], 2, axis=0)) + cp.sum(cp.norm(self.Ws[c], 2, axis=0))
            self.cons_v.append(cp.multiply(sign, MV) >= 0)
            self.cons_w.append(cp.multiply(sign, MW) >= 0)
        self.problem = cp.Problem(cp.Minimize(loss + self.beta * reg), self.cons_v + self.cons_w)

    def set_data(self, Y):
        self.Y.value = Y

    def variables(self):
        V = np.stack([v.value for v in self.Vs], axis=-1).transpose(1, 0, 2)  # (P, d, q)
        W = np.stack([w.value for w in self.Ws], axis=-1).transpose(1, 0, 2)
        return V, W

    def multipliers(self):
        mu_pos = np.stack([np.maximum(c.dual_value, 0.0).T for c in self.cons_v], axis=-1)  # (P, m, q)
        mu_neg = np.stack([np.maximum(c.dual_value, 0.0).T for c in self.cons_w], axis=-1)
        return mu_pos, mu_neg


class _Reduced1D:
    """Program (12) for ``M = [u, c·1]`` and threshold patterns, in ``O(m)`` size (see module docstring)."""

    name = "reduced_1d"

    def __init__(self, M, patterns, q, cols, structure):
        col_u, col_c, cval = cols
        t, level, kind, jj = structure
        m, d = M.shape
        P = patterns.shape[1]
        K = t.size
        self.m, self.d, self.P, self.q, self.K = m, d, P, q, K
        self.col_u, self.col_c = col_u, col_c
        self.level = level
        self.counts = np.bincount(level, minlength=K).astype(float)
        self.first_sample = np.full(K, -1)
        self.first_sample[level[::-1]] = np.arange(m)[::-1]  # first sample index of each distinct value
        self.Y = cp.Parameter((K, q), name="Ybar_weighted")  # sqrt(n_l) * mean of Y over the tie group l
        self.beta = cp.Parameter(nonneg=True, name="beta")
        aV, bV = cp.Variable((P, q), name="aV"), cp.Variable((P, q), name="bV")
        aW, bW = cp.Variable((P, q), name="aW"), cp.Variable((P, q), name="bW")
        self.vars = (aV, bV, aW, bW)
        ks = np.arange(P)
        suf, pre = kind == 1, kind == -1
        # Scatter pattern k to its threshold index: suffix rows j, prefix rows reversed (K-1-j).
        E_s = sp.csr_matrix((np.ones(suf.sum()), (jj[suf], ks[suf])), shape=(K, P))
        E_p = sp.csr_matrix((np.ones(pre.sum()), (K - 1 - jj[pre], ks[pre])), shape=(K, P))
        da, db = aV - aW, bV - bW

        def cum(x):  # Σ over patterns whose "on" set contains level l, for each level l
            return cp.cumsum(E_s @ x, axis=0) + cp.cumsum(E_p @ x, axis=0)[::-1, :]

        fit = sp.diags(t) @ cum(da) + cval * cum(db)  # (K, q): Σ_k D_k M (v_k − w_k) at each distinct u
        loss = 0.5 * cp.sum_squares(sp.diags(np.sqrt(self.counts)) @ fit - self.Y)
        reg = cp.sum(cp.norm(cp.vstack([cp.vec(aV, order="F"), cp.vec(bV, order="F")]), 2, axis=0))
        reg = reg + cp.sum(cp.norm(cp.vstack([cp.vec(aW, order="F"), cp.vec(bW, order="F")]), 2, axis=0))
        # Cone rows (pattern k, level l, sign σ): σ (a_k t_l + c b_k) ≥ 0 at the extreme points of the
        # "on" set (σ = +1) and of the "off" set (σ = −1).
        rk, rl, rs = [], [], []
        for k in range(P):
            j = int(jj[k])
            if kind[k] == 1:  # on = [j, K-1], off = [0, j-1]
                on, off = (j, K - 1), ((0, j - 1) if j > 0 else ())
            else:  # on = [0, j], off = [j+1, K-1]
                on, off = (0, j), (j + 1, K - 1)
            for l in dict.fromkeys(on):
                rk.append(k), rl.append(l), rs.append(1.0)
            for l in dict.fromkeys(off):
                rk.append(k), rl.append(l), rs.append(-1.0)
        rk, rl, rs = np.array(rk), np.array(rl), np.array(rs)
        R = rk.size
        G_a = sp.csr_matrix((rs * t[rl], (np.arange(R), rk)), shape=(R, P))
        G_b = sp.csr_matrix((rs * cval, (np.arange(R), rk)), shape=(R, P))
        self.rows = (rk, rl)
        self.cons_v = G_a @ aV + G_b @ bV >= 0
        self.cons_w = G_a @ aW + G_b @ bW >= 0
        self.problem = cp.Problem(cp.Minimize(loss + self.beta * reg), [self.cons_v, self.cons_w])

    def set_data(self, Y):
        sums = np.zeros((self.K, Y.shape[1]))
        np.add.at(sums, self.level, Y)
        self.Y.value = sums / np.sqrt(self.counts)[:, None]  # = sqrt(n_l) * mean

    def variables(self):
        aV, bV, aW, bW = (x.value for x in self.vars)
        V = np.zeros((self.P, self.d, self.q))
        W = np.zeros((self.P, self.d, self.q))
        V[:, self.col_u, :], V[:, self.col_c, :] = aV, bV
        W[:, self.col_u, :], W[:, self.col_c, :] = aW, bW
        return V, W

    def multipliers(self):
        rk, rl = self.rows
        samples = self.first_sample[rl]
        out = []
        for con in (self.cons_v, self.cons_w):
            mu = np.zeros((self.P, self.m, self.q))
            np.add.at(mu, (rk, samples), np.maximum(con.dual_value, 0.0))
            out.append(mu)
        return tuple(out)


def _formulation(M, patterns, q, structure):
    cols = one_d_columns(M)
    form = "reduced_1d" if (structure is not None and cols is not None) else "plain"

    def build():
        return _Reduced1D(M, patterns, q, cols, structure) if form == "reduced_1d" else _Plain(M, patterns, q)

    return _CACHE.get((form, digest(M, patterns), q), build)


def plain_nnz(m: int, d: int, P: int, q: int) -> int:
    """Estimated non-zeros of the plain conic formulation (fit + two cone blocks)."""
    return 3 * m * d * P * q


#: Relative gap within which a conic solve of program (12) is certified. Interior-point
#: solvers (Clarabel at tolerances 1e-8, ECOS, MOSEK) reach ≤ 1e-7 on these programs
#: (measured on the exact 1-D block); SCS, a first-order conic solver with default
#: accuracy ``eps = 1e-4``, is held to 1e-3.
CONIC_GAP_TOL = 1e-6
_FIRST_ORDER_CONIC_GAP_TOL = {"SCS": 1e-3}


def conic_gap_tol(name: str) -> float:
    """The certificate tolerance of conic solver ``name`` (see :data:`CONIC_GAP_TOL`)."""
    return _FIRST_ORDER_CONIC_GAP_TOL.get(name, CONIC_GAP_TOL)


def solve_conic(program: ReluProgram, *, solver: str, solver_opts, fallback) -> EngineSolution:
    """Solve ``program`` with a cvxpy solver (``"auto"``: Clarabel, then ``fallback``), reduced 1-D form when possible.

    The reduced form is used when ``program.structure`` (the patterns' threshold structure) is set and
    ``M = [u, c·1]``. Returns the point, the constraint duals as ``multipliers`` and what ran (``note``:
    under ``"auto"``, why a fallback ran). Raises what :func:`~cvximplicit.solvers.core.backend.solve_cvxpy` raises.
    """
    t0 = time.perf_counter()
    built, cached = _formulation(program.M, program.patterns, program.Y.shape[1], program.structure)
    built.set_data(program.Y)
    built.beta.value = program.beta
    build_s = time.perf_counter() - t0
    solved = solve_cvxpy(
        built.problem, solver=solver, solver_opts=solver_opts, problem_name="convex ReLU program (12)",
        default_opts={"CLARABEL": CLARABEL_RELU_OPTS}, fallback=fallback, warn_inaccurate=False,
    )
    V, W = built.variables()
    note = solved.reason if solver == "auto" and not solved.reason.startswith(f"auto: {DEFAULT_CONIC_SOLVER}") else ""
    return EngineSolution(V, W, solved.solver, solved.status, solved.iterations, solved.compile_time_s + build_s,
                          solved.solve_time_s, built.name + (" (cached)" if cached else ""),
                          multipliers=built.multipliers(), note=note)


@dataclass(frozen=True)
class ConicEngine:
    """A cvxpy solver behind the :class:`~cvximplicit.solvers.engines.Engine` protocol.

    ``solver`` is a cvxpy solver name or ``"auto"`` (Clarabel, then ``fallback``). Its options are
    the solver's own, checked strictly by :func:`~cvximplicit.solvers.core.backend.solve_cvxpy` against
    the solver that runs; the certificate is recomputed by the caller from the constraint duals.
    """

    name: str
    fallback: tuple = ("SCS",)

    @property
    def option_names(self) -> tuple[str, ...] | None:
        """The options of the solver that runs first (None where the solver does not list them)."""
        return solver_option_names(DEFAULT_CONIC_SOLVER if self.name == "auto" else self.name)

    def check_options(self, options):
        """``options`` unchanged: the cvxpy solve checks them against the solver it runs."""
        return options

    def gap_tol(self, options, used: str | None = None) -> float:
        """:func:`conic_gap_tol` of the solver that ran (``used``), else of the one that runs first."""
        return conic_gap_tol(used or (DEFAULT_CONIC_SOLVER if self.name == "auto" else self.name))

    def solve(self, program: ReluProgram, warm_start, options) -> EngineSolution:
        """:func:`solve_conic`; ``warm_start`` is not used (a cached compiled problem warm-starts its solver)."""
        return solve_conic(program, solver=self.name, solver_opts=options, fallback=self.fallback)

    def refine(self, program: ReluProgram, solution: EngineSolution, options) -> Iterator[EngineSolution]:
        """Clarabel re-solved cold along :data:`CLARABEL_REFINE_LADDER` when it ran with no caller options."""
        if solution.solver != "CLARABEL" or options:
            return
        for attempt, ladder_opts in enumerate(CLARABEL_REFINE_LADDER):
            sol = solve_conic(program, solver="CLARABEL", solver_opts=ladder_opts, fallback=())
            yield sol._replace(note=f"re-solved cold ({attempt + 1}/{len(CLARABEL_REFINE_LADDER)} of the "
                                    "refinement ladder)")
