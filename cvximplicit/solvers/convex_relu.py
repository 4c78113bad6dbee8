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
``½‖Σ_j (M a_j)_+ b_j − y‖² + (β/2) Σ_j (‖a_j‖² + b_j²)`` (Pilanci & Ergen 2020):
certificate ``"global"``. With sampled patterns it is certified only for the
problem restricted to them: ``"restricted"``.

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

from ..exceptions import InaccurateSolutionWarning, SolverUnavailableError, ValidationError
from .arrangements import exact_patterns_1d, sample_patterns, threshold_structure_1d
from .backend import CLARABEL_OPTS, check_solver, solve_cvxpy
from .report import SolveReport

__all__ = [
    "ConvexReLUSolution",
    "solve_convex_relu",
    "NEURON_TOL",
    "CONIC_AUTO_MAX_NNZ",
    "CLARABEL_RELU_OPTS",
    "FISTA_DEFAULT_TOL",
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

#: Default relative tolerance handed to the first-order engine.
FISTA_DEFAULT_TOL = 1e-6

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
    M = np.asarray(M, dtype=float)
    if M.ndim != 2:
        raise ValidationError(f"M must be a 2-D array (m samples × d features, rows are samples); got {M.shape}")
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape[0] != M.shape[0]:
        raise ValidationError(
            f"Y must have shape (m, q) or (m,) with m = M.shape[0] = {M.shape[0]} (rows are samples); got {Y.shape}"
        )
    if not (np.all(np.isfinite(M)) and np.all(np.isfinite(Y))):
        raise ValidationError("M and Y must be finite; got NaN or inf entries")
    try:
        beta = float(beta)
    except (TypeError, ValueError):
        raise ValidationError(f"beta must be a positive float; got beta={beta!r}") from None
    if not (beta > 0 and np.isfinite(beta)):
        raise ValidationError(f"beta must be a positive finite float; got beta={beta!r}")
    return M, Y, beta


def _one_d_columns(M: np.ndarray):
    """``(col_u, col_c, c)`` when ``M = [u, c·1]`` (any column order, c ≠ 0, u not constant), else None."""
    if M.shape[1] != 2:
        return None
    const = [bool(np.all(M[:, j] == M[0, j])) and M[0, j] != 0 for j in range(2)]
    if const[0] == const[1]:
        return None
    col_c = 0 if const[0] else 1
    return 1 - col_c, col_c, float(M[0, col_c])


def _resolve_patterns(M, patterns, n_patterns, seed):
    """Return ``(patterns (m, P) bool, certificate kind, 1-D structure or None)``."""
    cols = _one_d_columns(M)
    if isinstance(patterns, str):
        mode = patterns.lower()
        if mode not in ("auto", "exact", "sampled"):
            raise ValidationError(
                f"patterns must be 'auto', 'exact', 'sampled' or an (m, P) bool array; got {patterns!r}"
            )
        if mode == "auto":
            mode = "exact" if cols is not None else "sampled"
        if mode == "exact":
            if cols is None:
                raise ValidationError(
                    "patterns='exact' enumerates all arrangements only for a scalar input plus a constant "
                    f"(bias) column, M of shape (m, 2); got M of shape {M.shape}. Use patterns='sampled'"
                )
            pats = exact_patterns_1d(M[:, cols[0]])
            return pats, "global", threshold_structure_1d(M[:, cols[0]], pats)
        return sample_patterns(M, n_patterns, seed=seed), "restricted", None
    pats = np.asarray(patterns)
    if pats.ndim != 2 or pats.shape[0] != M.shape[0] or pats.shape[1] == 0:
        raise ValidationError(f"patterns array must have shape (m, P) = ({M.shape[0]}, P>0); got {pats.shape}")
    if pats.dtype != bool:
        if not np.all((pats == 0) | (pats == 1)):
            raise ValidationError("patterns array must be boolean (or 0/1); got other values")
        pats = pats.astype(bool)
    if not pats.any(axis=0).all():
        raise ValidationError("patterns must not contain an all-zero column (it contributes nothing)")
    structure = threshold_structure_1d(M[:, cols[0]], pats) if cols is not None else None
    kind = "restricted"
    if structure is not None:
        full = exact_patterns_1d(M[:, cols[0]])
        if _pattern_set(full) == _pattern_set(pats):
            kind = "global"
    return pats, kind, structure


def _pattern_set(p):
    return {col.tobytes() for col in np.packbits(p, axis=0).T}


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
    cols = _one_d_columns(M)
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


# --------------------------------------------------------------------------- certificate helpers
def _certificate():
    """The certificate module (owned by the first-order engine's author); imported lazily."""
    from . import certificate  # noqa: PLC0415

    return certificate


# --------------------------------------------------------------------------- public entry point
def solve_convex_relu(M, Y, *, beta, patterns="auto", n_patterns=100, seed=0, solver="auto",
                      solver_opts=None, fallback=("CLARABEL", "SCS")) -> ConvexReLUSolution:
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
        ``"exact"``: all arrangements (only for ``M = [u, 1]``, scalar input plus
        a constant column) — certificate ``"global"``; ``"sampled"``: ``n_patterns``
        Gaussian gates, seeded — ``"restricted"``; ``"auto"``: exact when ``M`` is
        1-D plus a constant column, else sampled. An array is used as given
        (``"global"`` only if it is the full set of arrangements of a 1-D ``M``).
    n_patterns : int
        Gates drawn for sampled patterns (duplicates/all-zero removed).
    seed : int
        Seed for the sampled patterns.
    solver : str
        ``"auto"``: conic (Clarabel) when the reduced 1-D form applies or the plain
        form has at most :data:`CONIC_AUTO_MAX_NNZ` non-zeros, else ``"FISTA"``;
        ``"FISTA"``: the first-order engine; any cvxpy solver name (checked by
        :func:`~cvximplicit.solvers.check_solver`).
    solver_opts : dict, optional
        Conic solvers: passed unchanged to ``problem.solve`` (overriding
        :data:`CLARABEL_RELU_OPTS` for Clarabel). ``"FISTA"``: keyword arguments of
        ``solve_convex_relu_first_order`` (``tol``, ``max_iter``, ``time_limit_s``, ``dtype``, ...).
    fallback : sequence of str
        Conic solvers tried when the requested one fails (see
        :func:`~cvximplicit.solvers.solve_cvxpy`); ``()`` disables the fallback.

    Returns
    -------
    ConvexReLUSolution

    Raises
    ------
    ValidationError
        Bad shapes, non-finite data, β ≤ 0, unknown ``patterns`` mode, ``"exact"``
        for a non-1-D input.
    SolverUnavailableError, MosekLicenseError, SolverFailedError
        See :func:`~cvximplicit.solvers.solve_cvxpy`.
    """
    t0 = time.perf_counter()
    M, Y, beta = _validate(M, Y, beta)
    name = check_solver(solver)
    pats, kind, structure = _resolve_patterns(M, patterns, n_patterns, seed)
    m, d = M.shape
    q = Y.shape[1]
    P = pats.shape[1]
    reduced = structure is not None and _one_d_columns(M) is not None
    if name == "auto":
        small = reduced or plain_nnz(m, d, P, q) <= CONIC_AUTO_MAX_NNZ
        name = "CLARABEL" if small or not _first_order_available() else "FISTA"
    cert = _certificate()
    if name == "FISTA":
        V, W, rep = _solve_first_order(M, Y, pats, beta, solver_opts)
        formulation, mus = "first_order", None
        compile_s, solve_s = rep.compile_time_s, rep.solve_time_s
        used, status, iters = rep.solver, rep.status, rep.iterations
        first_order_report = rep
    else:
        built, cached = _formulation(M, pats, q, structure)
        built.set_data(Y)
        built.beta.value = beta
        defaults = {"CLARABEL": CLARABEL_RELU_OPTS}
        build_s = time.perf_counter() - t0
        used, status, compile_s, solve_s, iters = solve_cvxpy(
            built.problem, solver=name, solver_opts=solver_opts, problem_name="convex ReLU program (12)",
            default_opts=defaults, fallback=fallback,
        )
        compile_s += build_s
        V, W = built.variables()
        mus = built.multipliers()
        formulation = built.name + (" (cached)" if cached else "")
        first_order_report = None
    if not np.any(Y):  # Y = 0: the zero network is the exact optimum; drop solver round-off
        V, W = np.zeros_like(V), np.zeros_like(W)
        first_order_report = None
    t_cert = time.perf_counter()
    if first_order_report is not None and first_order_report.bound is not None:
        # The engine already evaluated the float64 objective, violation and dual bound
        # (certificate.dual_bound with its augmented-Lagrangian multipliers).
        objective = float(first_order_report.objective)
        violation = float(first_order_report.residual)
        bound = float(first_order_report.bound)
        bound_info = dict(first_order_report.extra)
    else:
        residual = Y - cert.pattern_fit(M, pats, V - W)  # λ, (m, q)
        mu_pos, mu_neg = (None, None) if mus is None else mus
        objective = float(cert.convex_objective(M, Y, pats, V, W, beta))
        violation = float(cert.constraint_violation(M, pats, V, W))
        bound, bound_info = cert.dual_bound(M, Y, pats, beta, residual, mu_pos=mu_pos, mu_neg=mu_neg)
        bound = float(bound)
    gap_abs, gap_rel = SolveReport.gaps(objective, bound)
    if used == "FISTA" and status != "optimal":
        warnings.warn(
            f"FISTA stopped with status {status!r} on the convex ReLU program (12): objective={objective:.10g}, "
            f"certified bound={bound:.10g}, gap_rel={gap_rel:.3g}, iterations={iters}, "
            f"constraint violation={violation:.3g}; raise max_iter/time_limit_s via solver_opts or use a "
            "conic solver (e.g. solver='CLARABEL') for a tighter certificate",
            InaccurateSolutionWarning,
            stacklevel=2,
        )
    fo_extra = {} if first_order_report is None else dict(first_order_report.extra)
    if "network_objective" in fo_extra:  # the engine already evaluated the decoded network
        network_objective = float(fo_extra["network_objective"])
    else:
        W1, W2 = _decode(V, W, 0.0)
        network_objective = float(cert.relu_network_objective(M, Y, W1, W2, beta))
    scale = float(np.linalg.norm(Y)) / max(float(np.linalg.norm(M)), 1e-300)
    n_active = _decode(V, W, NEURON_TOL, scale)[0].shape[0]
    extra = {
        "n_patterns": P, "beta": beta, "n_active_neurons": int(n_active), "m": m, "d": d, "q": q,
        "formulation": formulation, "network_objective": network_objective,
        "constraint_violation": violation, "certificate_time_s": time.perf_counter() - t_cert,
        "dual_bound_info": {k: v for k, v in dict(bound_info or {}).items() if np.isscalar(v)},
    }
    report = SolveReport(
        problem="convex_relu", solver=used, status=status, objective=objective, bound=bound, gap_abs=gap_abs,
        gap_rel=gap_rel, iterations=iters, compile_time_s=float(compile_s), solve_time_s=float(solve_s),
        certificate=kind, residual=violation, extra=extra,
    )
    return ConvexReLUSolution(V=V, W=W, patterns=pats, beta=beta, report=report, scale=scale)


def _first_order_available() -> bool:
    import importlib.util  # noqa: PLC0415

    return importlib.util.find_spec(f"{__package__}.first_order") is not None


def _solve_first_order(M, Y, pats, beta, solver_opts):
    try:
        from .first_order import solve_convex_relu_first_order  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - only while the engine is missing
        raise SolverUnavailableError(
            "solver='FISTA' needs cvximplicit.solvers.first_order, which could not be imported "
            f"({exc}); use solver='CLARABEL'"
        ) from exc
    opts = {"tol": FISTA_DEFAULT_TOL}
    opts.update(dict(solver_opts or {}))
    V, W, rep = solve_convex_relu_first_order(M, Y, pats, beta, **opts)
    return np.asarray(V, dtype=float), np.asarray(W, dtype=float), rep


__all__ += ["plain_nnz"]
