"""The Ergen–Pilanci convex reformulation of the shallow ReLU step (12), solved with a certificate.

Data orientation: ``M`` is ``(m, d)`` with **rows as samples** (``M = Ũ_iᵀ``, the
block's stacked input with its bias column); ``Y`` is ``(m, q)`` (a 1-D ``y`` is
``q = 1``); ``patterns`` is an ``(m, P)`` bool array whose column ``k`` is the
diagonal of ``D_k``; the variables ``V, W`` are ``(P, d, q)``.

Vector outputs are **one-vs-all** (each neuron feeds one output, as scnn does),
so the program separates over the outputs ``c``:

.. math::

    \\min_{V,W}\\; \\tfrac12 \\sum_c \\Big\\|\\sum_k D_k M (V_{k,:,c} - W_{k,:,c}) - Y_{:,c}\\Big\\|^2
    + \\beta \\sum_{k,c} \\big(\\|V_{k,:,c}\\|_2 + \\|W_{k,:,c}\\|_2\\big)
    \\quad \\text{s.t. } (2D_k - I) M V_{k,:,c} \\ge 0,\\; (2D_k - I) M W_{k,:,c} \\ge 0.

With *all* arrangements of ``M`` its optimum equals, output by output, the global
optimum of the weight-decayed two-layer ReLU network
``½‖Σ_j (M a_j)_+ b_j − y‖² + (β/2) Σ_j (‖a_j‖² + b_j²)`` (Pilanci & Ergen 2020). So a
certified solve over every arrangement of the block's *unreduced* input is
``"global"`` for a scalar output; for ``q > 1`` it is global only for networks whose
neurons each feed one output (``"global_one_vs_all"``): a network whose neurons feed
several outputs can go below it. Sampled patterns, or any reduction of rows, features or
outputs, give ``"restricted"`` (optimal for the program solved); a gap that misses its
tolerance gives ``"none"``. :data:`~cvximplicit.solvers.report.CERTIFIED_CLASS` lists
the claims.

Formulations (both solved with cvxpy; ``Y`` and ``β`` are DPP parameters and the
compiled problem is cached on ``(M, patterns)``, so β-bisection and the
alternation re-solve without recompiling):

- **reduced 1-D** — ``M = [u, c·1]`` (either column order) and threshold
  patterns. Every pattern is a suffix ``{u ≥ t_j}`` or a prefix ``{u ≤ t_j}`` of
  the sorted distinct values ``t``; ``M v = v_u u + c v_c`` is affine in ``u``, so
  the ``m`` sign constraints of a pattern reduce to the extreme points of its
  "on" and "off" sets (≤ 4 rows), and the fit at each distinct value is a
  cumulative sum over the thresholds. ``O(m)`` variables and sparse rows; tied
  values of ``u`` are merged (weights ``n_l``, targets their means; the
  within-tie variance is a constant).
- **plain** — the program as written, ``O(m P d q)`` non-zeros. Interior-point
  cost grows fast with ``m·P``; beyond :data:`CONIC_AUTO_MAX_NNZ` the ``"auto"``
  solver uses the first-order engine ``"FISTA"``
  (:mod:`cvximplicit.solvers.first_order`).

Certificate: with ``λ_c = Y_{:,c} − (Σ_k D_k M (V_k − W_k))_{:,c}`` and the
constraint duals as ``μ``, :func:`cvximplicit.solvers.certificate.dual_bound`
returns a lower bound valid for any ``λ`` and ``μ ≥ 0`` (feasibility by scaling),
so the reported gap is checked independently of the solver's own claim.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from .._validation import as_real_array
from ..exceptions import InaccurateSolutionWarning, ValidationError
from .arrangements import one_d_columns, resolve_patterns
from .backend import CLARABEL_OPTS, check_solver, solve_cvxpy
from .engines import check_engine_options, engine_gap_tol, get_engine, is_engine
from .report import CERTIFIED_CLASS, SolveReport, relu_certificate_kind

__all__ = [
    "ConvexReLUSolution",
    "solve_convex_relu",
    "NEURON_TOL",
    "CONIC_AUTO_MAX_NNZ",
    "CLARABEL_RELU_OPTS",
]

#: A group ``V[k,:,c]`` (or ``W``) is an active neuron when its norm exceeds
#: ``NEURON_TOL · max(largest group norm, ‖Y‖_F/‖M‖_F)`` (interior-point
#: solutions leave inactive groups at ~1e-9 relative, not exactly 0).
NEURON_TOL = 1e-6

#: ``"auto"`` solves the *plain* conic formulation when its estimated number of
#: constraint non-zeros ``3·m·d·P·q`` (:func:`plain_nnz`) is at most this, else it
#: uses ``"FISTA"``. The reduced 1-D formulation is always conic. Measured with
#: Clarabel/qdldl on 2 shared, loaded cores (single runs, m=500, P=100 sampled):
#: d=5 (7.5e5) 7.9 s, d=10 (1.5e6) 9.7 s, d=20 (3e6) 17.6 s, all certified to
#: gap_rel ≤ 1e-8, while FISTA (max_iter 10⁴) took 8–94 s and stopped at gap_rel
#: 2e-3–5e-3; at m=2000, d=50, P=50 (1.5e7) the conic solve takes ~100 s, which
#: only the first-order engine can bring towards the 5 s target.  The MNIST convex
#: step (m=300, d=31, P=40 with guided patterns, q=2: 2.2e6) takes 9.1 s with
#: Clarabel (gap_rel 2e-9) vs 28.8 s with FISTA (max_iter, gap_rel 3e-6), hence
#: the limit of 4e6.
CONIC_AUTO_MAX_NNZ = 4_000_000

#: Clarabel options for program (12): :data:`~cvximplicit.solvers.backend.CLARABEL_OPTS`
#: (gap/feasibility tolerances 1e-8; certified ``gap_rel`` ≤ 7e-8 measured on the
#: exact 1-D block) and ``direct_solve_method="qdldl"``. Measured here (2 shared
#: cores, single runs): plain form m=500, d=10, P=20: qdldl 0.9 s vs faer
#: (Clarabel's "auto") 3.5 s; m=1000, d=10, P=30: 5.6 s vs 17 s; on the reduced
#: 1-D form (m=500) 0.13 s vs 0.14 s.
CLARABEL_RELU_OPTS = dict(CLARABEL_OPTS, direct_solve_method="qdldl")

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 6


# --------------------------------------------------------------------------- solution
@dataclass
class ConvexReLUSolution:
    """Solution of program (12) and its certificate.

    Attributes
    ----------
    V, W : ndarray, shape (P, d, q)
        ``V[k, :, c]`` (``W[k, :, c]``) is the weight of pattern ``k`` for output
        ``c`` with positive (negative) output sign.
    patterns : ndarray of bool, shape (m, P)
        The activation patterns (columns are diagonals of ``D_k``).
    beta : float
        The regularisation weight β.
    report : SolveReport
        Solver, status, objective (the convex objective at ``V, W``), certified
        bound, gap, times, certificate kind (``"global"``/``"restricted"``),
        ``residual`` (the largest relative cone-constraint violation) and
        ``extra`` (``n_patterns``, ``beta``, ``n_active_neurons``, ``m``, ``d``, ``q``,
        ``network_objective``, ``constraint_violation``, ``formulation``).
    scale : float
        ``‖Y‖_F / ‖M‖_F``, the natural size of a group norm; the neuron threshold
        is ``tol · max(largest group norm, scale)`` so an all-zero solution
        (β ≥ β_max, groups at ~1e-10) decodes to no neurons.
    """

    V: np.ndarray
    W: np.ndarray
    patterns: np.ndarray
    beta: float
    report: SolveReport
    scale: float = 0.0

    def neurons(self, tol: float = NEURON_TOL) -> tuple[np.ndarray, np.ndarray]:
        """Decode the ReLU network: ``W1`` ``(k, d)`` input weights, ``W2`` ``(q, k)`` output weights.

        Each group ``V[k,:,c]`` with ``‖V[k,:,c]‖ > tol · max(max_group_norm, scale)`` becomes a
        neuron with input weights ``V/√‖V‖`` and output weight ``+√‖V‖`` on output
        ``c`` (zero on the others); ``W`` groups give output weight ``−√‖W‖``. The
        ``V`` neurons come first, each ordered by ``(k, c)``. ``tol=0`` keeps every
        non-zero group. Prediction: ``relu(M @ W1.T) @ W2.T``.
        """
        return _decode(self.V, self.W, tol, self.scale)

    def predict(self, M) -> np.ndarray:
        """Network prediction ``relu(M W1ᵀ) W2ᵀ``, shape ``(m, q)``, for ``M`` ``(m, d)`` (rows are samples).

        Uses every non-zero group (``tol=0``), so on the training ``M`` it equals
        the convex fit ``Σ_k D_k M (V_k − W_k)`` wherever the cone constraints hold.
        """
        M = np.asarray(M, dtype=float)
        if M.ndim != 2 or M.shape[1] != self.V.shape[1]:
            raise ValidationError(f"M must have shape (m, {self.V.shape[1]}) (rows are samples); got {M.shape}")
        W1, W2 = self.neurons(tol=0.0)
        return np.maximum(M @ W1.T, 0.0) @ W2.T


def _decode(V: np.ndarray, W: np.ndarray, tol: float, scale: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    if not tol >= 0:
        raise ValidationError(f"tol must be >= 0; got tol={tol!r}")
    P, d, q = V.shape
    nv = np.linalg.norm(V, axis=1)  # (P, q)
    nw = np.linalg.norm(W, axis=1)
    largest = max(float(nv.max(initial=0.0)), float(nw.max(initial=0.0)))
    thr = tol * max(largest, scale)
    rows, outs = [], []
    for norms, Z, sign in ((nv, V, 1.0), (nw, W, -1.0)):
        ks, cs = np.nonzero((norms > thr) & (norms > 0))
        for k, c in zip(ks, cs):
            r = float(np.sqrt(norms[k, c]))
            rows.append(Z[k, :, c] / r)
            col = np.zeros(q)
            col[c] = sign * r
            outs.append(col)
    if not rows:
        return np.zeros((0, d)), np.zeros((q, 0))
    return np.array(rows), np.array(outs).T


# --------------------------------------------------------------------------- validation
def _validate(M, Y, beta):
    """Real, finite float64 ``M`` (m, d) and ``Y`` (m, q), and ``β > 0`` (complex and string data are rejected)."""
    M = as_real_array(M, "M")
    if M.ndim != 2:
        raise ValidationError(f"M must be a 2-D array (m samples × d features, rows are samples); got {M.shape}")
    Y = as_real_array(Y, "Y")
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape[0] != M.shape[0]:
        raise ValidationError(
            f"Y must have shape (m, q) or (m,) with m = M.shape[0] = {M.shape[0]} (rows are samples); got {Y.shape}"
        )
    return M, Y, _certificate()._as_beta(beta)


def _digest(*arrays) -> str:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.shape, a.dtype)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- formulations
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
    key = (form, _digest(M, patterns), q)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key], True
    built = _Reduced1D(M, patterns, q, cols, structure) if form == "reduced_1d" else _Plain(M, patterns, q)
    _CACHE[key] = built
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return built, False


def plain_nnz(m: int, d: int, P: int, q: int) -> int:
    """Estimated non-zeros of the plain conic formulation (fit + two cone blocks)."""
    return 3 * m * d * P * q


# --------------------------------------------------------------------------- certificate tolerances
#: Relative gap within which a conic solve of program (12) is certified. Interior-point
#: solvers (Clarabel at tolerances 1e-8, ECOS, MOSEK) reach ≤ 1e-7 on these programs
#: (measured on the exact 1-D block); SCS, a first-order conic solver with default
#: accuracy ``eps = 1e-4``, is held to 1e-3.
CONIC_GAP_TOL = 1e-6
_FIRST_ORDER_CONIC_GAP_TOL = {"SCS": 1e-3}


def conic_gap_tol(name: str) -> float:
    """The certificate tolerance of conic solver ``name`` (see :data:`CONIC_GAP_TOL`)."""
    return _FIRST_ORDER_CONIC_GAP_TOL.get(name, CONIC_GAP_TOL)


def _certificate():
    """The certificate module; imported lazily (it imports nothing from here, but keeps start-up light)."""
    from . import certificate  # noqa: PLC0415

    return certificate


def _choose(name: str, reduced: bool, m: int, d: int, P: int, q: int) -> tuple[str, str]:
    """The engine or conic solver that runs, and why (the ``"auto"`` rule lives here only)."""
    if name != "auto":
        return name, "requested"
    if reduced:
        return "auto", "auto: exact 1-D arrangements, reduced O(m) conic form"
    nnz = plain_nnz(m, d, P, q)
    if nnz <= CONIC_AUTO_MAX_NNZ:
        return "auto", f"auto: plain conic form with {nnz:.3g} <= {CONIC_AUTO_MAX_NNZ:.3g} non-zeros"
    return "FISTA", f"auto: plain conic form would have {nnz:.3g} > {CONIC_AUTO_MAX_NNZ:.3g} non-zeros"


def _check_reductions(reductions) -> tuple[str, ...]:
    if isinstance(reductions, str) or not all(isinstance(r, str) and r for r in reductions):
        raise ValidationError(
            "reductions must be a sequence of non-empty strings describing how M and Y were derived from the "
            f"block's data (e.g. ('rows 300/60000',)); got {reductions!r}"
        )
    return tuple(reductions)


# --------------------------------------------------------------------------- public entry point
def solve_convex_relu(M, Y, *, beta, patterns="auto", n_patterns=100, seed=0, solver="auto",
                      solver_opts=None, fallback=("SCS",), reductions=(), gap_tol=None) -> ConvexReLUSolution:
    """Solve the Ergen–Pilanci program for step (12) of Algorithm 2 and certify it.

    Parameters
    ----------
    M : array_like, shape (m, d)
        Block input, **rows are samples** (``M = Ũ_iᵀ``, bias column included).
    Y : array_like, shape (m, q) or (m,)
        Targets (the residual ``Ỹᵀ``), rows are samples.
    beta : float
        Regularisation weight β > 0 (weight decay ``β/2 (‖W1‖² + ‖W2‖²)`` of the network).
    patterns : {"auto", "exact", "sampled"} or ndarray of bool, shape (m, P)
        See :func:`~cvximplicit.solvers.arrangements.resolve_patterns`: ``"exact"`` (all
        arrangements of ``M = [u, 1]``), ``"sampled"`` (``n_patterns`` seeded Gaussian
        gates), ``"auto"`` (exact when possible) or an array used as given.
    n_patterns : int
        Gates drawn for sampled patterns (duplicates/all-zero removed).
    seed : int
        Seed for the sampled patterns.
    solver : str
        ``"auto"``: the reduced 1-D form or a plain form of at most
        :data:`CONIC_AUTO_MAX_NNZ` non-zeros goes to Clarabel (SCS after it if Clarabel
        fails), larger ones to ``"FISTA"``; the report's ``solver_reason`` says which rule
        applied. An engine (``"FISTA"``, ``"ADMM"``) or a cvxpy solver name runs alone:
        its failure raises, it never becomes another solver.
    solver_opts : dict, optional
        Options of the solver that runs, checked strictly (an unknown key raises
        :class:`ValidationError` naming the valid ones). Conic solvers: passed to
        ``problem.solve`` on top of :data:`CLARABEL_RELU_OPTS` for Clarabel. Engines:
        their keyword options (``tol``, ``max_iter``, ``time_limit_s``, ...).
    fallback : sequence of str
        Conic solvers tried under ``"auto"`` when Clarabel fails; ignored otherwise.
    reductions : sequence of str
        How ``M`` and ``Y`` were derived from the block's actual data (rows subsampled,
        a feature basis, output directions, extra pattern sources). Recorded in the report;
        any entry makes the certificate ``"restricted"``.
    gap_tol : float, optional
        The relative gap within which the solve is certified: default
        :func:`conic_gap_tol` for conic solvers, the engine's ``tol`` for engines.

    Returns
    -------
    ConvexReLUSolution
        Its report's ``certificate`` is (see :data:`~cvximplicit.solvers.report.CERTIFIED_CLASS`)
        ``"global"`` only for every arrangement of an unreduced ``M`` with ``q = 1``,
        ``"global_one_vs_all"`` for the same with ``q > 1``, ``"restricted"`` for any other
        pattern set or any reduction, and ``"none"`` when the certified gap misses ``gap_tol``
        or the returned point violates the cone constraints by more than ``max(gap_tol, 1e-6)``
        (then ``gap_abs``/``gap_rel`` are None, since an infeasible point's objective bounds
        nothing). An uncertified solve warns :class:`~cvximplicit.exceptions.InaccurateSolutionWarning`.

    Raises
    ------
    ValidationError
        Bad shapes, non-finite data, β ≤ 0, unknown ``patterns`` mode, ``"exact"``
        for a non-1-D input, unknown ``solver_opts`` keys, malformed ``reductions``.
    SolverUnavailableError, MosekLicenseError, SolverFailedError
        See :func:`~cvximplicit.solvers.solve_cvxpy`.
    """
    t0 = time.perf_counter()
    M, Y, beta = _validate(M, Y, beta)
    reductions = _check_reductions(reductions)
    name = check_solver(solver)
    pattern_set = resolve_patterns(M, patterns, n_patterns, seed)
    pats, structure = pattern_set.patterns, pattern_set.structure
    m, d = M.shape
    q = Y.shape[1]
    P = pats.shape[1]
    reduced = structure is not None and one_d_columns(M) is not None
    name, reason = _choose(name, reduced, m, d, P, q)
    cert = _certificate()
    if is_engine(name):
        try:
            options = check_engine_options(name, solver_opts)
        except ValidationError as exc:
            if reason == "requested":
                raise
            raise ValidationError(f"{exc} (solver='auto' chose {name!r}: {reason}; name the solver to choose "
                                  "which one the options are for)") from None
        V, W, engine_report = get_engine(name)(M, Y, pats, beta, **options)
        V, W = np.asarray(V, dtype=float), np.asarray(W, dtype=float)
        tol = engine_gap_tol(name, dict(solver_opts or {})) if gap_tol is None else float(gap_tol)
        formulation, mus = "first_order", None
        compile_s, solve_s = engine_report.compile_time_s, engine_report.solve_time_s
        used, status, iters = engine_report.solver, engine_report.status, engine_report.iterations
    else:
        built, cached = _formulation(M, pats, q, structure)
        built.set_data(Y)
        built.beta.value = beta
        build_s = time.perf_counter() - t0
        solved = solve_cvxpy(
            built.problem, solver=name, solver_opts=solver_opts, problem_name="convex ReLU program (12)",
            default_opts={"CLARABEL": CLARABEL_RELU_OPTS}, fallback=fallback, warn_inaccurate=False,
        )
        used, status, iters = solved.solver, solved.status, solved.iterations
        compile_s, solve_s = solved.compile_time_s + build_s, solved.solve_time_s
        if name == "auto":
            reason = reason if solved.reason.startswith("auto: CLARABEL") else f"{reason}; {solved.reason}"
        tol = conic_gap_tol(used) if gap_tol is None else float(gap_tol)
        V, W = built.variables()
        mus = built.multipliers()
        formulation = built.name + (" (cached)" if cached else "")
        engine_report = None
    if not np.any(Y):  # Y = 0: the zero network is the exact optimum; drop solver round-off
        V, W = np.zeros_like(V), np.zeros_like(W)
        engine_report = None
    t_cert = time.perf_counter()
    scale = float(np.linalg.norm(Y)) / max(float(np.linalg.norm(M)), 1e-300)
    if engine_report is not None and engine_report.bound is not None:
        # The engine already evaluated the float64 objective, violation and dual bound.
        objective = float(engine_report.objective)
        violation = float(engine_report.residual)
        bound = float(engine_report.bound)
        bound_info = dict(engine_report.extra)
    else:
        residual = Y - cert.pattern_fit(M, pats, V - W)  # λ, (m, q)
        objective = float(cert.convex_objective(M, Y, pats, V, W, beta))
        violation = float(cert.constraint_violation(M, pats, V, W, group_floor=scale))
        mu_pos, mu_neg = (None, None) if mus is None else mus
        bound, bound_info = cert.dual_bound(M, Y, pats, beta, residual, mu_pos=mu_pos, mu_neg=mu_neg)
        bound = float(bound)
    feasible = violation <= max(tol, 1e-6)
    gap_abs, gap_rel = SolveReport.gaps(objective, bound) if feasible else (None, None)
    certified = gap_rel is not None and -tol <= gap_rel <= tol
    kind = relu_certificate_kind(all_arrangements=pattern_set.all_arrangements, q=q, reductions=reductions,
                                 certified=certified)
    if not certified:
        raw_gap = SolveReport.gaps(objective, bound)[1]
        warnings.warn(
            f"{used} stopped with status {status!r} on the convex ReLU program (12) without a certificate: "
            f"objective={objective:.10g}, bound={bound:.10g}, gap_rel={raw_gap:.3g} (tolerance {tol:g}), "
            f"constraint violation={violation:.3g}, iterations={iters}; raise max_iter/time_limit_s or tighten "
            "the tolerances via solver_opts, or use a conic solver such as solver='CLARABEL'",
            InaccurateSolutionWarning,
            stacklevel=2,
        )
    engine_extra = {} if engine_report is None else dict(engine_report.extra)
    if "network_objective" in engine_extra:  # the engine already evaluated the decoded network
        network_objective = float(engine_extra["network_objective"])
    else:
        W1, W2 = _decode(V, W, 0.0)
        network_objective = float(cert.relu_network_objective(M, Y, W1, W2, beta))
    n_active = _decode(V, W, NEURON_TOL, scale)[0].shape[0]
    extra = {
        "n_patterns": P, "beta": beta, "n_active_neurons": int(n_active), "m": m, "d": d, "q": q,
        "formulation": formulation, "network_objective": network_objective,
        "constraint_violation": violation, "certificate_time_s": time.perf_counter() - t_cert,
        "dual_bound_info": {k: v for k, v in dict(bound_info or {}).items() if np.isscalar(v)},
    }
    scope = {
        "program": "Ergen-Pilanci program (12)", "loss": "squared", "rows": m, "features": d, "outputs": q,
        "patterns": pattern_set.source, "all_arrangements": pattern_set.all_arrangements, "n_patterns": P,
        "network_class": CERTIFIED_CLASS[kind][0], "gap_tol": tol,
    }
    report = SolveReport(
        problem="convex_relu", solver=used, status=status, objective=objective, bound=bound, gap_abs=gap_abs,
        gap_rel=gap_rel, iterations=iters, compile_time_s=float(compile_s), solve_time_s=float(solve_s),
        certificate=kind, residual=violation, requested_solver=str(solver), solver_reason=reason,
        reductions=reductions, scope=scope, extra=extra,
    )
    return ConvexReLUSolution(V=V, W=W, patterns=pats, beta=beta, report=report, scale=scale)


__all__ += ["plain_nnz", "conic_gap_tol", "CONIC_GAP_TOL"]
