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

from ..exceptions import ValidationError
from ..solvers.budget import fit_relu_budget
from ..solvers.least_squares import solve_least_squares
from .block import BlockProblem, BlockResult, block_loss

__all__ = ["AlternatingBlockSolver"]


class AlternatingBlockSolver:
    """Algorithm 2: least squares (11) ↔ Ergen–Pilanci step (12), ``T`` rounds.

    Parameters
    ----------
    T : int
        Maximum number of alternations.
    tol : float
        Stop when a round improves the training loss by less than ``tol``
        (relative).
    beta : "path" or float
        Weight decay of the convex program: ``"path"`` bisects β on the first
        round so the block gets exactly ``n_i`` neurons; later rounds reuse it.
    patterns, n_patterns : see :func:`cvximplicit.solvers.solve_convex_relu`.
    solver, solver_opts : str, dict
        Solver for both steps (``"auto"``, ``"CLARABEL"``, ``"FISTA"``, ...);
        ``solver_opts`` is passed unchanged to the solver.
    """

    name = "alternating"

    def __init__(self, *, T=3, tol=1e-3, beta="path", patterns="auto", n_patterns=100, solver="auto",
                 solver_opts=None):
        if not isinstance(T, int) or T < 1:
            raise ValidationError(f"T must be a positive integer (number of alternations); got T={T!r}")
        if not tol >= 0:
            raise ValidationError(f"tol must be >= 0; got tol={tol!r}")
        self.T, self.tol, self.beta = T, float(tol), beta
        self.patterns, self.n_patterns = patterns, n_patterns
        self.solver, self.solver_opts = solver, solver_opts

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
        reports, history = [], []
        C_prev = self._least_squares(X_prev, Y, reports)
        beta = self.beta
        best = None
        for t in range(self.T):
            start = time.perf_counter()
            residual = Y - C_prev @ X_prev  # Ỹ, (q, m)
            fit = fit_relu_budget(
                M, residual.T, problem.n_i, beta=beta, patterns=self.patterns, n_patterns=self.n_patterns,
                seed=problem.seed, solver=self.solver, solver_opts=self.solver_opts,
            )
            reports.extend(fit.reports)
            beta = fit.beta
            X_new = np.maximum(fit.W1 @ features, 0.0)
            C = self._least_squares(np.vstack([X_prev, X_new]), Y, reports)
            objective = block_loss(Y, C @ np.vstack([X_prev, X_new]), "squared")
            history.append({
                "round": t + 1, "objective": objective, "beta": float(beta), "relu_gap_rel": fit.gap_rel,
                "certificate": fit.report.certificate, "time_s": time.perf_counter() - start,
            })
            if best is not None and objective >= best[0]:
                break  # this round made things worse: keep the previous one
            previous = None if best is None else best[0]
            best = (objective, fit.W1, C, X_new, fit)
            if previous is not None and previous - objective <= self.tol * previous:
                break
            C_prev = C[:, :n_prev]
        objective, W1, C, X_new, fit = best
        return BlockResult(
            A_row=W1[:, :n_prev].copy(), B_row=W1[:, n_prev:].copy(), C=C, X_new=X_new, objective=objective,
            reports=reports, history=history,
            info={"beta": float(fit.beta), "relu_objective": fit.objective, "convex_bound": fit.convex_bound,
                  "relu_gap_rel": fit.gap_rel, "certificate": fit.report.certificate},
        )

    def _least_squares(self, X, Y, reports):
        if X.shape[0] == 0:
            return np.zeros((Y.shape[0], 0))
        # The first-order engine is for the ReLU program only; least squares is
        # always posed as a (reduced) conic problem.
        first_order = self.solver == "FISTA"
        C, report = solve_least_squares(
            X, Y, solver="auto" if first_order else self.solver, solver_opts=None if first_order else self.solver_opts
        )
        reports.append(report)
        return C



