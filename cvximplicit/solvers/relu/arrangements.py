"""Activation patterns (hyperplane arrangements) ``D_k = diag(1[M g_k ≥ 0])`` for program (12).

Orientation: ``M`` is ``(m, d)`` with **rows as samples** (``M = Ũᵀ``, the
block's stacked input with its bias column); a pattern array is ``(m, P)``
``bool`` whose column ``k`` is the diagonal of ``D_k``.

- :func:`exact_patterns_1d` — *all* arrangements of ``M = [u, 1]`` (a scalar
  input plus bias). ``1[g_0 u + g_1 ≥ 0]`` is a *suffix* ``{u ≥ t}`` of the sorted
  points when ``g_0 > 0``, a *prefix* ``{u ≤ t}`` when ``g_0 < 0`` and all-ones or
  all-zero when ``g_0 = 0``; with ``K`` distinct values of ``u`` there are
  ``2K − 1`` distinct non-empty patterns (the all-ones one is both a prefix and a
  suffix). Tied values of ``u`` are always on the same side.
- :func:`sample_patterns` — Gaussian gates ``g ~ N(0, I_d)`` (as scnn does);
  duplicate and all-zero patterns are removed.
- :func:`guided_patterns` — gates aligned with the targets: the least-squares
  fit ``g_k`` of each target column and thresholds ``1[M g_k ≥ τ]``,
  ``1[M g_k ≤ τ]`` at quantiles of ``M g_k``.  Every one is still a pattern of
  ``M`` (the program stays the same kind of restriction), but the restriction
  contains the half-spaces a neuron fitting that target would use.

- :func:`resolve_patterns` — turns the ``patterns`` argument of program (12)
  (``"auto"``, ``"exact"``, ``"sampled"`` or an array) into a :class:`PatternSet`
  that says whether it holds *every* arrangement of ``M``.

With all arrangements the convex program is exact (it can earn a ``"global"``
certificate); with sampled ones it is the problem restricted to those patterns
(``"restricted"``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..._params import Int, check_params
from ...exceptions import ValidationError

__all__ = ["exact_patterns_1d", "guided_patterns", "sample_patterns", "threshold_structure_1d", "unique_patterns",
           "one_d_columns", "resolve_patterns", "PatternSet", "PATTERN_MODES", "DEFAULT_N_PATTERNS"]

#: The string values of the ``patterns`` argument of program (12).
PATTERN_MODES = ("auto", "exact", "sampled")

#: Gates drawn for sampled patterns by default, in every public solver of program (12), in
#: :func:`~cvximplicit.solvers.beta_max` and in ``cvximplicit compare`` (duplicate and all-zero patterns
#: are removed, so fewer may remain). The trainer's presets (:data:`cvximplicit.presets.PRESETS`) use fewer
#: per block, since Algorithm 2 poses several programs per block and one block per ``n_i`` neurons.
DEFAULT_N_PATTERNS = 100


def _as_u(u) -> np.ndarray:
    u = np.asarray(u, dtype=float)
    if u.ndim == 2 and 1 in u.shape:
        u = u.ravel()
    if u.ndim != 1 or u.size == 0:
        raise ValidationError(f"u must be a non-empty 1-D array of m scalar inputs; got shape {u.shape}")
    if not np.all(np.isfinite(u)):
        raise ValidationError("u must be finite; got NaN or inf entries")
    return u


def exact_patterns_1d(u) -> np.ndarray:
    """All hyperplane arrangements of ``M = [u, 1]`` (scalar input plus bias).

    Parameters
    ----------
    u : array_like, shape (m,)
        The scalar input of each sample.

    Returns
    -------
    patterns : ndarray of bool, shape (m, P)
        Column ``k`` is ``1[g_0 u + g_1 ≥ 0]`` for some ``g``; every such non-empty
        pattern appears exactly once. ``P = 2K − 1`` for ``K`` distinct values of
        ``u``. Order: the suffixes ``{u ≥ t_j}`` for ``j = 1..K`` (``t`` the sorted
        distinct values; ``j = 1`` is all-ones), then the prefixes ``{u ≤ t_j}``
        for ``j = 1..K−1``.

    Examples
    --------
    >>> exact_patterns_1d([0.0, 2.0, 1.0]).astype(int)
    array([[1, 0, 0, 1, 1],
           [1, 1, 1, 0, 0],
           [1, 1, 0, 0, 1]])
    """
    u = _as_u(u)
    t, level = np.unique(u, return_inverse=True)  # level[i]: index of u_i among the K distinct values
    K = t.size
    j = np.arange(K)
    suffix = level[:, None] >= j[None, :]  # {u ≥ t_j}, j = 0..K-1
    prefix = level[:, None] <= j[None, : K - 1]  # {u ≤ t_j}, j = 0..K-2 (j = K-1 is all-ones)
    return np.hstack([suffix, prefix])


def threshold_structure_1d(u, patterns) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Describe each pattern as a suffix or prefix of the sorted distinct values of ``u``.

    Used by the reduced 1-D formulation of program (12).

    Returns
    -------
    None
        If some pattern is not a threshold set ``{u ≥ t}`` / ``{u ≤ t}`` of ``u``.
    (t, level, kind, j) : tuple of ndarrays
        ``t`` (K,) sorted distinct values; ``level`` (m,) index of each ``u_i`` in
        ``t``; for each pattern ``k``, ``kind[k]`` is ``+1`` for the suffix
        ``{u ≥ t_{j[k]}}`` and ``−1`` for the prefix ``{u ≤ t_{j[k]}}``.
    """
    u = _as_u(u)
    patterns = np.asarray(patterns, dtype=bool)
    t, level = np.unique(u, return_inverse=True)
    K = t.size
    if patterns.ndim != 2 or patterns.shape[0] != u.size or not patterns.any(axis=0).all():
        return None
    big = np.where(patterns, level[:, None], K)  # level of "on" samples, K elsewhere
    lo = big.min(axis=0)
    hi = np.where(patterns, level[:, None], -1).max(axis=0)
    covered = (level[:, None] >= lo[None, :]) & (level[:, None] <= hi[None, :])
    if not np.array_equal(covered, patterns):  # some "on" set is not an interval of levels
        return None
    suffix, prefix = hi == K - 1, lo == 0
    if not np.all(suffix | prefix):
        return None
    kind = np.where(suffix, 1, -1)
    jj = np.where(suffix, lo, hi)
    return t, level, kind, jj


def unique_patterns(patterns: np.ndarray) -> np.ndarray:
    """Drop all-zero and duplicate columns of an ``(m, P)`` bool array, keeping first occurrences."""
    patterns = np.asarray(patterns, dtype=bool)
    patterns = patterns[:, patterns.any(axis=0)]
    if patterns.shape[1] == 0:
        return patterns
    packed = np.packbits(patterns, axis=0)  # (ceil(m/8), P)
    _, first = np.unique(packed.T, axis=0, return_index=True)
    return patterns[:, np.sort(first)]


def sample_patterns(M, n_patterns, *, seed=0) -> np.ndarray:
    """Sample activation patterns ``1[M g ≥ 0]`` from Gaussian gates ``g ~ N(0, I_d)``.

    Parameters
    ----------
    M : array_like, shape (m, d)
        The block input (one row per sample, bias column included).
    n_patterns : int
        Number of gates drawn; after removing duplicate and all-zero patterns
        fewer columns may remain.
    seed : int
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same patterns.

    Returns
    -------
    patterns : ndarray of bool, shape (m, P), ``P <= n_patterns``
        Distinct, non-empty patterns in the order of their first draw.
    """
    M = np.asarray(M, dtype=float)
    if M.ndim != 2:
        raise ValidationError(f"M must be a 2-D array (m samples × d features); got shape {M.shape}")
    check_params("sample_patterns", {"n_patterns": n_patterns}, {"n_patterns": [Int(1)]})
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((M.shape[1], int(n_patterns)))
    return unique_patterns(M @ G >= 0)


def guided_patterns(M, Y, *, quantiles=(0.1, 0.3, 0.5, 0.7, 0.9), rcond=1e-10) -> np.ndarray:
    """Patterns from gates fitted to the targets: ``1[M g_k ≥ τ]`` and ``1[M g_k ≤ τ]``.

    For each column ``y_k`` of ``Y``, ``g_k = argmin_g ‖M g − y_k‖₂`` (least
    squares) and ``τ`` runs over the ``quantiles`` of ``M g_k``.  A threshold
    needs a constant direction in the range of ``M`` (a bias column, or any
    ``c`` with ``M c = 1``): the gate is then ``g_k − τ c``, so each pattern is a
    genuine arrangement ``1[M h ≥ 0]`` of ``M``.  Without one, only ``τ = 0`` is
    used.

    Parameters
    ----------
    M : array_like, shape (m, d)
        Block input, rows are samples.
    Y : array_like, shape (m, q) or (m,)
        Targets (the residual the block fits), rows are samples.
    quantiles : sequence of float in (0, 1)
        Where the thresholds sit along ``M g_k``.

    Returns
    -------
    patterns : ndarray of bool, shape (m, P), ``P <= 2 q len(quantiles)``
        Distinct, non-empty patterns.
    """
    M = np.asarray(M, dtype=float)
    Y = np.asarray(Y, dtype=float)
    Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
    if M.ndim != 2 or Y.ndim != 2 or Y.shape[0] != M.shape[0]:
        raise ValidationError(
            f"M (m × d) and Y (m × q) must have the same number of rows (samples); got M{M.shape}, Y{Y.shape}"
        )
    if not all(0 < t < 1 for t in quantiles) or len(quantiles) == 0:
        raise ValidationError(f"quantiles must be a non-empty sequence of numbers in (0, 1); got {quantiles!r}")
    ones = np.ones(M.shape[0])
    c = np.linalg.lstsq(M, ones, rcond=rcond)[0]
    has_constant = np.linalg.norm(M @ c - ones) <= 1e-8 * np.sqrt(M.shape[0])
    G = np.linalg.lstsq(M, Y, rcond=rcond)[0]  # (d, q)
    columns = []
    for k in range(G.shape[1]):
        z = M @ G[:, k]
        taus = np.quantile(z, quantiles) if has_constant else [0.0]
        for tau in taus:
            shifted = M @ (G[:, k] - tau * c) if has_constant else z
            columns += [shifted >= 0, shifted <= 0]
    return unique_patterns(np.column_stack(columns))


class PatternSet(NamedTuple):
    """Activation patterns of program (12) and what they cover.

    Attributes
    ----------
    patterns : ndarray of bool, shape (m, P)
    source : str
        ``"exact"`` (enumerated), ``"sampled"`` (Gaussian gates) or ``"given"`` (an array).
    all_arrangements : bool
        Whether ``patterns`` is the set of *every* non-empty arrangement of ``M``.
    structure : tuple or None
        :func:`threshold_structure_1d` of the patterns when ``M = [u, c·1]``, else None.
    """

    patterns: np.ndarray
    source: str
    all_arrangements: bool
    structure: tuple | None


def one_d_columns(M: np.ndarray):
    """``(col_u, col_c, c)`` when ``M = [u, c·1]`` (any column order, c ≠ 0, u not constant), else None."""
    if M.shape[1] != 2:
        return None
    const = [bool(np.all(M[:, j] == M[0, j])) and M[0, j] != 0 for j in range(2)]
    if const[0] == const[1]:
        return None
    col_c = 0 if const[0] else 1
    return 1 - col_c, col_c, float(M[0, col_c])


def _pattern_set(p):
    return {col.tobytes() for col in np.packbits(p, axis=0).T}


def resolve_patterns(M, patterns, n_patterns, seed) -> PatternSet:
    """The patterns of program (12) for ``M`` ``(m, d)`` (rows are samples).

    ``patterns``: ``"exact"`` — every arrangement (only for ``M = [u, c·1]``);
    ``"sampled"`` — ``n_patterns`` Gaussian gates seeded by ``seed``; ``"auto"`` — exact
    when ``M`` is 1-D plus a constant column, else sampled; or an ``(m, P)`` bool (0/1)
    array, used as given (it covers every arrangement only if it equals the exact set
    of a 1-D ``M``).

    Raises
    ------
    ValidationError
        Unknown mode, ``"exact"`` for a non-1-D ``M``, or a malformed array.
    """
    cols = one_d_columns(M)
    if isinstance(patterns, str):
        mode = patterns.lower()
        if mode not in PATTERN_MODES:
            raise ValidationError(
                f"patterns must be one of {PATTERN_MODES} or an (m, P) bool array; got {patterns!r}"
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
            return PatternSet(pats, "exact", True, threshold_structure_1d(M[:, cols[0]], pats))
        return PatternSet(sample_patterns(M, n_patterns, seed=seed), "sampled", False, None)
    pats = np.asarray(patterns)
    if pats.ndim != 2 or pats.shape[0] != M.shape[0] or pats.shape[1] == 0:
        raise ValidationError(f"patterns array must have shape (m, P) = ({M.shape[0]}, P>0); got {pats.shape}")
    if pats.dtype != bool:
        if not np.all((pats == 0) | (pats == 1)):
            raise ValidationError("patterns array must be boolean (or 0/1); got other values")
        pats = pats.astype(bool)
    if not pats.any(axis=0).all():
        raise ValidationError("patterns must not contain an all-zero column (it contributes nothing)")
    if cols is None:
        return PatternSet(pats, "given", False, None)
    structure = threshold_structure_1d(M[:, cols[0]], pats)
    complete = structure is not None and _pattern_set(exact_patterns_1d(M[:, cols[0]])) == _pattern_set(pats)
    return PatternSet(pats, "given", complete, structure)
