"""Give block ``i`` exactly ``n_i`` neurons: a β path by bisection and a selection rule.

The convex program (12) (:func:`~cvximplicit.solvers.solve_convex_relu`) has as
many active neurons as its group sparsity allows; larger β gives fewer. For the
budget ``n_i`` of Algorithm 1:

1. **β_max.** At ``λ = Y`` (the residual of the zero network) with ``μ = 0`` the dual
   constraint reads ``max_{k,c} ‖Mᵀ D_k Y_{:,c}‖₂ ≤ β``; for β at least this value
   the zero solution is optimal (its dual certificate is exact), so
   ``β_max = max_{k,c} ‖Mᵀ D_k Y_{:,c}‖₂``.
2. **Bisection on log β** in ``[β_max · BETA_MIN_RATIO, β_max]`` for a β whose
   solution has exactly ``n_i`` active neurons (active: group norm above
   :data:`~cvximplicit.solvers.relu.convex_relu.NEURON_TOL` times the largest group
   norm, or times ``‖Y‖_F/‖M‖_F`` if that is larger); it
   stops early when exactly ``n_i`` are active, when ``hi/lo ≤ 1 + BETA_RTOL`` or
   after ``max_bisection`` solves. The patterns are fixed along the path, so the
   compiled conic problem is re-used (β is a DPP parameter) and the first-order
   engine is warm-started.
3. **Selection.** If the bisection found a β with exactly ``n_i`` active neurons,
   that solution is used. Otherwise the solution at the lower end of the final
   bracket (slightly more than ``n_i`` active) is used and its ``n_i`` neurons
   with the largest contribution ``‖W2[:, j]‖ · ‖W1[j]‖`` (for decoded neurons,
   the group norm) are kept — so the block gets ``n_i`` real neurons rather than
   zero padding. Only when even the smallest β of the bracket has fewer than
   ``n_i`` active neurons is the network **padded with zero neurons** (zero
   input and output weights: they output 0 and cost nothing). The output
   weights are **not** re-fitted here: Algorithm 2 re-fits ``C`` by least
   squares (11) right after this step.

The result reports the convex lower bound at the chosen β, the ``n_i``-neuron
nonconvex objective ``½‖relu(M W1ᵀ) W2ᵀ − Y‖² + (β/2)(‖W1‖² + ‖W2‖²)`` and their
gap. That gap bounds how far the ``n_i``-neuron network is from the best network of
the class the certificate names (:data:`~cvximplicit.solvers.core.report.CERTIFIED_CLASS`)
at that β: for ``"global"``, every width of two-layer ReLU network with a scalar output;
for ``"restricted"``, only the program actually solved. The reported β, objective and
bound always come from the same convex solve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..._params import Int, Real, check_params
from ...exceptions import ValidationError
from ..core._checks import _as_matrix, _real_block_data
from ..core.report import SolveReport
from ..cross_entropy.certificate_ce import ce_beta_max, ce_network_objective, softmax
from ..cross_entropy.convex_relu_ce import solve_convex_relu_ce
from . import certificate as _cert
from .arrangements import DEFAULT_N_PATTERNS, resolve_patterns
from .convex_relu import NEURON_TOL, ConvexReLUSolution, solve_convex_relu
from .program import ReluProgram

__all__ = ["BlockFit", "fit_relu_budget", "fit_relu_pool", "forward_select", "select_neurons",
           "BETA_MIN_RATIO", "BETA_RTOL", "NEW_DIRECTION_TOL"]

#: Lower end of the bisection bracket, relative to β_max.
BETA_MIN_RATIO = 1e-4
#: Bisection stops when ``hi / lo <= 1 + BETA_RTOL``.
BETA_RTOL = 1e-2


@dataclass
class BlockFit:
    """An ``n_i``-neuron shallow ReLU fit of one block with its certificate.

    Attributes
    ----------
    W1 : ndarray, shape (n_neurons, d)
        Input weights (rows are neurons; zero rows are padding).
    W2 : ndarray, shape (q, n_neurons)
        Output weights; prediction ``relu(M @ W1.T) @ W2.T``.
    beta : float
        The chosen β.
    objective : float
        The ``n_i``-neuron nonconvex objective at ``beta`` (``relu_network_objective``).
    convex_bound : float or None
        Certified lower bound of the convex program at ``beta``.
    gap_abs, gap_rel : float or None
        ``objective − convex_bound`` and that over ``max(1, |objective|)``.
    report : SolveReport
        The convex solve at ``beta`` (its ``certificate`` says what it proves: ``"global"``,
        ``"global_one_vs_all"``, ``"restricted"`` or ``"none"``).
    reports : list of SolveReport
        Every convex solve of the path, in order.
    n_active : int
        Active neurons of the convex solution at ``beta`` (before selection/padding).
    path : list of dict
        ``{"beta", "n_active", "objective", "gap_rel"}`` per solve.
    """

    W1: np.ndarray
    W2: np.ndarray
    beta: float
    objective: float
    convex_bound: float | None
    gap_abs: float | None
    gap_rel: float | None
    report: SolveReport
    reports: list = field(default_factory=list)
    n_active: int = 0
    path: list = field(default_factory=list)


def select_neurons(W1, W2, n_neurons: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the ``n_neurons`` neurons with the largest ``‖W2[:, j]‖·‖W1[j]‖``; pad with zero neurons.

    Ties keep the earlier neuron. Returns ``W1`` ``(n_neurons, d)`` and ``W2`` ``(q, n_neurons)``.
    """
    W1 = np.asarray(W1, dtype=float)
    W2 = np.asarray(W2, dtype=float)
    k, d = W1.shape
    q = W2.shape[0]
    score = np.linalg.norm(W2, axis=0) * np.linalg.norm(W1, axis=1)
    keep = np.sort(np.argsort(-score, kind="stable")[:n_neurons])
    out1, out2 = np.zeros((n_neurons, d)), np.zeros((q, n_neurons))
    out1[: keep.size], out2[:, : keep.size] = W1[keep], W2[:, keep]
    return out1, out2


def _check_n_neurons(n_neurons) -> None:
    """Raise :class:`ValidationError` unless ``n_neurons`` (the block budget ``n_i``) is a positive integer."""
    check_params("the block budget", {"n_neurons": n_neurons}, {"n_neurons": [Int(1)]})


def fit_relu_budget(M, Y, n_neurons, *, beta="path", patterns="auto", n_patterns=DEFAULT_N_PATTERNS, seed=0,
                    solver="auto", solver_opts=None, max_bisection=20, reductions=()) -> BlockFit:
    """Fit a shallow ReLU network with exactly ``n_neurons`` neurons through program (12).

    Parameters
    ----------
    M : array_like, shape (m, d)
        Block input, rows are samples (``M = Ũ_iᵀ``, bias column included: it is used as given, as the
        trainer poses it, without the bias check of :func:`~cvximplicit.solvers.solve_convex_relu`).
    Y : array_like, shape (m, q) or (m,)
        Targets (the residual ``Ỹᵀ`` of Algorithm 2), rows are samples.
    n_neurons : int
        The block budget ``n_i`` ≥ 1.
    beta : "path" or float
        ``"path"``: bisection on log β for exactly ``n_neurons`` active neurons, else
        the solution just above the budget truncated to its top ``n_neurons`` (module
        docstring); a float: a single solve at that β, then selection.
    patterns, n_patterns, seed, solver, solver_opts, reductions
        As in :func:`~cvximplicit.solvers.solve_convex_relu`; the patterns are
        drawn once and kept along the path.
    max_bisection : int
        Maximal number of convex solves of the bisection.

    Returns
    -------
    BlockFit

    Raises
    ------
    ValidationError
        Bad ``n_neurons``, ``beta``, ``max_bisection`` or data (see ``solve_convex_relu``).
    """
    _check_n_neurons(n_neurons)
    check_params("fit_relu_budget", {"max_bisection": max_bisection}, {"max_bisection": [Int(1)]})
    path_mode = isinstance(beta, str)
    if path_mode and beta != "path":
        raise ValidationError(f"beta must be 'path' or a positive float; got beta={beta!r}")
    M, Y, _ = _real_block_data(M, Y, 1.0 if path_mode else beta)
    pats = resolve_patterns(M, patterns, n_patterns, seed).patterns
    n_neurons = int(n_neurons)
    reports, path = [], []
    warm = {}

    def solve(b: float) -> tuple[ConvexReLUSolution, int]:
        opts = solver_opts
        if warm:  # the previous solve used the first-order engine: warm-start it
            opts = {"V0": warm["V"], "W0": warm["W"], **dict(solver_opts or {})}
        sol = solve_convex_relu(M, Y, beta=b, patterns=pats, bias=False, solver=solver, solver_opts=opts,
                                reductions=reductions)
        if sol.report.solver == "FISTA":
            warm.update(V=sol.V, W=sol.W)
        n_act = int(sol.report.extra["n_active_neurons"])
        reports.append(sol.report)
        path.append({"beta": b, "n_active": n_act, "objective": sol.report.objective,
                     "gap_rel": sol.report.gap_rel})
        return sol, n_act

    if not path_mode:
        chosen, n_act = solve(float(beta))
    else:
        hi = ReluProgram(M, Y, pats, 1.0).beta_max()
        if hi <= 0:  # Y is orthogonal to every D_k M: the zero network is optimal for any β
            chosen, n_act = solve(1.0)
        else:
            lo = hi * BETA_MIN_RATIO
            lo_fit = solve(lo)
            chosen, n_act = lo_fit
            if n_act > n_neurons:
                hi_fit = None
                for _ in range(max_bisection - 1):
                    if hi / lo <= 1.0 + BETA_RTOL:
                        break
                    mid = math.sqrt(lo * hi)
                    sol, n_mid = solve(mid)
                    if n_mid <= n_neurons:
                        hi, hi_fit = mid, (sol, n_mid)
                        if n_mid == n_neurons:
                            break
                    else:
                        lo, lo_fit = mid, (sol, n_mid)
                # Exactly n_i active at hi: take it. Otherwise prefer n_i *real* neurons: the
                # solution at lo (just above the budget) truncated to its top n_i.
                if hi_fit is not None and hi_fit[1] == n_neurons:
                    chosen, n_act = hi_fit
                else:
                    chosen, n_act = lo_fit
    W1_all, W2_all = chosen.neurons(tol=NEURON_TOL)
    W1, W2 = select_neurons(W1_all, W2_all, n_neurons)
    return _block_fit(M, Y, W1, W2, chosen, reports, n_act, path)


#: :func:`forward_select` skips a candidate whose part outside the span of the features already picked is at most
#: this fraction of its norm: it would add a direction the output step (11) can only use with huge, ill-conditioned
#: coefficients. On the pool of an exact 1-D block, two ReLUs with neighbouring thresholds differ by a step of tiny
#: height; with the old threshold (1e-10) such pairs were picked, the block states reached condition numbers of
#: 1e10–1e11 and the least-squares step could not certify (33 uncertified steps in 10 Table II runs, normal-equation
#: residual ~3e-5); at 1e-6: none, mean test RMSE 0.385 against 0.390 (Table I: the same neurons, 0.206).
NEW_DIRECTION_TOL = 1e-6


def forward_select(H, Y, n_select: int, F=None) -> list[int]:
    """Greedy forward selection of ``n_select`` columns of ``H`` for least squares.

    Picks, one at a time, the candidate feature (column of ``H``, shape ``(m, K)``)
    whose addition most reduces ``min_C ‖Y − [F, H_S] C‖_F²`` given the fixed
    features ``F`` ``(m, f)`` (e.g. the frozen states ``X_{<i}ᵀ``) and the columns
    ``S`` picked so far.  Implemented with Gram–Schmidt on the candidates:
    ``O(n_select · K · m)``.  Returns the picked column indices in order; fewer
    than ``n_select`` when the remaining candidates are (numerically) in the span
    of what is already picked: a candidate whose part outside that span is at most
    :data:`NEW_DIRECTION_TOL` of its norm is not usable.
    """
    H = np.array(H, dtype=float)
    R = np.asarray(Y, dtype=float).reshape(H.shape[0], -1).copy()
    norms0 = np.linalg.norm(H, axis=0)
    if F is not None and np.asarray(F).size:
        Q, _ = np.linalg.qr(np.asarray(F, dtype=float))
        H -= Q @ (Q.T @ H)
        R -= Q @ (Q.T @ R)
    chosen: list[int] = []
    for _ in range(min(n_select, H.shape[1])):
        norms = np.linalg.norm(H, axis=0)
        usable = norms > NEW_DIRECTION_TOL * np.maximum(norms0, 1e-300)
        usable[chosen] = False
        if not usable.any():
            break
        gain = np.where(usable, np.sum((H.T @ R) ** 2, axis=1) / np.where(usable, norms, 1.0) ** 2, -np.inf)
        j = int(np.argmax(gain))
        chosen.append(j)
        h = H[:, j] / norms[j]
        R -= np.outer(h, h @ R)
        H -= np.outer(h, h @ H)
    return chosen


def fit_relu_pool(M, Y, n_neurons, *, F=None, select_on=None, pool_factor=3, beta_ratio=0.1, max_solves=4,
                  start_level=0, patterns="auto", n_patterns=DEFAULT_N_PATTERNS, seed=0, solver="auto",
                  solver_opts=None, reductions=(), offset=None, loss="squared") -> BlockFit:
    """``n_neurons`` neurons chosen from the support of one convex solve (the "pool" rule).

    1. Solve program (12) on the ladder ``β_k = beta_ratio · β_max / 4^k``, ``k = start_level, …,
       max_solves − 1``, from its top, until a solution has at least ``pool_factor · n_neurons``
       active neurons (the last level's solution is kept even if its pool is small).
       The active neurons of that solution are the candidate pool, each a
       certified part of the optimal convex solution. ``start_level > 0`` skips the
       top levels (the trainer starts one level above where the previous block's ladder ended);
       the result's ``path`` entries record each level ``k`` solved.
    2. Keep the ``n_neurons`` candidates picked by :func:`forward_select` for the
       least-squares fit of ``Y`` together with the fixed features ``F`` — the
       objective Algorithm 2's least-squares step (11) then minimises.  Pads with
       zero neurons only if the pool is smaller than the budget.

    Compared with the β path of :func:`fit_relu_budget` (about ten solves per
    block) this needs one or two solves and, on the paper's regression task,
    gives a lower least-squares loss per block (the sparsest convex solutions are
    heavily shrunk by their large β).  The report carries the convex solve's
    certificate; ``objective`` is the ``n_neurons``-neuron nonconvex objective at
    that β with the decoded output weights, so ``gap_rel`` measures what the
    budget costs against the convex bound.

    Parameters are those of :func:`fit_relu_budget`, plus ``F`` ``(m, f)``:
    features already in the model (rows are samples), and ``select_on``: an
    optional ``(M_s, Y_s, F_s)`` on which step 2 selects instead (rows are
    samples, same columns as ``M``, ``Y``, ``F``) — e.g. every training sample
    and the full residual when the convex program was posed on a subsample or
    on reduced outputs, so that the selection minimises Algorithm 2's actual
    least-squares objective (11).

    ``loss="cross_entropy"`` solves the cross-entropy program (12) instead
    (:func:`~cvximplicit.solvers.solve_convex_relu_ce`; ``Y`` are labels with rows in the
    simplex and ``offset`` the fixed logits ``Z0``); the selection then fits the loss's
    negative gradient ``Y − softmax(Z0)`` (or ``select_on``'s targets) by least squares.
    """
    _check_n_neurons(n_neurons)
    check_params("fit_relu_pool", locals(), {"beta_ratio": [Real(0.0, 1.0, "neither")], "max_solves": [Int(1)],
                                             "start_level": [Int(0)], "pool_factor": [Real(1.0)]})
    if start_level >= max_solves:
        raise ValidationError(f"start_level must be below max_solves={max_solves} (the ladder's levels are "
                              f"0..{max_solves - 1}); got start_level={start_level}")
    if loss not in ("squared", "cross_entropy"):
        raise ValidationError(f"loss must be 'squared' or 'cross_entropy'; got loss={loss!r}")
    cross_entropy = loss == "cross_entropy"
    if cross_entropy:
        M = _as_matrix(M).astype(float, copy=False)
    else:
        M, Y, _ = _real_block_data(M, Y, 1.0)
    pats = resolve_patterns(M, patterns, n_patterns, seed).patterns
    n_neurons = int(n_neurons)
    top = ce_beta_max(M, Y, pats, offset=offset) if cross_entropy else ReluProgram(M, Y, pats, 1.0).beta_max()
    beta = top * beta_ratio / 4.0 ** start_level if top > 0 else 1.0
    reports, path, warm = [], [], None
    for level in range(start_level, max_solves):
        if cross_entropy:
            sol = solve_convex_relu_ce(M, Y, beta=beta, offset=offset, patterns=pats, bias=False, solver=solver,
                                       solver_opts=solver_opts, reductions=reductions)
        else:  # each lower β starts from the last solution (the engines use it; conic solvers ignore it)
            sol = solve_convex_relu(M, Y, beta=beta, patterns=pats, bias=False, solver=solver,
                                    solver_opts=solver_opts, reductions=reductions, warm_start=warm)
            warm = (sol.V, sol.W)
        n_act = int(sol.report.extra["n_active_neurons"])
        reports.append(sol.report)
        path.append({"level": level, "beta": beta, "n_active": n_act, "objective": sol.report.objective,
                     "gap_rel": sol.report.gap_rel})
        if n_act >= pool_factor * n_neurons or top <= 0 or level == max_solves - 1:
            break  # β is only lowered for another solve: the kept solution is always the one at `beta`
        beta /= 4.0
    W1_all, W2_all = sol.neurons(tol=NEURON_TOL)
    if select_on is not None:
        M_s, Y_s, F_s = select_on
    else:
        M_s, F_s = M, F
        Y_s = Y - softmax(np.zeros(Y.shape) if offset is None else offset) if cross_entropy else Y
    if np.shape(M_s)[1:] != M.shape[1:]:
        raise ValidationError(f"select_on's M must have {M.shape[1]} columns like M; got shape {np.shape(M_s)}")
    keep = forward_select(np.maximum(np.asarray(M_s, dtype=float) @ W1_all.T, 0.0), Y_s, n_neurons, F=F_s)
    W1, W2 = np.zeros((n_neurons, M.shape[1])), np.zeros((np.shape(Y)[1], n_neurons))
    W1[: len(keep)], W2[:, : len(keep)] = W1_all[keep], W2_all[:, keep]
    if cross_entropy:
        return _block_fit(M, Y, W1, W2, sol, reports, n_act, path,
                          objective=ce_network_objective(M, Y, W1, W2, sol.beta, offset))
    return _block_fit(M, Y, W1, W2, sol, reports, n_act, path)


def _block_fit(M, Y, W1, W2, sol: ConvexReLUSolution, reports, n_act, path, objective=None) -> BlockFit:
    """The :class:`BlockFit` of network ``(W1, W2)`` selected from ``sol``: objective, bound and gap at ``sol.beta``."""
    if objective is None:
        objective = _cert.network_objective_kernel(M, Y, W1, W2, float(sol.beta))
    bound = sol.report.bound
    gap_abs, gap_rel = SolveReport.gaps(objective, bound)
    return BlockFit(W1=W1, W2=W2, beta=float(sol.beta), objective=objective, convex_bound=bound, gap_abs=gap_abs,
                    gap_rel=gap_rel, report=sol.report, reports=reports, n_active=n_act, path=path)
