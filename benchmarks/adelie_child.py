"""Child of ``benchmarks/adelie_peer.py``: solve program (12) with adelie, in adelie's own environment.

Imports numpy and adelie only (adelie pins numpy < 2 and cannot share an environment with cvxpy).

    python adelie_child.py BLOCK.npz OUT.npz

``BLOCK.npz`` holds ``M`` ``(m, d)``, ``y`` ``(m,)``, ``patterns`` ``(m, P)`` bool, ``beta`` and adelie's tolerances
``tol``, ``pinball_tol``, ``nnls_tol``, ``path_size``. adelie's Gaussian loss weighs the samples ``1/m``, so the program

    min ½‖Σ_k D_k M (v_k − w_k) − y‖² + β Σ_k (‖v_k‖ + ‖w_k‖)   s.t. (2D_k − I) M v_k ≥ 0, (2D_k − I) M w_k ≥ 0

is adelie's ``grpnet`` at ``λ = β/m`` on ``adelie.matrix.convex_relu(M, patterns)`` (columns
``[D_1 M … D_P M, −D_1 M … −D_P M]``, groups of ``d``, penalty factors 1, no intercept), with one
``adelie.constraint.linear((2D_k − I) M, 0, +∞)`` per group. The path runs from ``λ_max`` (where the zero
network is optimal) down to ``λ`` in ``path_size`` geometric steps, without adelie's early exit.
``OUT.npz`` gets ``V``, ``W`` ``(P, d)`` at the last path point adelie solved, ``time_s`` (adelie's solve, the
matrix and constraints included), the adelie version, the path points solved of ``n_path`` and the β they reached
(adelie logs a solver error and returns a shorter path when its constraint solver fails). Nothing here judges the point: the parent recomputes the
objective and the cone violations itself.
"""

from __future__ import annotations

import sys
import time

import adelie as ad
import numpy as np


def solve(M, y, patterns, beta, *, tol, pinball_tol, nnls_tol, path_size):
    """adelie's ``(V, W)`` for program (12) at ``β`` and the number of path points it solved."""
    m, d = M.shape
    P = patterns.shape[1]
    M = np.asfortranarray(M, dtype=np.float64)
    mask = np.asfortranarray(patterns, dtype=bool)
    X = ad.matrix.convex_relu(M, mask)
    configs = {"pinball_tol": pinball_tol, "nnls_tol": nnls_tol}
    constraints = []
    for _ in range(2):  # the v groups, then the w groups: the same cone (2D_k − I) M h ≥ 0
        for k in range(P):
            A = np.asarray((2.0 * mask[:, k] - 1.0)[:, None] * M, dtype=np.float64)
            constraints.append(ad.constraint.linear(A, np.zeros(m), np.full(m, np.inf), configs=configs, copy=True))
    scores = np.abs(M.T @ (mask * y[:, None]))  # the zero network's group scores ‖Mᵀ D_k y‖ bound λ_max from above
    lmda_max = float(np.linalg.norm(scores, axis=0).max()) / m
    lmda = beta / m
    path = np.geomspace(max(lmda_max, lmda), lmda, int(path_size)) if path_size > 1 else np.array([lmda])
    state = ad.grpnet(
        X, ad.glm.gaussian(y), constraints=constraints, groups=d * np.arange(2 * P), penalty=np.ones(2 * P),
        lmda_path=path, intercept=False, early_exit=False, tol=tol, progress_bar=False,
    )
    beta_hat = np.asarray(state.betas[-1].toarray()).ravel()
    n_solved = int(state.betas.shape[0])
    U = beta_hat.reshape(2, P, d)
    return U[0], U[1], n_solved, len(path), float(state.lmdas[-1]) * m


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        raise SystemExit("usage: adelie_child.py BLOCK.npz OUT.npz")
    block = np.load(argv[0])
    start = time.perf_counter()
    V, W, n_solved, n_path, beta_reached = solve(block["M"], block["y"], block["patterns"], float(block["beta"]),
                                 tol=float(block["tol"]), pinball_tol=float(block["pinball_tol"]),
                                 nnls_tol=float(block["nnls_tol"]), path_size=int(block["path_size"]))
    elapsed = time.perf_counter() - start
    np.savez(argv[1], V=V, W=W, time_s=elapsed, n_solved=n_solved, n_path=n_path, beta_reached=beta_reached,
             version=ad.__version__)


if __name__ == "__main__":
    main()
