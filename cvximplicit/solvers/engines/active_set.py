r"""Working-set engine for program (12): its work follows the active groups and their tight cone rows.

The program separates over outputs ``c`` (one-vs-all groups); per output, with groups
``g = (k, s)`` (pattern ``k``, sign ``s = +1`` for ``V``, ``−1`` for ``W``), ``A_k = (2D_k − I) M``
and ``B_g = s D_k M``:

.. math::

    \min_{z}\; \tfrac12\Big\|\sum_g B_g z_g - y\Big\|^2 + \beta \sum_g \|z_g\|_2
    \quad\text{s.t. } A_{k_g} z_g \ge 0 .

**Outer loop (the full pass).** At the residual ``λ = y − Σ_g B_g z_g`` every group's dual
constraint value is ``ρ_g = min_{μ ≥ 0} ‖s Mᵀ D_k λ + A_kᵀ μ‖ = ‖Π_{K_k}(s Mᵀ D_k λ)‖``, the norm of
the projection of its ascent direction onto its own cone ``K_k = {h : A_k h ≥ 0}`` (Moreau). One
GEMM gives the plain values ``‖s Mᵀ D_k λ‖``; a group above ``β`` is screened by its last projection's
multipliers, rescaled (for all groups at once: two more products), then by its last face, and otherwise gets
the projection by constraint generation (NNLS
on its most violated rows, rows added while the projection violates others). A pass that has found
twice as many groups to enter as it will take stops projecting (the rest keep ``μ = 0``: a valid,
weaker bound). Any ``μ ≥ 0`` bounds ``ρ_g`` from above, so these multipliers, with the working set's own,
feed :func:`~cvximplicit.solvers.relu.certificate.dual_bound` in float64: the judge (a working-set group whose
least-squares multipliers have a negative entry, on a degenerate face, gives its NNLS ones). Groups with
``ρ_g > β`` join the working set (the largest first, at most as many as it holds), entering along
their projected direction at the step that minimises the objective.

**Inner solve (the working set).** A primal active-set Newton method on the Gram form: each
group keeps a set of cone rows held at equality, ``z_g = N_g t_g`` on the null space of those rows;
Newton steps on ``t`` (Hessian ``(BN)ᵀ(BN)`` plus the curvature of the group norms, blocks cached
per group) with a ratio test that stops at the first cone row met (it joins the set) and an
Armijo backtrack (Levenberg–Marquardt damping where the Hessian is singular). A step that met a row
goes on along a bent path: each group hit continues along its direction projected onto its new face,
segment by segment while the objective falls, so one Newton system adds many rows (on the d = 50 block
at 0.01 β_max: 128 Newton systems instead of 943). At a stationary point
(or one where the objective cannot resolve a decrease) the rows' multipliers are fitted by least squares
on the rows' QR factors; where one is negative, they are refitted by NNLS over every row at zero (exact on
degenerate faces, whose dependent rows least squares splits arbitrarily), the rows with positive NNLS
multipliers become the tight set, and the next step is a Cauchy step along the projection of the negative
gradient onto the tangent cone, which no row at zero blocks: every face change lowers the objective, so the
faces cannot cycle; when that Cauchy step would gain less than the inner tolerance, the inner solve ends instead
(its multipliers are only as accurate as that tolerance: leaving faces on them made rows leave and re-join
hundreds of times). A row met within ``1e-9`` of a step joins at once. Newton steps cannot reach zero, where a
group norm bends, so a group whose ray ``t z_g`` has its minimiser at ``t ≤ 0`` steps to zero and leaves.
Iterates stay feasible, so the objective is always that of a feasible point. A group that shrinks to
round-off, or whose rows leave it no free direction, leaves the working set. A pass that lets no group in
leaves the inner solve to finish to ``1e-6`` of the target gap; a warm start's groups are fitted at the new β
before the first full pass. Memory ``O(m·d + m·P·q)``;
no ``m × m`` or ``m × P·d`` matrix.

Budgets count work (outer passes, Newton steps); the clock acts only through ``time_limit_s``.
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp
from scipy.linalg.lapack import dgeqp3 as _geqp3
from scipy.linalg.lapack import dorgqr as _orgqr
from scipy.linalg.lapack import dposv as _posv
from scipy.linalg.lapack import dtrtrs as _trtrs
from scipy.optimize import nnls

from ..._params import Int, Real, check_params
from ...exceptions import ValidationError
from ..core._checks import _as_groups, _program_data
from ..core._threads import one_blas_thread_if_small
from ..core.report import SolveReport, engine_certificate_kind, gap_certified
from ..relu import certificate as _cert
from ._admm_repair import exact_point

__all__ = ["ACTIVE_SET_OPTIONS", "solve_convex_relu_active_set"]

#: The engine's options (an unknown key is an error naming these).
ACTIVE_SET_OPTIONS = ("tol", "max_outer", "max_newton", "time_limit_s", "verbose")

_TIGHT = 1e-10  # a row is tight when A_i z ≤ this · ‖A_i‖ ‖z‖
_FINISH_FRACTION = 1e-6  # once no group enters, the inner solve goes to this fraction of the target gap
_INNER_FRACTION = 1e-4  # an inner solve stops at a Newton decrement of this fraction of the last gap
_DROP = 1e-9  # a group whose norm falls below this times the largest leaves the working set
_PROJ_ROUNDS = 12  # constraint-generation rounds of one cone projection
_DEPENDENT = 1e-12  # a tight row whose part outside the span of the others is below this (relative) is dependent
_BENDS = 50  # segments of one bent search (rows joined along one Newton step)
_WARM_FRACTION = 1e-3  # a warm start's groups are first solved to a decrement of this fraction of its objective
_SMALL_PRODUCT = 40_000  # m × (Hessian size) below which (BN)ᵀ(BN) is formed afresh


# --------------------------------------------------------------------------- cone projection
def _norm(x):
    """``‖x‖₂`` of a 1-D array (what ``np.linalg.norm`` computes, without its dispatch)."""
    return math.sqrt(float(x @ x))


def _project(Mk_sgn, a, row_norm, enough=0.0, first_rows=None, rounds=_PROJ_ROUNDS):
    """``min_{μ ≥ 0} ‖a + A_Cᵀ μ‖`` by NNLS on a growing row set ``C`` of ``A = Mk_sgn`` ``(m, d)``.

    Returns ``(h, rows, mu)``: ``h = a + A_rowsᵀ mu`` (``‖h‖`` bounds ``ρ`` from above for any
    rows; it equals ``ρ`` once ``A h ≥ 0``), the rows and their multipliers. Stops early once
    ``‖h‖ ≤ enough`` (the group is then proved to satisfy its dual constraint).
    """
    d = a.size
    g = Mk_sgn @ a
    viol = np.flatnonzero(g < 0)
    if viol.size == 0:
        return a.copy(), np.zeros(0, dtype=np.intp), np.zeros(0)
    rows = viol[np.argsort(g[viol] / row_norm[viol], kind="stable")[: d]]  # the most violated rows first
    if first_rows is not None and first_rows.size:
        rows = np.union1d(rows, first_rows)
    for _ in range(rounds):
        At = Mk_sgn[rows].T  # (d, |C|)
        mu, _ = nnls(At, -a, maxiter=20 * max(rows.size, d))
        h = a + At @ mu
        used = rows
        if _norm(h) <= enough:
            break
        g = Mk_sgn @ h
        viol = np.flatnonzero(g < -1e-12 * _norm(h) * row_norm)
        in_rows = np.zeros(g.size, dtype=bool)
        in_rows[rows] = True
        viol = viol[~in_rows[viol]]
        if viol.size == 0:
            break
        rows = np.union1d(rows[mu > 0], viol[np.argsort(g[viol] / row_norm[viol], kind="stable")[: 2 * d]])
    nz = mu > 0
    return h, used[nz], mu[nz]


def _project_on_face(Mk_sgn, a, face, row_norm):
    """The projection of ``a`` onto ``K = {h : A h ≥ 0}`` if its face is ``face``, else None.

    ``h = a + A_Fᵀ μ`` with ``A_F h = 0`` (one ``|F| × |F|`` least-squares solve): the exact
    projection when ``μ ≥ 0`` and ``A h ≥ 0`` (the KKT conditions), which one ``m × d`` product checks.
    """
    if face.size == 0:
        return None
    AF = Mk_sgn[face]
    mu = np.linalg.lstsq(AF @ AF.T, -(AF @ a), rcond=None)[0]
    if mu.min() < 0:
        return None
    h = a + AF.T @ mu
    if np.any(Mk_sgn @ h < -1e-12 * _norm(h) * row_norm):
        return None
    return h, face, mu


def _qr_pivoted(A):
    """Column-pivoted full QR ``A[:, piv] = Q R`` by LAPACK's ``geqp3``/``orgqr`` (what ``scipy.linalg.qr(A,
    mode="full", pivoting=True)`` computes, without its per-call checks: this runs once per face change)."""
    m, n = A.shape
    qr, jpvt, tau, work, _ = _geqp3(A, lwork=-1)
    qr, jpvt, tau, _, info = _geqp3(A, lwork=int(work[0].real))
    if info < 0:
        raise ValueError(f"illegal value in argument {-info} of LAPACK geqp3")
    R = np.triu(qr)
    full = np.empty((m, m))
    full[:, :min(m, n)] = qr[:, :min(m, n)]  # the reflectors; orgqr forms Q from them
    lwork = int(_orgqr(full, tau, lwork=-1)[1][0].real)
    Q, _, info = _orgqr(full, tau, lwork=lwork, overwrite_a=1)
    if info < 0:
        raise ValueError(f"illegal value in argument {-info} of LAPACK orgqr")
    return Q, R, jpvt - 1


def _solve_upper(R, b):
    """``R⁻¹ b`` for upper-triangular ``R`` by LAPACK's ``trtrs`` (as ``scipy.linalg.solve_triangular``)."""
    x, info = _trtrs(R, b) if R.flags.f_contiguous else _trtrs(R.T, b, lower=1, trans=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"singular triangular factor (LAPACK trtrs info {info})")
    return x


def _null_space(A_act, d):
    """Orthonormal basis ``(d, f)`` of ``{h : A_act h = 0}``, and the QR factors of ``A_actᵀ`` for its multipliers."""
    if A_act.shape[0] == 0:
        return np.eye(d), None
    Q, R, piv = _qr_pivoted(A_act.T)  # column-pivoted: |diag R| decreasing
    diag = np.abs(np.diag(R))
    rank = int(np.sum(diag > _DEPENDENT * max(float(diag[0]), 1e-300))) if diag.size else 0
    return np.ascontiguousarray(Q[:, rank:]), (Q[:, :rank], R[:rank, :rank], piv[:rank])


# --------------------------------------------------------------------------- one output
class _Output:
    """The working set of one output: groups ``(k, s)``, their points ``Z`` ``(n, d)``, tight rows, bases."""

    def __init__(self, M, y, D, S, row_norm, beta):
        self.M, self.y, self.D, self.S, self.row_norm, self.beta = M, y, D, S, row_norm, beta
        self.m, self.d = M.shape
        self.ks = np.zeros(0, dtype=np.intp)  # pattern of each group
        self.sv = np.zeros(0, dtype=np.intp)  # 0: V (output sign +1), 1: W (−1)
        self.Z = np.zeros((0, self.d))
        self.act = np.zeros((0, self.m), dtype=bool)  # rows held at equality
        self.N: list = []
        self.QR: list = []  # QR factors of each group's tight rows (for its multipliers)
        self.BN: list = []
        self.ids: list[int] = []
        self._blocks = None  # the Hessian's block index arrays for the last block offsets (_block_indices)
        self._asm = None  # the last (BN blocks, (BN)ᵀ(BN), offsets, BN): reused while no face changes
        self.face_mu = np.zeros((2, S.shape[1], self.m))  # each group's last cone-projection multipliers
        self._next_id = 0

    @property
    def n(self):
        return self.ks.size

    def coef(self):
        """``(m, n)``: column ``j`` is ``s_j D_{k_j}`` (the fit is ``Σ_j coef_j ∘ (M z_j)``)."""
        return self.D[:, self.ks] * (1.0 - 2.0 * self.sv)

    def fit(self):
        return np.einsum("mn,mn->m", self.M @ self.Z.T, self.coef()) if self.n else np.zeros(self.m)

    def objective(self, r):
        return self.objective_at(r, self.Z)

    def objective_at(self, r, Z):
        return 0.5 * float(r @ r) + self.beta * float(np.sqrt(np.einsum("nd,nd->n", Z, Z)).sum())

    def add(self, k, s, z, rows):
        self.ks = np.r_[self.ks, k]
        self.sv = np.r_[self.sv, s]
        self.Z = np.vstack([self.Z, z[None]])
        a = np.zeros((1, self.m), dtype=bool)
        a[0, rows] = True
        self.act = np.vstack([self.act, a])
        self.N.append(None)
        self.QR.append(None)
        self.BN.append(None)
        self.ids.append(self._next_id)
        self._next_id += 1

    def remove(self, drop):
        """Remove the groups where the bool array ``drop`` is True."""
        if not drop.any():
            return
        keep = ~drop
        self.ks, self.sv, self.Z, self.act = self.ks[keep], self.sv[keep], self.Z[keep], self.act[keep]
        self.N = [x for x, kp in zip(self.N, keep) if kp]
        self.QR = [x for x, kp in zip(self.QR, keep) if kp]
        self.BN = [x for x, kp in zip(self.BN, keep) if kp]
        self.ids = [x for x, kp in zip(self.ids, keep) if kp]

    def invalidate(self, j):
        self.N[j] = self.QR[j] = self.BN[j] = None

    def join(self, j, rows):
        """Rows join group ``j``'s tight set (its basis is recomputed when next needed)."""
        self.act[j, rows] = True
        self.invalidate(j)

    def basis(self, j):
        if self.N[j] is None:
            k = self.ks[j]
            rows = np.flatnonzero(self.act[j])
            self.N[j], self.QR[j] = _null_space(self.S[rows, k, None] * self.M[rows], self.d)
        return self.N[j]

    def bn(self, j):
        """``B_j N_j`` ``(m, f_j)``: the fit's columns on group ``j``'s face (computed when first needed)."""
        if self.BN[j] is None:
            k = self.ks[j]
            self.BN[j] = ((1.0 - 2.0 * self.sv[j]) * self.D[:, k])[:, None] * (self.M @ self.basis(j))
        return self.BN[j]

    def hessian_fit(self):
        """``(BN)ᵀ(BN)``, ``BN = [B_1 N_1, …]`` and each group's first column: the last assembly's blocks of
        groups whose bases did not change are copied, the others computed (one product per changed group)."""
        for j in range(self.n):
            self.bn(j)
        old = self._asm
        if old is not None and len(old[0]) == self.n and all(a is b for a, b in zip(old[0], self.BN)):
            return old[1].copy(), old[3], old[2]  # no face changed since the last assembly
        offs = np.cumsum([0] + [BN.shape[1] for BN in self.BN], dtype=np.intp)
        BNcat = np.hstack(self.BN)
        if self.m * offs[-1] <= _SMALL_PRODUCT:  # small: one product beats copying the kept blocks
            H = BNcat.T @ BNcat
            self._asm = (list(self.BN), H, offs, BNcat)
            return H.copy(), BNcat, offs
        H = np.empty((offs[-1], offs[-1]))
        pos = {} if old is None else {id(BN): j for j, BN in enumerate(old[0]) if BN is not None}
        kept = [(j, pos[id(BN)]) for j, BN in enumerate(self.BN) if id(BN) in pos and old[0][pos[id(BN)]] is BN]
        if kept:
            new_cols = np.concatenate([np.arange(offs[j], offs[j + 1]) for j, _ in kept])
            old_cols = np.concatenate([np.arange(old[2][i], old[2][i + 1]) for _, i in kept])
            H[np.ix_(new_cols, new_cols)] = old[1][np.ix_(old_cols, old_cols)]
        for j in sorted(set(range(self.n)) - {j for j, _ in kept}):
            block = self.BN[j].T @ BNcat
            H[offs[j]:offs[j + 1]] = block
            H[:, offs[j]:offs[j + 1]] = block.T
        self._asm = (list(self.BN), H, offs, BNcat)
        return H.copy(), BNcat, offs

    def multipliers(self, j, r, mdr=None):
        """Least-squares multipliers of group ``j``'s tight rows, ``A_actᵀ μ = ∇_j f`` (stationarity): returns the
        rows, ``μ`` and ``∇_j f``. ``mdr``, if given, is ``Mᵀ D_k r`` for the group's pattern ``k``."""
        k = self.ks[j]
        z = self.Z[j]
        if mdr is None:
            mdr = self.M.T @ (self.D[:, k] * r)
        grad = -(1.0 - 2.0 * self.sv[j]) * mdr + self.beta * z / max(math.sqrt(float(z @ z)), 1e-300)
        rows = np.flatnonzero(self.act[j])
        if rows.size == 0:
            return rows, np.zeros(0), grad
        if self.QR[j] is None:
            self.QR[j] = _null_space(self.S[rows, k, None] * self.M[rows], self.d)[1]
        Q1, R1, piv = self.QR[j]  # A_actᵀ[:, piv] = Q1 R1 (+ dependent rows): least squares by the QR factors
        mu = np.zeros(rows.size)
        mu[piv] = _solve_upper(R1, Q1.T @ grad)
        return rows, mu, grad

    def nonneg_multipliers(self, j, rows, grad):
        """``μ = argmin_{μ ≥ 0} ‖A_0ᵀ μ − ∇_j f‖`` by NNLS over every row ``A_0`` of group ``j`` at zero (its
        tight ``rows`` and any other): exact on degenerate faces, where least squares splits the multipliers
        of dependent rows arbitrarily. Returns those rows, ``μ`` and ``h = A_0ᵀ μ − ∇_j f``, the projection of
        ``−∇_j f`` onto the tangent cone ``{h : A_0 h ≥ 0}``."""
        k, z = self.ks[j], self.Z[j]
        A = self.S[:, k, None] * self.M
        zero = np.union1d(rows, np.flatnonzero(A @ z <= _TIGHT * self.row_norm * _norm(z)))
        if not zero.size:  # (scipy's nnls must not see a matrix without columns)
            return zero, np.zeros(0), -grad
        A0 = A[zero]
        mu0, _ = nnls(A0.T, grad, maxiter=20 * max(zero.size, self.d))
        return zero, mu0, A0.T @ mu0 - grad


def _inner(out: _Output, gtol, max_newton, deadline):
    """Active-set Newton on the working set of one output until the Newton decrement is ``≤ gtol``.

    Returns the Newton steps taken (each: one reduced Newton system, one ratio test, a backtrack).
    """
    steps, beta, M = 0, out.beta, out.M
    state = None  # (group ids, coef, M Zᵀ, residual, signs): updated along the steps, rebuilt when groups change
    # Leaving a face: the tight rows' multipliers are fitted by NNLS on every row at zero (degenerate faces,
    # with dependent or duplicate rows, included), and the next step is a Cauchy step along the projection of
    # −∇f onto the tangent cone {h : A_0 h ≥ 0}: a descent direction that no row at zero blocks, so the
    # objective falls strictly at every face change and the faces cannot cycle.
    cauchy = None  # group id → its tangent-cone direction (the others: their reduced gradients)
    damping = 1e-14  # relative to the largest diagonal entry of the Hessian
    last_tiny = math.inf  # the last decrement of a full step taken in the quadratic regime
    while steps < max_newton:
        if deadline is not None and time.perf_counter() > deadline:
            break
        norms = np.sqrt(np.einsum("nd,nd->n", out.Z, out.Z))
        out.remove((norms <= _DROP * norms.max(initial=0.0)) | (norms == 0.0))
        for j in [j for j, N in enumerate(out.N) if N is None]:
            out.basis(j)
        out.remove(np.array([N.shape[1] == 0 for N in out.N], dtype=bool))
        if not out.n:
            break
        steps += 1
        if state is None or state[0] != out.ids:  # the groups changed: products afresh
            coef = out.coef()
            MZ = M @ out.Z.T  # (m, n)
            r = out.y - np.einsum("mn,mn->m", MZ, coef)
            Sk = out.S[:, out.ks]
            state = (list(out.ids), coef, MZ, r, Sk)
        _, coef, MZ, r, Sk = state
        norms = np.sqrt(np.einsum("nd,nd->n", out.Z, out.Z))
        if (j := _to_zero(coef * MZ, r, beta * norms)) is not None:  # a group better at zero: the step to it
            out.Z[j] = 0.0
            continue
        H, BNcat, offs = out.hessian_fit()
        g = -(BNcat.T @ r)
        # the group norms' curvature, (β/‖z_j‖)(I − u_j u_jᵀ) with u_j = N_jᵀ z_j/‖z_j‖ (z_j lies in range(N_j)),
        # added to the diagonal blocks of all groups at once
        u = np.concatenate([N.T @ (out.Z[j] / norms[j]) for j, N in enumerate(out.N)])
        bi, bj, pair_group, group = _block_indices(out, offs)
        curv = beta / norms
        g += beta * u
        H[bi, bj] -= curv[pair_group] * (u[bi] * u[bj])
        H.flat[::H.shape[0] + 1] += curv[group]
        # Levenberg–Marquardt damping: the Hessian is singular along directions the fit does not see and the
        # norms do not bend (e.g. V_k and W_k of one pattern moving together); damped steps raise it, full lower it
        H.flat[::H.shape[0] + 1] += damping * max(float(H.diagonal().max()), 1e-300)
        if cauchy is not None:  # a Cauchy step along the tangent-cone directions (exact on the quadratic model)
            dt = np.concatenate([N.T @ cauchy[gid] if gid in cauchy else -g[offs[j]:offs[j + 1]]
                                 for j, (gid, N) in enumerate(zip(out.ids, out.N))])
            dt *= -float(g @ dt) / max(float(dt @ (H @ dt)), 1e-300)
        else:
            _, dt, info = _posv(H, g)  # Cholesky solve
            dt = -(dt if info == 0 else np.linalg.lstsq(H, g, rcond=None)[0])
        decrement = -float(g @ dt)
        obj0 = out.objective(r)
        if decrement <= gtol:
            if cauchy is not None:  # leaving the faces would gain less than gtol: solved as far as asked
                break
            if (cauchy := _leave_face(out, r)) is None:  # stationary on the tight rows
                break
            continue
        was_cauchy, cauchy = cauchy is not None, None
        dZ = np.stack([out.N[j] @ dt[offs[j]:offs[j + 1]] for j in range(out.n)])
        MD = M @ dZ.T
        # ratio test: the first cone row met
        AZ, AD = MZ * Sk, MD * Sk
        dn = np.sqrt(np.einsum("nd,nd->n", dZ, dZ))
        # (after a face change, rows at zero that the direction only grazes, to round-off, do not block it)
        cand = ~out.act.T & (AD < -(1e-12 if was_cauchy else 1e-15) * out.row_norm[:, None] * dn[None])
        ratios = np.full(AZ.shape, np.inf)
        ratios[cand] = np.maximum(AZ[cand], 0.0) / -AD[cand]
        flat = int(np.argmin(ratios))
        alpha_max = min(1.0, float(ratios.flat[flat]))
        blocked = float(ratios.flat[flat]) <= 1.0
        if blocked and alpha_max <= 1e-9:  # degenerate: a row at zero (to round-off along the step) blocks it
            i, j = np.unravel_index(flat, ratios.shape)
            out.join(int(j), [i])
            continue
        # Armijo backtracking on the objective
        Bd = np.einsum("mn,mn->m", MD, coef)
        alpha = alpha_max
        # in the quadratic regime the objective cannot resolve the decrease: full Newton steps while the
        # decrement keeps falling (it squares each step), so the gradient, hence the multipliers, converge too
        tiny = decrement <= 1e-12 * max(1.0, abs(obj0)) and decrement < 0.1 * last_tiny and not was_cauchy
        short = False  # a short step to a blocking row that changes the objective only by round-off: taken
        while True:
            rn = r - alpha * Bd
            obj = 0.5 * float(rn @ rn) + beta * float(np.linalg.norm(out.Z + alpha * dZ, axis=1).sum())
            if obj <= obj0 - 1e-4 * alpha * decrement or (tiny and obj <= obj0 + 1e-14 * max(1.0, abs(obj0))):
                break
            if short := blocked and alpha == alpha_max and obj <= obj0 + 1e-13 * max(1.0, abs(obj0)):
                break
            alpha *= 0.5
            if alpha < 1e-12:
                break
        if not short and (alpha < 1e-12 or (obj >= obj0 and not tiny)):  # no resolvable decrease: stationary
            if was_cauchy or (cauchy := _leave_face(out, r)) is None:
                break
            continue
        last_tiny = decrement if tiny else math.inf
        out.Z = out.Z + alpha * dZ
        state = (state[0], coef, MZ + alpha * MD, rn, Sk)
        damping = min(damping * 10.0, 1e-2) if alpha < alpha_max else max(damping / 10.0, 1e-14)
        if blocked and alpha == alpha_max:  # every row met at this step joins its group's tight set
            bases = None if was_cauchy else list(out.N)  # the faces before the rows join
            touched = set(hit := _join_rows(out, ratios, alpha_max))
            if bases is not None:
                state, more = _bent_search(out, state, dZ, MD, 1.0 - alpha_max, hit, obj, ratios - alpha_max, bases)
                touched |= more
            for j in touched:
                out.invalidate(j)
    return steps


def _block_indices(out: _Output, offs):
    """Index arrays of the diagonal blocks of a Hessian with block offsets ``offs``: every (row, column) pair
    inside a block and its block, and the block of each coordinate (cached on the output for the last ``offs``)."""
    key = offs.tobytes()
    if out._blocks is None or out._blocks[0] != key:
        sizes = np.diff(offs)
        group = np.repeat(np.arange(sizes.size), sizes)  # the block of each coordinate
        # pairs (i, j) of one block: each coordinate i repeats over its block's size, j runs over that block
        bi = np.repeat(np.arange(offs[-1]), sizes[group])
        bj = offs[:-1][group][bi] + _ranges(sizes[group])
        out._blocks = (key, (bi, bj, group[bi], group))
    return out._blocks[1]


def _ranges(lengths):
    """``[0, …, l_0 − 1, 0, …, l_1 − 1, …]`` for the given lengths."""
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    return np.arange(total) - np.repeat(ends - lengths, lengths)


def _to_zero(B, r, penalty):
    """The group best removed, if any: along the ray ``t z_j``, ``t ∈ [0, 1]`` (feasible: the cones are cones), the
    objective ``½‖r + (1 − t) b_j‖² + t β‖z_j‖`` (``b_j = B_j z_j``, the column ``j`` of ``B``) is a convex
    quadratic minimised at ``t* = 1 + (rᵀb_j − β‖z_j‖)/‖b_j‖²``; a group with ``t* ≤ 0`` lowers the objective by
    leaving. Newton steps cannot reach zero, where the group norm bends: without this a shrinking group oscillates
    near it and the damping it triggers slows every other group. Returns the group with the least ``t*``, or None."""
    bb = np.einsum("mn,mn->n", B, B)
    if not bb.size:
        return None
    t = 1.0 + (r @ B - penalty) / np.maximum(bb, 1e-300)
    j = int(np.argmin(t))
    return j if t[j] <= 0.0 else None


def _join_rows(out: _Output, ratios, alpha):
    """The rows met at step ``alpha`` join their groups' tight sets: ``{group: its rows}`` (bases not updated)."""
    met = ratios <= alpha * (1 + 1e-9) + 1e-15
    joined = {}
    for j in np.flatnonzero(met.any(axis=0)):
        rows = np.flatnonzero(met[:, j])
        out.act[j, rows] = True
        joined[int(j)] = rows
    return joined


def _bent_search(out: _Output, state, dZ, MD, remaining, hit, obj, ratios, bases):
    """Go on along the Newton step after it met cone rows: each group hit continues along its direction
    projected onto its new face, the others along theirs, while each segment lowers the objective and
    meets another row before the step's end (at most ``_BENDS`` segments). Rows join as met, so one
    Newton system adds many rows. ``ratios`` are the last ratio test's (``inf`` where no row blocks);
    ``bases`` the groups' null-space bases before the step: a direction is projected off the joined rows
    inside them (Gram–Schmidt in the basis' coordinates; the bases themselves are recomputed afterwards).
    Returns the updated ``state`` and the groups whose rows joined."""
    ids, coef, MZ, r, Sk = state
    M, row_norm = out.M, out.row_norm
    off = {}  # group → (buffer, count): orthonormal directions (in its basis' coordinates) removed by the rows joined
    Bd = np.einsum("mn,mn->m", MD, coef)  # the fit's direction, updated column by column
    ratios[out.act.T] = np.inf
    for _ in range(_BENDS):
        # rows of the groups hit: a new direction, a new ratio test; the others' ratios shift by the step
        for j, rows in hit.items():
            N = bases[j]
            buf, n_dir = off.get(j) or (np.empty((N.shape[1], N.shape[1])), 0)  # at most dim(range N) directions
            A_rows = out.S[rows, out.ks[j], None] * M[rows]
            for v, a_norm in zip(A_rows @ N, row_norm[rows]):  # each joined row in the basis coordinates
                if n_dir:
                    Q = buf[:, :n_dir]
                    v = v - Q @ (Q.T @ v)
                nv = math.sqrt(float(v @ v))
                if nv > _DEPENDENT * a_norm and n_dir < buf.shape[1]:
                    buf[:, n_dir] = v / nv
                    n_dir += 1
            off[j] = (buf, n_dir)
            if not n_dir:
                continue
            Q = buf[:, :n_dir]
            t = N.T @ dZ[j]
            dZ[j] = N @ (t - Q @ (Q.T @ t))
            md = M @ dZ[j]
            Bd += (md - MD[:, j]) * coef[:, j]
            MD[:, j] = md
            az, ad = MZ[:, j] * Sk[:, j], md * Sk[:, j]
            cand = ~out.act[j] & (ad < -1e-15 * row_norm * math.sqrt(float(dZ[j] @ dZ[j])))
            col = np.full(out.m, np.inf)
            col[cand] = np.maximum(az[cand], 0.0) / -ad[cand]
            ratios[:, j] = col
        alpha = min(remaining, float(ratios.min(initial=np.inf)))
        if alpha <= 1e-12:
            break
        rn = r - alpha * Bd
        Z1 = out.Z + alpha * dZ
        obj1 = out.objective_at(rn, Z1)
        if obj1 >= obj:
            break
        out.Z, MZ, r, obj = Z1, MZ + alpha * MD, rn, obj1
        if alpha >= remaining:
            break
        remaining -= alpha
        ratios -= alpha
        hit = _join_rows(out, ratios, 0.0)
        ratios[out.act.T] = np.inf
    return (ids, coef, MZ, r, Sk), set(off) | set(hit)


def _leave_face(out: _Output, r):
    """Leave the faces whose tight rows have a negative multiplier: ``{group id: its new direction}``.

    A group whose least-squares multipliers are all ``≥ 0`` is stationary (KKT). Otherwise its
    multipliers are refitted by NNLS, ``μ = argmin_{μ ≥ 0} ‖A_0ᵀ μ − ∇_g f‖`` over every row at zero
    (exact on degenerate faces, where the least-squares split between dependent rows is arbitrary);
    ``h = A_0ᵀ μ − ∇_g f`` is the projection of ``−∇_g f`` onto the tangent cone ``{h : A_0 h ≥ 0}``,
    and the rows with ``μ > 0`` become the group's tight set. Returns None when no group moves.
    """
    moves, thr = {}, 1e-10 * max(1.0, out.beta)
    for j in range(out.n):
        rows, mu, grad = out.multipliers(j, r)
        if not mu.size or mu.min() >= -thr:
            continue
        zero, mu0, h = out.nonneg_multipliers(j, rows, grad)
        if _norm(h) <= thr:  # stationary after all (a degenerate face): keep its rows
            continue
        out.act[j] = False
        out.act[j, zero[mu0 > 0]] = True
        out.invalidate(j)
        moves[out.ids[j]] = h
    return moves or None


# --------------------------------------------------------------------------- the engine
def solve_convex_relu_active_set(M, Y, patterns, beta, *, tol=1e-6, max_outer=60, max_newton=4000,
                                 time_limit_s=None, V0=None, W0=None, verbose=False, **unknown):
    """Solve program (12) by working sets over groups and cone rows; certify with a float64 dual bound.

    See the module docstring for the method. Orientation: ``M`` ``(m, d)`` and ``Y`` ``(m, q)`` with
    **rows as samples**, ``patterns`` ``(m, P)`` bool, ``V, W`` ``(P, d, q)``.

    Parameters
    ----------
    M, Y, patterns, beta
        Program (12)'s data (``Y`` 1-D means ``q = 1``) and ``β > 0``.
    tol : float
        Target relative gap ``(objective − bound) / max(1, |objective|)``.
    max_outer : int
        Full passes (per output) at most.
    max_newton : int
        Newton steps (per output, over all passes) at most.
    time_limit_s : float, optional
        Wall-clock limit of the caller; the only way the clock enters.
    V0, W0 : array_like, shape (P, d, q), optional
        Warm start: its non-zero groups (made feasible) start the working sets.
    verbose : bool
        One line per full pass.

    Returns
    -------
    V, W : ndarray, shape (P, d, q)
        Exactly feasible (``constraint_violation == 0``).
    report : SolveReport
        ``solver="ACTIVE_SET"``, ``status`` ``"optimal"`` / ``"max_iter"`` / ``"time_limit"``,
        ``objective`` (float64, at the returned point), ``bound`` (:func:`dual_bound`), gaps,
        ``iterations`` (full passes, summed over outputs), ``certificate`` (``"restricted"`` when
        the gap meets ``tol``, else ``"none"``), ``extra`` (``newton_steps``, ``working_set``, ...).

    Raises
    ------
    ValidationError
        Bad data, a bad option value, or an unknown option (the message lists
        :data:`ACTIVE_SET_OPTIONS`).
    """
    t_start = time.perf_counter()
    if unknown:
        raise ValidationError(f"unknown ACTIVE_SET option(s) {sorted(unknown)}; valid options are "
                              f"{', '.join(ACTIVE_SET_OPTIONS)}, V0, W0")
    positive = Real(0.0, closed="neither")
    check_params("ACTIVE_SET", {"tol": tol, "max_outer": max_outer, "max_newton": max_newton,
                                "time_limit_s": time_limit_s},
                 {"tol": [positive], "max_outer": [Int(1)], "max_newton": [Int(1)], "time_limit_s": [None, positive]})
    M, Y, patterns, beta = _program_data(M, Y, patterns, beta)
    (m, d), q, P = M.shape, Y.shape[1], patterns.shape[1]
    starts = [None if Z0 is None else _as_groups(Z0, P, d, q, name).astype(np.float64)
              for Z0, name in ((V0, "V0"), (W0, "W0"))]
    deadline = None if time_limit_s is None else t_start + float(time_limit_s)
    D = patterns.astype(np.float64)
    S = 2.0 * D - 1.0
    row_norm = np.sqrt(np.einsum("md,md->m", M, M))
    row_norm_safe = np.maximum(row_norm, 1e-300)
    mu_all = np.zeros((2, P, m, q))
    lam = np.array(Y)
    V, W = np.zeros((P, d, q)), np.zeros((P, d, q))
    passes, newton, status = 0, 0, "optimal"
    ws_size = []
    with one_blas_thread_if_small(m, d):  # many small products: BLAS threads cost more than they save
        for c in range(q):
            out = _Output(M, Y[:, c], D, S, row_norm_safe, beta)
            for s, Z0 in enumerate(starts):
                if Z0 is not None:
                    for k in np.flatnonzero(np.linalg.norm(Z0[:, :, c], axis=1) > 0):
                        _enter_warm(out, int(k), s, Z0[k, :, c])
            # output c may use half the tolerance of its share: Σ_c gap_c ≤ tol · max(1, Σ_c obj_c)
            # the first pass sets gtol from the gap; a warm start's own groups are first fitted at this β, so that
            # the first full pass measures the other groups against a residual near that of the warm working set
            gtol, c_status, c_newton, last = math.inf, "max_iter", 0, None
            if out.n:
                gtol = _WARM_FRACTION * out.objective(Y[:, c] - out.fit())
            for _ in range(max_outer):
                if deadline is not None and time.perf_counter() > deadline:
                    c_status = "time_limit"
                    break
                passes += 1
                c_newton += _inner(out, gtol, max_newton - c_newton, deadline)
                r = Y[:, c] - out.fit()
                obj_c = out.objective(r)
                n_before = out.n
                bound_c = _full_pass(out, r, mu_all[:, :, :, c], verbose, passes)
                gap_c, target = obj_c - bound_c, 0.5 * tol * max(obj_c, 1.0 / q)
                if gap_c <= target:
                    c_status = "optimal"
                    break
                floor = 1e-30 * max(1.0, obj_c)  # Newton converges quadratically: round-off, not gtol, ends it
                if (obj_c, bound_c) == last and gtol <= floor:  # nothing changed at the finest inner tolerance:
                    break  # round-off level; the final judge decides
                # each working set is solved only as far as the gap asks (celer's rule): coarse while the set grows;
                # finer when a pass left the objective where it was
                stalled = last is not None and obj_c > last[0] - gtol
                last = (obj_c, bound_c)
                if c_newton >= max_newton:
                    break
                # a pass that let no group in leaves only the working set to finish: to well within the target
                finish = _FINISH_FRACTION * target if out.n == n_before else math.inf
                gtol = max(min(1e-4 * gtol if stalled else gtol, _INNER_FRACTION * gap_c, finish), floor)
            newton += c_newton
            if c_status != "optimal" and status == "optimal":
                status = c_status
            lam[:, c] = Y[:, c] - out.fit()
            for j in range(out.n):
                (V if out.sv[j] == 0 else W)[out.ks[j], :, c] = out.Z[j]
            ws_size.append(out.n)
        # exact feasibility (tight rows hold to round-off), objective and the judge
        V, W, obj, dropped = exact_point(M, Y, patterns, beta, V, W)
        bound, det = _cert.dual_bound(M, Y, patterns, beta, lam, mu_pos=mu_all[0], mu_neg=mu_all[1])
        gap_abs, gap_rel = SolveReport.gaps(obj, bound)
        viol = float(_cert.constraint_violation(M, patterns, V, W))
        if gap_certified(gap_rel, viol, tol):
            status = "optimal"
        elif status == "optimal":
            status = "max_iter"
        nv, nw = np.linalg.norm(V, axis=1), np.linalg.norm(W, axis=1)
        extra = {"n_patterns": P, "outer_passes": passes, "newton_steps": newton, "working_set": ws_size,
                 "n_active_groups": int((nv > 0).sum() + (nw > 0).sum()), "dropped_groups": dropped,
                 "bound_rho": det.get("rho"), "bound_t": det.get("t"), "zero_objective": 0.5 * float(np.sum(Y * Y))}
        return V, W, SolveReport(
            problem="convex_relu", solver="ACTIVE_SET", status=status, objective=float(obj), bound=float(bound),
            gap_abs=gap_abs, gap_rel=gap_rel, iterations=passes, compile_time_s=0.0,
            solve_time_s=time.perf_counter() - t_start, certificate=engine_certificate_kind(gap_rel, viol, tol),
            residual=viol, extra=extra)


def _enter_warm(out: _Output, k, s, z):
    """Put a warm-start group into the working set if it is feasible (its tight rows held)."""
    sgn = out.S[:, k]
    g = sgn * (out.M @ z)
    nz = _norm(z)
    if nz == 0 or np.any(g < -1e-9 * out.row_norm * nz):
        return
    out.add(k, s, z.copy(), np.flatnonzero(g <= _TIGHT * out.row_norm * nz)[: out.d - 1])


def _full_pass(out: _Output, r, mu_c, verbose, npass):
    """The full pass at ``λ = r``: multipliers of every group into ``mu_c`` ``(2, P, m)``, the bound, new groups.

    Working-set groups take their least-squares multipliers; any other group whose plain value
    ``‖Mᵀ D_k λ‖`` exceeds ``β`` takes the multipliers of its cone projection. Groups whose
    projection exceeds ``β`` enter (the largest first, at most as many as the set holds, at least 4).
    Returns this output's dual bound (float64, :func:`~cvximplicit.solvers.relu.certificate.scaled_bound`).
    """
    M, D, beta = out.M, out.D, out.beta
    A = M.T @ (D * r[:, None])  # (d, P): Mᵀ D_k λ
    plain = np.linalg.norm(A, axis=0)
    mu_c[:] = 0.0
    in_ws = np.zeros((2, A.shape[1]), dtype=bool)
    for j in range(out.n):
        rows, mu, grad = out.multipliers(j, r, A[:, out.ks[j]])
        if mu.size and mu.min() < 0:  # a degenerate face (or not yet stationary): the best multipliers ≥ 0
            rows, mu, _ = out.nonneg_multipliers(j, rows, grad)
        mu_c[out.sv[j], out.ks[j], rows] = np.maximum(mu, 0.0)
        in_ws[out.sv[j], out.ks[j]] = True
    cands, n_add = [], max(4, out.n)
    # every group's last projection multipliers, rescaled (any μ ≥ 0 gives an upper bound): ‖a + t w‖ least over
    # t ≥ 0, for all groups at once (two products); only the groups this leaves above β are projected again
    F = out.face_mu  # (2, P, m)
    a = np.stack([A.T, -A.T])  # (2, P, d): s Mᵀ D_k λ
    big = out.m * out.d * F.shape[1] > 1e6  # μ has at most d rows per group: a sparse product where it pays
    w = np.stack([(sp.csr_matrix(F[s] * out.S.T) if big else F[s] * out.S.T) @ M for s in (0, 1)])  # (2, P, d)
    ww, wa = np.einsum("spd,spd->sp", w, w), np.einsum("spd,spd->sp", w, a)
    t = np.where(ww > 0, np.maximum(0.0, -wa / np.where(ww > 0, ww, 1.0)), 0.0)
    h_all = a + t[:, :, None] * w
    screened = np.sqrt(np.einsum("spd,spd->sp", h_all, h_all)) <= beta * (1 - 1e-9)
    order = np.argsort(-plain, kind="stable")  # the largest plain values first
    ks = np.repeat(order[plain[order] > beta * (1 - 1e-12)], 2)  # groups (k, s) with k in that order, s = 0, 1
    ss = np.tile(np.array([0, 1]), ks.size // 2)
    todo = ~in_ws[ss, ks]
    done = todo & screened[ss, ks]  # proved by their rescaled last multipliers
    mu_c[ss[done], ks[done]] = t[ss[done], ks[done], None] * F[ss[done], ks[done]]
    for k, s in zip(ks[todo & ~done].tolist(), ss[todo & ~done].tolist()):
        if len(cands) >= 2 * n_add:  # enough groups to enter: the rest keep μ = 0 (a valid, weaker bound)
            break
        sgn = 1.0 if s == 0 else -1.0
        Ak = out.S[:, k, None] * M
        rows = np.flatnonzero(F[s, k] > 0)
        hit = _project_on_face(Ak, sgn * A[:, k], rows, out.row_norm)
        h, rows, mu = hit if hit is not None else _project(Ak, sgn * A[:, k], out.row_norm,
                                                           enough=beta * (1 - 1e-9), first_rows=rows)
        F[s, k] = 0.0
        F[s, k, rows] = mu
        mu_c[s, k, rows] = mu
        rho = _norm(h)
        if rho > beta * (1 + 1e-9):
            cands.append((rho, k, s, h, rows))
    bound, det = _cert.bound_kernel(M, out.y[:, None], out.D > 0, beta, r[:, None], mu_c[0][:, :, None],
                              mu_c[1][:, :, None])
    cands.sort(key=lambda t: (-t[0], t[1], t[2]))
    n_in = out.n
    fit = out.y - r
    for rho, k, s, h, face in cands[:n_add]:
        # enter along the projection h ∈ K_k at the step that minimises the objective with the rest fixed
        sgn_row = out.S[:, k]
        g = sgn_row * (M @ h)
        nh = _norm(h)
        if np.any(g < -1e-9 * out.row_norm * nh):  # not settled yet: the projection to the end
            h, face, _ = _project(sgn_row[:, None] * M, (1.0 if s == 0 else -1.0) * A[:, k], out.row_norm,
                                  rounds=10 * _PROJ_ROUNDS)
            g = sgn_row * (M @ h)
            nh = _norm(h)
            if nh <= beta or np.any(g < -1e-9 * out.row_norm * nh):
                continue  # still not settled: left to a later pass
        Bh = (1.0 if s == 0 else -1.0) * D[:, k] * (M @ h)
        step = (float(Bh @ (out.y - fit)) - beta * nh) / max(float(Bh @ Bh), 1e-300)
        if step <= 0:
            continue
        fit = fit + step * Bh
        # the rows of the projection's face (positive NNLS multipliers) are held tight from the start
        tight = np.union1d(face, np.flatnonzero(g <= _TIGHT * out.row_norm * nh))
        out.add(k, s, step * h, tight[: out.d - 1])
    if verbose:
        print(f"pass {npass}: working set {n_in} -> {out.n}, candidates {len(cands)}, "
              f"objective {out.objective(r):.10g}, bound {bound:.10g}, max rho/beta {det['rho'] / beta:.6f}")
    return bound
