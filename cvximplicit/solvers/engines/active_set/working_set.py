r"""The working set of one output: its groups, their faces, and the Gram blocks of the Newton systems.

Per output, with groups ``g = (k, s)`` (pattern ``k``, sign index ``s``: 0 for ``V``, output sign ``+1``; 1 for
``W``, ``−1``), ``A_k = (2D_k − I) M`` and ``B_g = ±D_k M``, the program is

.. math::

    \min_{z}\; \tfrac12\Big\|\sum_g B_g z_g - y\Big\|^2 + \beta \sum_g \|z_g\|_2
    \quad\text{s.t. } A_{k_g} z_g \ge 0 .

Each group of the set holds some of its cone rows at equality (its face) and moves on their null space,
``z_g = N_g t_g``. :class:`WorkingSet` keeps the groups' points ``Z`` ``(n, d)``, their tight rows, bases and the
fit's columns ``B_g N_g``; :meth:`WorkingSet.hessian_fit` assembles ``(BN)ᵀ(BN)`` reusing the blocks of groups
whose faces did not change; :meth:`WorkingSet.multipliers` fits the tight rows' multipliers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..cones import NNLS_ITERS, SignedRows, nnls_multipliers, tight_rows
from ..groups import SIGNS, BlockPairs, block_pairs
from ..iterations import TINY
from .linalg import null_space, solve_upper

__all__ = ["Assembly", "Products", "WorkingSet"]

SMALL_PRODUCT = 40_000  # m × (Hessian size) below which (BN)ᵀ(BN) is one product afresh (cheaper than copying)


class Assembly(NamedTuple):
    """The last assembly of the fit's Hessian: the ``B_j N_j`` it used, ``(BN)ᵀ(BN)`` and the block offsets."""

    blocks: list
    H: np.ndarray
    offs: np.ndarray


class WorkingSet:
    """The working set of one output (see the module docstring). ``row_norm`` ``(m,)`` are ``‖M_i‖``."""

    def __init__(self, M, y, D, S, row_norm, beta):
        self.M, self.y, self.D, self.S, self.row_norm, self.beta = M, y, D, S, row_norm, beta
        self.m, self.d = M.shape
        self.ks = np.zeros(0, dtype=np.intp)  # pattern of each group
        self.sv = np.zeros(0, dtype=np.intp)  # sign index of each group: 0 (V, +1) or 1 (W, −1)
        self.Z = np.zeros((0, self.d))
        self.act = np.zeros((0, self.m), dtype=bool)  # rows held at equality
        self.N: list = []  # null-space bases of the faces
        self.faces: list = []  # the tight rows (bool (m,)) each basis in N holds at zero
        self.QR: list = []  # RowFactors of each group's tight rows (for its multipliers; computed when needed)
        self.MN: list = []  # M N_j (m, f_j)
        self.refl: list = []  # Reflectors giving N_j from scratch (for M N_j, while not yet formed)
        self.BN: list = []  # B_j N_j = s_j D_k ∘ (M N_j)
        self.ids: list[int] = []
        self._pairs: tuple[bytes, BlockPairs] | None = None  # BlockPairs of the last block offsets
        self._assembly: Assembly | None = None  # reused while no face changes
        self.face_mu = np.zeros((2, S.shape[1], self.m))  # each group's last cone-projection multipliers
        self._next_id = 0

    @property
    def n(self):
        return self.ks.size

    def coef(self):
        """``(m, n)``: column ``j`` is ``s_j D_{k_j}`` (the fit is ``Σ_j coef_j ∘ (M z_j)``)."""
        return self.D[:, self.ks] * SIGNS[self.sv]

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
        for basis_data in (self.N, self.faces, self.QR, self.MN, self.refl, self.BN):
            basis_data.append(None)
        self.ids.append(self._next_id)
        self._next_id += 1

    def remove(self, drop):
        """Remove the groups where the bool array ``drop`` is True."""
        if not drop.any():
            return
        keep = ~drop
        self.ks, self.sv, self.Z, self.act = self.ks[keep], self.sv[keep], self.Z[keep], self.act[keep]
        self.N, self.faces, self.QR, self.MN, self.refl, self.BN, self.ids = (
            [x for x, kp in zip(lst, keep) if kp]
            for lst in (self.N, self.faces, self.QR, self.MN, self.refl, self.BN, self.ids))

    def invalidate(self, j):
        """Group ``j``'s face changed: its basis and products are recomputed when next needed."""
        self.N[j] = self.faces[j] = self.QR[j] = self.MN[j] = self.refl[j] = self.BN[j] = None

    def join(self, j, rows):
        """Rows join group ``j``'s tight set (its basis follows, :meth:`update_face`)."""
        self.act[j, rows] = True
        self.update_face(j)

    def update_face(self, j):
        """Group ``j``'s tight set changed (``act[j]``): its basis ``N_j`` and ``M N_j`` follow by updates.

        Rows that left first: the face's null space gains ``U``, an orthonormal basis of the left rows projected
        on the null space of the rows kept (orthogonal to ``N_j`` already): ``N' = [N_j, U]``,
        ``M N' = [M N_j, M U]`` (``2 m d u`` flops for ``u`` rows left). Then rows that joined: in the basis'
        coordinates, ``V = N_jᵀ A_newᵀ`` ``(f, r)``, factor as ``V Π = Q R`` (pivoted); the new face is
        ``N_j Q_2`` (``Q_2`` the columns of ``Q`` past ``V``'s rank, rank by the rule of
        :func:`~.linalg.null_space`) and its products ``(M N_j) Q_2``, by ``rank`` Householder reflections
        (``4 m f rank`` flops). Recomputing ``M N'`` takes ``2 m d f``. A group without a basis yet is computed
        from scratch when needed.
        """
        face, act = self.faces[j], self.act[j]
        if face is None or self.MN[j] is None:
            self.invalidate(j)
            return
        left, new = np.flatnonzero(face & ~act), np.flatnonzero(act & ~face)
        if left.size == 0 and new.size == 0:
            return
        A, N, MN = self.cone(self.ks[j]), self.N[j], self.MN[j]
        self.faces[j], self.QR[j], self.refl[j] = act.copy(), None, None
        if left.size:
            kept = np.flatnonzero(face & act)
            N_kept = null_space(A[kept], self.d)[0]
            U = null_space((N_kept @ (N_kept.T @ A[left].T)).T, self.d, scale=float(self.row_norm[left].max()))[1]
            if U is not None and U.Q.shape[1]:  # the left rows' directions, orthonormal (RowFactors' Q)
                N, MN = np.hstack([N, U.Q]), np.hstack([MN, self.M @ U.Q])
        if new.size:
            refl = null_space(A[new] @ N, N.shape[1], scale=float(self.row_norm[new].max()))[2]
            if refl.rank:  # else the rows were dependent on the face's: nothing moves
                N, MN = refl.null_part(N), refl.null_part(MN)
        if MN is not self.MN[j]:
            self._set_face(j, N, MN)

    def cone(self, k) -> SignedRows:
        """``A_k = (2D_k − I) M`` ``(m, d)``, as products (never formed)."""
        return SignedRows(self.S[:, k], self.M)

    def basis(self, j):
        if self.N[j] is None:
            k = self.ks[j]
            rows = np.flatnonzero(self.act[j])
            self.N[j], self.QR[j], self.refl[j] = null_space(self.cone(k)[rows], self.d)
            self.faces[j] = self.act[j].copy()
        return self.N[j]

    def bn(self, j):
        """``B_j N_j`` ``(m, f_j)``: the fit's columns on group ``j``'s face (computed when first needed)."""
        if self.BN[j] is None:
            N, refl = self.basis(j), self.refl[j]
            # by the reflections when they cost less than the product with the basis (few tight rows)
            self._set_face(j, N, refl.null_part(self.M) if refl is not None and 2 * refl.rank < N.shape[1] else self.M @ N)
            self.refl[j] = None
        return self.BN[j]

    def _set_face(self, j, N, MN):
        """Group ``j``'s basis ``N``, ``M N`` and the fit's columns ``B_j N = s_j D_k ∘ (M N)``."""
        self.N[j], self.MN[j] = N, MN
        self.BN[j] = (SIGNS[self.sv[j]] * self.D[:, self.ks[j]])[:, None] * MN

    def pairs(self, offs) -> BlockPairs:
        """:func:`~cvximplicit.solvers.engines.groups.block_pairs` of ``offs`` (cached for the last offsets)."""
        key = offs.tobytes()
        if self._pairs is None or self._pairs[0] != key:
            self._pairs = (key, block_pairs(offs))
        return self._pairs[1]

    def hessian_fit(self):
        """``(BN)ᵀ(BN)`` (``BN = [B_1 N_1, …]``) and the block offsets: the last assembly's blocks of groups whose
        bases did not change are copied, the others computed (one product per pair with a changed group)."""
        for j in range(self.n):
            self.bn(j)
        old = self._assembly
        if old is not None and len(old.blocks) == self.n and all(a is b for a, b in zip(old.blocks, self.BN)):
            return old.H.copy(), old.offs  # no face changed since the last assembly
        offs = np.cumsum([0] + [BN.shape[1] for BN in self.BN], dtype=np.intp)
        pos = {} if old is None else {id(BN): j for j, BN in enumerate(old.blocks) if BN is not None}
        kept = [(j, pos[id(BN)]) for j, BN in enumerate(self.BN) if id(BN) in pos and old.blocks[pos[id(BN)]] is BN]
        if self.m * offs[-1] <= SMALL_PRODUCT or not kept:  # one product (small, or every block new)
            BNcat = np.hstack(self.BN)
            self._assembly = Assembly(list(self.BN), BNcat.T @ BNcat, offs)
            return self._assembly.H.copy(), offs
        H = np.empty((offs[-1], offs[-1]))
        new_cols = np.concatenate([np.arange(offs[j], offs[j + 1]) for j, _ in kept])
        old_cols = np.concatenate([np.arange(old.offs[i], old.offs[i + 1]) for _, i in kept])
        H[np.ix_(new_cols, new_cols)] = old.H[np.ix_(old_cols, old_cols)]
        fresh = set(range(self.n)) - {j for j, _ in kept}
        for j in sorted(fresh):
            for i in range(self.n):
                if i in fresh and i > j:
                    continue  # computed from the other side
                block = self.BN[j].T @ self.BN[i]
                H[offs[j]:offs[j + 1], offs[i]:offs[i + 1]] = block
                H[offs[i]:offs[i + 1], offs[j]:offs[j + 1]] = block.T
        self._assembly = Assembly(list(self.BN), H, offs)
        return H.copy(), offs

    def fit_gradient(self, r):
        """``−(BN)ᵀ r`` ``(Σ f_j,)``: the fit's gradient on the faces at residual ``r``."""
        return -np.concatenate([BN.T @ r for BN in self.BN])

    def gradient(self, j, mdr):
        """``∇_j f`` of group ``j`` from ``mdr = Mᵀ D_k r`` (``r`` the residual, ``k`` the group's pattern)."""
        z = self.Z[j]
        return -SIGNS[self.sv[j]] * mdr + self.beta * z / max(math.sqrt(float(z @ z)), TINY)

    def multipliers(self, j, r, mdr=None):
        """Least-squares multipliers of group ``j``'s tight rows, ``A_actᵀ μ = ∇_j f`` (stationarity): returns the
        rows, ``μ`` and ``∇_j f``. ``mdr``, if given, is ``Mᵀ D_k r`` for the group's pattern ``k``."""
        k = self.ks[j]
        if mdr is None:
            mdr = self.M.T @ (self.D[:, k] * r)
        grad = self.gradient(j, mdr)
        rows = np.flatnonzero(self.act[j])
        if rows.size == 0:
            return rows, np.zeros(0), grad
        if self.QR[j] is None:
            self.QR[j] = null_space(self.cone(k)[rows], self.d)[1]
        Q1, R1, piv = self.QR[j]  # A_actᵀ[:, piv] = Q1 R1 (+ dependent rows): least squares by the QR factors
        mu = np.zeros(rows.size)
        mu[piv] = solve_upper(R1, Q1.T @ grad)
        return rows, mu, grad

    def nonneg_multipliers(self, j, rows, grad):
        """``μ = argmin_{μ ≥ 0} ‖A_0ᵀ μ − ∇_j f‖`` by NNLS over every row ``A_0`` of group ``j`` at zero (its
        tight ``rows`` and any other): exact on degenerate faces, where least squares splits the multipliers
        of dependent rows arbitrarily. Returns those rows, ``μ`` and ``h = A_0ᵀ μ − ∇_j f``, the projection of
        ``−∇_j f`` onto the tangent cone ``{h : A_0 h ≥ 0}``."""
        k, z = self.ks[j], self.Z[j]
        A = self.cone(k)
        zero = np.union1d(rows, np.flatnonzero(tight_rows(A @ z, self.row_norm, math.sqrt(float(z @ z)))))
        mu0, h, _ = nnls_multipliers(A[zero], -grad, NNLS_ITERS * max(zero.size, self.d))
        return zero, mu0, h


@dataclass
class Products:
    """The products of one set of groups along its Newton steps (rebuilt when the groups change): the group ids,
    ``coef`` ``(m, n)`` (column ``j`` is ``s_j D_{k_j}``), ``M Zᵀ`` ``(m, n)``, the residual ``r`` and the signs
    ``S_k`` ``(m, n)`` of the groups' cone rows."""

    ids: list
    coef: np.ndarray
    MZ: np.ndarray
    r: np.ndarray
    Sk: np.ndarray

    @classmethod
    def of(cls, ws: "WorkingSet") -> "Products":
        coef = ws.coef()
        MZ = ws.M @ ws.Z.T  # (m, n)
        return cls(list(ws.ids), coef, MZ, ws.y - np.einsum("mn,mn->m", MZ, coef), ws.S[:, ws.ks])
