r"""Non-strict triangular ReLU models: self-loops and Theorem 2 for any block sizes.

A **non-strict triangular** model (problem (13) of the paper) is an
:class:`~cvximplicit.model.ImplicitModel` with ReLU activation whose ``A``, in
computation order ``[X_1; …; X_L]`` (columns of ``X`` and ``U`` are samples),

* is block lower triangular: ``A_{i,j} = 0`` for ``j > i``;
* has upper-triangular diagonal blocks ``A_{i,i}`` (row ``r`` of block ``i`` may
  read the rows ``r' ≥ r`` of its own block) with self-loop weights
  ``−1 < a_rr < 1``.

The paper proves (Theorem 2, ``n_j = 1``) that such a model has the same
features as a strictly triangular model with re-weighted inputs.  This module
generalises the statement to any partition, in both directions; the derivation
is in ``docs/nonstrict.md`` and summarised here.

**Scalar lemma.**  For ``a < 1`` and real ``s``, ``x``:
``x = max(a x + s, 0)  ⇔  x = max(s, 0)/(1 − a) = max(s/(1 − a), 0)``.
(⇒) If ``x > 0`` then ``x = a x + s``, so ``x = s/(1 − a)`` and ``s > 0``; if
``x = 0`` then ``s = a x + s ≤ 0``.  (⇐) If ``s > 0``, ``x = s/(1 − a)`` gives
``a x + s = s/(1 − a) = x > 0``; if ``s ≤ 0``, ``x = 0`` gives ``a x + s = s ≤ 0``.

**Row-wise equivalence.**  Apply the lemma to every row ``r`` and sample, with
``s_r = Σ_{c≠r} a_rc x_c + (B U)_r`` (the other coordinates held at their
values).  With ``Δ = diag(a_11, …, a_nn)`` and ``Γ = diag(1/(1 − a_rr))``,

.. math::

    X = \mathrm{ReLU}(A X + B U) \iff X = \mathrm{ReLU}(\tilde A X + \tilde B U),
    \qquad \tilde A = Γ (A − Δ), \quad \tilde B = Γ B,

for **any** ``A`` with ``a_rr < 1``: the two systems have the same solution
sets ("feasible features").  ``\tilde A`` has a zero diagonal; its row ``r``
holds the strictly upper entries of row ``r`` inside the block and the
earlier-block entries, all divided by ``1 − a_rr`` — the block version of
``γ_j = a_ij/(1 − a_ii)``, ``λ_k = b_ik/(1 − a_ii)``.

**Forward direction** (:func:`to_strict`).  Refine the partition: a block whose
``A_{i,i}`` has a nonzero strictly upper entry is split into singletons taken
**last row first**; a block with diagonal ``A_{i,i}`` stays whole (its
``\tilde A_{i,i} = 0``).  Reordering the state by this refinement, ``\tilde A``
becomes strictly block lower triangular, so the strict model
``(Π \tilde A Πᵀ, Π \tilde B, C Πᵀ, D)`` has a unique state, computed by forward
substitution (5), and by the row-wise equivalence the non-strict model's fixed
point is unique too and equals it up to the permutation:
``X = X_strict[perm]``; predictions are equal.  (The lemma only needs
``a_rr < 1``; ``a_rr > −1`` is the paper's condition, under which also
``λ_PF(|A|) = max_r |a_rr| < 1``, so Picard iteration converges (Theorem 1).)

**Converse** (:func:`to_nonstrict`).  Given a strict model ``(A_s, B_s)`` and
self-loops ``d_r = 1 − ε_r ∈ (−1, 1)``, the model
``A = Δ_d + (I − Δ_d) A_s``, ``B = (I − Δ_d) B_s`` has ``\tilde A = A_s`` and
``\tilde B = B_s``: the same features, for every block size (with
``ε_r = ε`` this is the paper's ``a_ii = 1 − ε``, ``a_ij = ε γ_j``,
``b_ik = ε λ_k``).  The self-loop blocks are diagonal, unless consecutive strict
blocks are *merged* into one non-strict block (``block_sizes``): merged states
are stored in reverse order so the couplings between them become the strictly
upper entries of an upper-triangular ``A_{i,i}``.  Every non-strict model
arises this way from its :func:`to_strict` equivalent.  A strictly upper
self-loop entry can **not** be added to a strict block without changing the
features (it reads a nonlinear feature of the same block), which is why the
general pattern is obtained by merging, not by a free choice.

All functions accept ReLU models only: the lemma uses the positive homogeneity
of ReLU, and Theorem 2 does not cover other activations.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from .exceptions import ValidationError
from .model import ImplicitModel
from .partition import block_slices, check_block_sizes
from ._self_loops import back_substitution, check_self_loop_structure, is_self_loop_structure
from .wellposedness import is_strictly_block_lower

__all__ = [
    "StrictEquivalent",
    "check_self_loops",
    "is_nonstrict_triangular",
    "self_loop_state",
    "to_strict",
    "to_nonstrict",
]


class StrictEquivalent(NamedTuple):
    """Result of :func:`to_strict`: unpacks as ``strict, perm = to_strict(model)``.

    Attributes
    ----------
    model : ImplicitModel
        The strictly block lower-triangular equivalent (refined partition).
    perm : ndarray of int, shape (n,)
        Maps its states to the original order: ``X = X_strict[perm]`` (rows are
        states, columns samples).  ``np.argsort(perm)`` is the inverse map,
        ``X_strict = X[np.argsort(perm)]``.
    """

    model: ImplicitModel
    perm: np.ndarray


# ---------------------------------------------------------------- validation
def _check_model(model) -> None:
    if not isinstance(model, ImplicitModel):
        raise ValidationError(f"model must be a cvximplicit.ImplicitModel; got {type(model).__name__}")
    if model.activation != "relu":
        raise ValidationError(
            f"non-strict (self-loop) models are only covered by Theorem 2 for activation='relu'; "
            f"got activation={model.activation!r}"
        )


def check_self_loops(model) -> None:
    """Raise unless ``model`` is a non-strict triangular ReLU model (problem (13)).

    Conditions (computation order, exact zeros): activation ReLU;
    ``A_{i,j} = 0`` for ``j > i``; each ``A_{i,i}`` upper triangular;
    ``−1 < a_rr < 1``.  Strictly triangular ReLU models pass (``a_rr = 0``).

    Parameters
    ----------
    model : ImplicitModel

    Raises
    ------
    ValidationError
        Naming the first offending entry by its 0-based index ``A[r, c]``, its
        value, its 1-based block ``A_{i,j}`` and what is allowed there.
    """
    _check_model(model)
    check_self_loop_structure(model.A, model.block_sizes, model.activation)


def is_nonstrict_triangular(model) -> bool:
    """True when :func:`check_self_loops` passes (strict ReLU models included)."""
    return isinstance(model, ImplicitModel) and is_self_loop_structure(model.A, model.block_sizes, model.activation)


# ----------------------------------------------------------------- the state
def self_loop_state(model, U) -> np.ndarray:
    r"""Exact fixed point ``X = ReLU(A X + B U)`` of a non-strict model, shape ``(n, m)``.

    Block back-substitution: blocks ``i = 1, …, L`` in turn, and inside block
    ``i`` the rows ``r`` from last to first,

    .. math::

        x_r = \frac{\mathrm{ReLU}(s_r)}{1 − a_{rr}}, \qquad
        s_r = Σ_{r < c \in \text{block } i} a_{rc} x_c + Σ_{j<i} (A_{i,j} X_j)_r + (B U)_r,

    the unique solution of ``x_r = ReLU(a_rr x_r + s_r)`` (scalar lemma of the
    module docstring).  Picard iteration reaches the same point only
    geometrically, like ``(max_r |a_rr|)^k``.

    Parameters
    ----------
    model : ImplicitModel
        Must pass :func:`check_self_loops`.
    U : ndarray, shape (p, m)
        Inputs, **columns are samples** (without the bias row).

    Returns
    -------
    ndarray, shape (n, m)
        States in the model's (computation) order.
    """
    check_self_loops(model)
    return _back_substitution(model, model.prepare_inputs(U))


def _back_substitution(model, U: np.ndarray) -> np.ndarray:
    """:func:`self_loop_state` for a model already checked and ``U`` already prepared (bias row included)."""
    return back_substitution(model.A, model.B @ U, model.block_sizes)


# ------------------------------------------------------------- conversions
def _refinement(model) -> tuple[np.ndarray, list[int]]:
    """Order of the refined partition (``X_strict = X[order]``) and its block sizes."""
    order, sizes = [], []
    for rows in block_slices(model.block_sizes):
        if np.any(np.triu(model.A[rows, rows], k=1)):
            order.extend(range(rows.stop - 1, rows.start - 1, -1))
            sizes.extend([1] * (rows.stop - rows.start))
        else:
            order.extend(range(rows.start, rows.stop))
            sizes.append(rows.stop - rows.start)
    return np.asarray(order, dtype=int), sizes


def to_strict(model) -> StrictEquivalent:
    r"""The strictly triangular model with the same features (Theorem 2, any block sizes).

    With ``Γ = diag(1/(1 − a_rr))`` and ``Δ = diag(a_rr)``, the equivalent model
    is ``\tilde A = Γ (A − Δ)``, ``\tilde B = Γ B``, ``C``, ``D`` with its state
    reordered by the refined partition: blocks with a diagonal ``A_{i,i}`` are
    kept whole, the others are split into singletons ordered last row first.
    Its ``A`` is strictly block lower triangular for the refined partition, and
    for every ``U``

    * ``model.state(U) == strict.state(U)[perm]`` (the unique fixed point), and
    * ``model.predict(U) == strict.predict(U)``.

    Proof: module docstring and ``docs/nonstrict.md``.

    Parameters
    ----------
    model : ImplicitModel
        Must pass :func:`check_self_loops`.

    Returns
    -------
    StrictEquivalent
        ``(strict_model, perm)`` with ``X = X_strict[perm]``.  When every
        ``A_{i,i}`` is diagonal, the partition is unchanged and ``perm`` is the
        identity.

    Examples
    --------
    >>> A = np.array([[0.5, 0.0], [0.2, 0.0]])   # x1 = ReLU(0.5 x1 + u), x2 = ReLU(0.2 x1 - u)
    >>> m = ImplicitModel(A, np.array([[1.0], [-1.0]]), np.ones((1, 2)), block_sizes=[1, 1])
    >>> strict, perm = to_strict(m)
    >>> strict.A, strict.B.ravel()
    (array([[0. , 0. ],
           [0.2, 0. ]]), array([ 2., -1.]))
    """
    check_self_loops(model)
    A, B = model.A, model.B
    diag = np.diag(A).copy()
    gamma = 1.0 / (1.0 - diag)
    A_t = A.copy()
    A_t[np.diag_indices_from(A_t)] = 0.0
    A_t *= gamma[:, None]
    B_t = B * gamma[:, None]
    order, sizes = _refinement(model)
    strict = ImplicitModel(
        A_t[np.ix_(order, order)], B_t[order], model.C[:, order], model.D.copy(),
        activation="relu", block_sizes=sizes, input_bias=model.input_bias,
        info={**model.info, "theorem2": "to_strict"},
    )
    return StrictEquivalent(strict, np.argsort(order))


def _check_eps(eps, n: int) -> np.ndarray:
    if isinstance(eps, numbers.Real) and not isinstance(eps, bool):
        values = np.full(n, float(eps))
    else:
        try:
            values = np.asarray(eps, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"eps must be a float or an array of shape ({n},); got {eps!r}") from exc
        if values.shape != (n,):
            raise ValidationError(f"eps must be a float or an array of shape ({n},); got shape {values.shape}")
    bad = ~(np.isfinite(values) & (values > 0.0) & (values < 2.0))
    if np.any(bad):
        k = int(np.argmax(bad))
        got = f"eps={float(values[k])!r}" if np.ndim(eps) == 0 else f"eps[{k}]={float(values[k])!r}"
        raise ValidationError(
            f"eps must lie in the open interval (0, 2) so that the self-loop 1 - eps is in (-1, 1); got {got}"
        )
    return values


def _merge_order(strict_sizes: list[int], block_sizes) -> tuple[np.ndarray, list[int]]:
    """Order ``X = X_strict[order]`` for merging consecutive strict blocks into ``block_sizes``."""
    n = sum(strict_sizes)
    target = check_block_sizes(block_sizes, n)
    strict_edges = set(np.cumsum([0] + strict_sizes).tolist())
    target_edges = np.cumsum([0] + target).tolist()
    if not set(target_edges) <= strict_edges:
        raise ValidationError(
            f"block_sizes must merge consecutive blocks of the strict partition {strict_sizes}; "
            f"got {target}, whose block edges {target_edges} are not all edges of the strict partition"
        )
    order = []
    for a, b in zip(target_edges[:-1], target_edges[1:]):
        merged = sum(1 for e in strict_edges if a < e < b) > 0
        order.extend(range(b - 1, a - 1, -1) if merged else range(a, b))
    return np.asarray(order, dtype=int), target


def to_nonstrict(model, eps=0.5, *, block_sizes=None) -> ImplicitModel:
    r"""A non-strict model with self-loops ``1 − ε`` and the same features as a strict one.

    Generalises the converse of Theorem 2 (``a_ii = 1 − ε``, ``a_ij = ε γ_j``,
    ``b_ik = ε λ_k``) to any block sizes: with ``Δ_d = diag(1 − ε_r)``,

    .. math::

        A = Δ_d + (I − Δ_d) A_s, \qquad B = (I − Δ_d) B_s, \qquad C, D \text{ unchanged},

    so that ``Γ (A − Δ_d) = A_s`` and ``Γ B = B_s`` (``Γ = (I − Δ_d)^{-1}``):
    the fixed point is the strict model's state and the predictions are equal.

    Parameters
    ----------
    model : ImplicitModel
        A strictly block lower-triangular ReLU model (computation order), e.g.
        the output of the greedy trainer or of :func:`to_strict`.
    eps : float or array_like of shape (n,), default 0.5
        Self-loop ``a_rr = 1 − ε_r``; each ``ε_r`` in the open interval
        ``(0, 2)``.  An array is indexed like ``model``'s states.  Picard
        iteration on the result converges like ``(max_r |1 − ε_r|)^k``.
    block_sizes : list of int, optional
        Partition of the result; must merge consecutive blocks of
        ``model.block_sizes`` (default: the same partition).  A block that
        merges several strict blocks stores their states in reverse order,
        which turns the couplings between them into the strictly upper entries
        of an upper-triangular self-loop block ``A_{i,i}``.

    Returns
    -------
    ImplicitModel
        Passes :func:`check_self_loops`; ``to_strict`` of it gives back
        ``model`` (up to rounding, with the merged blocks split into
        singletons).

    Raises
    ------
    ValidationError
        Non-ReLU activation, a model that is not strictly block lower
        triangular, ``eps`` outside ``(0, 2)``, or ``block_sizes`` that is not a
        merge of the strict partition.
    """
    _check_model(model)
    if not is_strictly_block_lower(model.A, model.block_sizes):
        raise ValidationError(
            "to_nonstrict needs a strictly block lower-triangular model (A_{i,j} = 0 for j >= i in "
            f"computation order, partition {model.block_sizes}); convert a self-loop model with "
            "to_strict first"
        )
    values = _check_eps(eps, model.n)
    if block_sizes is None:
        order, sizes = np.arange(model.n), list(model.block_sizes)
    else:
        order, sizes = _merge_order(list(model.block_sizes), block_sizes)
    loop = 1.0 - values
    A = model.A * values[:, None]
    A[np.diag_indices_from(A)] = loop
    B = model.B * values[:, None]
    return ImplicitModel(
        A[np.ix_(order, order)], B[order], model.C[:, order], model.D.copy(), activation="relu",
        block_sizes=sizes, input_bias=model.input_bias, info={**model.info, "theorem2": "to_nonstrict"},
    )
