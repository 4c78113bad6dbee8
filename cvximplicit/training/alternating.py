"""Alternating minimization for one block (Algorithm 2 of the paper), squared loss.

For block ``i`` with frozen earlier states ``X_{<i}`` (computation order
``[X_1; …; X_{i-1}]``), inputs ``U`` and targets ``Y`` (columns are samples),
Algorithm 2 repeats ``T`` times:

1. **Shallow ReLU step (12)** on the residual ``Ỹ = Y − Σ_{j<i} C_j X_j``:
   fit ``Ỹ ≈ C_i ReLU(Ã_i Ũ_i)`` with ``Ũ_i = [X_1; …; X_{i-1}; U]`` (the paper
   stacks ``[X_{i-1}; …; X_1; U]``; the order of rows does not change the
   problem) through the Ergen–Pilanci convex program with exactly ``n_i``
   neurons (:func:`cvximplicit.solvers.fit_relu_budget`).  This gives
   ``Ã_i = [A_{i,1} … A_{i,i-1}  B_i]`` and ``X_i = ReLU(Ã_i Ũ_i)``.
2. **Least squares (11)**: re-fit all output blocks,
   ``min_{C_1..C_i} ‖Y − Σ_{j≤i} C_j X_j‖_F²``.

The first residual uses the least-squares fit of ``C_{<i}`` to the frozen
features (``X_i = 0`` initially).  Alternation stops after ``T`` rounds or when
the relative decrease of the training loss is below ``tol``; the best round is
returned.  Because the last step of every round is an exact least-squares
solve over a superset of the previous block's features, the training loss can
never exceed the previous block's (the property test in
``tests/test_trainer.py`` checks this).
"""

from __future__ import annotations

import time

import numpy as np

from .._params import BOOL, Int, Options, Real, check_params
from ..exceptions import ValidationError
from ..solvers.budget import fit_relu_budget, fit_relu_pool
from ..solvers.engines import is_engine
from ..solvers.least_squares import solve_least_squares
from .block import BlockProblem, BlockResult, block_loss
from .reduction import ConvexStepReduction

__all__ = ["AlternatingBlockSolver"]


class AlternatingBlockSolver:
    """Algorithm 2: least squares (11) ↔ Ergen–Pilanci step (12), ``T`` rounds.

    Parameters
    ----------
    T : int
        Maximum number of alternations (default 1: on the paper's regression
        tasks a second round changed the test RMSE by < 0.02 and doubled the time).
    tol : float
        Stop when a round improves the training loss by less than ``tol``
        (relative).
    budget : {"pool", "path"}
        How the block gets exactly ``n_i`` neurons from the convex program:
        ``"pool"`` (default, :func:`~cvximplicit.solvers.budget.fit_relu_pool`):
        one solve at a moderate β, then least-squares forward selection of
        ``n_i`` neurons from its support; ``"path"``
        (:func:`~cvximplicit.solvers.fit_relu_budget`): bisection on β for a
        solution with exactly ``n_i`` active neurons.
    beta : "path" or float
        For ``budget="path"``: ``"path"`` bisects β on the first round (later
        rounds reuse it); a float fixes β.
    beta_ratio : float
        For ``budget="pool"``: β as a fraction of β_max (above which the zero
        network is optimal).
    patterns, n_patterns : see :func:`cvximplicit.solvers.solve_convex_relu`.
    guided : bool
        Add :func:`~cvximplicit.solvers.guided_patterns` — gates fitted to the
        residual, with thresholds — to the ``n_patterns`` sampled ones (sampled
        mode only; the exact 1-D arrangements need nothing added).
    select_on : {"convex", "all"}
        For ``budget="pool"``: select the block's ``n_i`` neurons from the convex
        solution's support on the rows and outputs the convex step was posed on
        (``"convex"``, default), or on every sample against the full residual —
        the objective of the least-squares step (11) itself (``"all"``: better
        when the convex step is posed on a small part of a large data set).
    max_rows : int or None
        Pose the convex step (12) on at most ``max_rows`` samples drawn at random
        (seeded) — the interior-point cost grows with ``m · P``.  The
        least-squares step (11) always uses every sample, and the convex step's
        certificate then refers to the subsampled program (``"restricted"``, with the
        reduction listed in the report).
        Exact 1-D blocks are cheap and always use every sample.
    max_features : int or None
        For wide block inputs (MNIST: ``d ≈ 800``), pose the convex step on the
        top ``max_features`` principal directions of the (subsampled) block
        input (centred), plus its bias coordinate, orthonormalised into ``P``:
        program (12) on ``M P`` is exact for neurons whose input weights lie in
        ``span(P)``, and a neuron ``w`` of it is ``P w`` in the original
        coordinates.
    max_outputs : int or None
        For many outputs (one-hot targets), fit the convex step to the top
        ``max_outputs`` left singular directions of the residual (scaled by
        their singular values); the least-squares step re-fits every output.
    solver, solver_opts : str, dict
        Solver for both steps (``"auto"``, ``"CLARABEL"``, ``"FISTA"``, ...);
        ``solver_opts`` is passed unchanged to the solver.
    """

    name = "alternating"

    def __init__(self, *, T=1, tol=1e-3, budget="pool", beta="path", beta_ratio=0.1, patterns="auto",
                 n_patterns=30, guided=False, select_on="convex", max_rows=100, max_features=None, max_outputs=None,
                 solver="auto", solver_opts=None):
        check_params("AlternatingBlockSolver", locals(), {
            "T": [Int(1)], "tol": [Real(0.0)], "budget": [Options(("pool", "path"))],
            "beta": [Options(("path",)), Real(0.0, closed="neither")], "beta_ratio": [Real(0.0, 1.0, "neither")],
            "n_patterns": [Int(1)], "guided": [BOOL], "select_on": [Options(("all", "convex"))],
        })
        self.T, self.tol, self.budget, self.beta, self.beta_ratio = T, float(tol), budget, beta, beta_ratio
        self.patterns, self.n_patterns, self.max_rows = patterns, n_patterns, max_rows
        self.guided, self.select_on = bool(guided), select_on
        self.max_features, self.max_outputs = max_features, max_outputs
        self.solver, self.solver_opts = solver, solver_opts
        self.reduction = ConvexStepReduction(max_rows=max_rows, max_features=max_features, max_outputs=max_outputs,
                                             patterns=patterns, n_patterns=n_patterns, guided=bool(guided))

    def solve(self, problem: BlockProblem) -> BlockResult:
        if problem.loss != "squared":
            raise ValidationError(
                "the alternating block solver implements Algorithm 2 for the squared loss (8); got "
                f"loss={problem.loss!r}. Use block_solver='local_search' for cross-entropy (9)"
            )
        if problem.activation != "relu":
            raise ValidationError(
                "the alternating block solver's convex step (12) is exact for ReLU only; got "
                f"activation={problem.activation!r}. Use activation='relu' or block_solver='local_search'"
            )
        Y, X_prev, n_prev = problem.Y, problem.X_prev, problem.n_prev
        features = problem.features  # [X_1; …; X_{i-1}; U], (d, m)
        M = np.ascontiguousarray(features.T)
        exact_1d = problem.n_prev == 0 and problem.U.shape[0] <= 2  # a scalar input (plus bias)
        rows = self.reduction.rows(problem.m, exact_1d=exact_1d, seed=problem.seed)
        reports, history = [], []
        C_prev = self._least_squares(X_prev, Y, reports)
        beta = self.beta
        best = None
        for t in range(self.T):
            start = time.perf_counter()
            residual = Y - C_prev @ X_prev  # Ỹ, (q, m)
            step = self.reduction.apply(M, residual.T, rows, seed=problem.seed)
            reductions = step.reductions
            common = dict(patterns=step.patterns, n_patterns=self.n_patterns, seed=problem.seed, solver=self.solver,
                          solver_opts=self.solver_opts, reductions=reductions)
            if self.budget == "pool":
                select_on = (step.project(M), residual.T, X_prev.T) if self.select_on == "all" else None
                fit = fit_relu_pool(step.M, step.Y, problem.n_i, F=X_prev.T[rows], select_on=select_on,
                                    beta_ratio=self.beta_ratio, **common)
            else:
                fit = fit_relu_budget(step.M, step.Y, problem.n_i, beta=beta, **common)
            W1 = step.lift(fit.W1)  # input weights in the block's coordinates
            reports.extend(fit.reports)
            beta = fit.beta
            X_new = np.maximum(W1 @ features, 0.0)
            C = self._least_squares(np.vstack([X_prev, X_new]), Y, reports)
            objective = block_loss(Y, C @ np.vstack([X_prev, X_new]), "squared")
            history.append({
                "round": t + 1, "objective": objective, "beta": float(beta), "relu_gap_rel": fit.gap_rel,
                "certificate": fit.report.certificate, "reductions": list(reductions),
                "time_s": time.perf_counter() - start,
            })
            if best is not None and objective >= best[0]:
                break  # this round made things worse: keep the previous one
            previous = None if best is None else best[0]
            best = (objective, W1, C, X_new, fit, reductions)
            if previous is not None and previous - objective <= self.tol * previous:
                break
            C_prev = C[:, :n_prev]
        objective, W1, C, X_new, fit, reductions = best
        return BlockResult(
            A_row=W1[:, :n_prev].copy(), B_row=W1[:, n_prev:].copy(), C=C, X_new=X_new, objective=objective,
            reports=reports, history=history,
            info={"beta": float(fit.beta), "relu_objective": fit.objective, "convex_bound": fit.convex_bound,
                  "relu_gap_rel": fit.gap_rel, "certificate": fit.report.certificate,
                  "reductions": list(reductions), "solver": fit.report.solver,
                  "solver_reason": fit.report.solver_reason},
        )

    def _least_squares(self, X, Y, reports):
        if X.shape[0] == 0:
            return np.zeros((Y.shape[0], 0))
        # The first-order engine is for the ReLU program only; least squares is
        # always posed as a (reduced) conic problem.
        first_order = isinstance(self.solver, str) and is_engine(self.solver.upper())
        C, report = solve_least_squares(
            X, Y, solver="auto" if first_order else self.solver, solver_opts=None if first_order else self.solver_opts
        )
        reports.append(report)
        return C
