"""Compare every available solver on two blocks of the Ergen–Pilanci program (12).

Blocks (rows of ``M`` are samples, bias column included):

- ``exact_1d``: block 1 of the smooth task, m = 500, ``M = [u, 1]``, all
  arrangements (certificate ``"global"``);
- ``sampled_d50``: a deeper block's input, m = 2000, d = 50 (49 ReLU features of
  a random layer plus bias), 50 sampled patterns (certificate ``"restricted"``).

Solvers: :func:`cvximplicit.solvers.available_solvers` plus ``"FISTA"``. One row
per (block, solver) with time, objective, certified gap and status; a solver that
fails or does not support second-order cones gives a row with its error. Conic
solvers on the large plain formulation are slow (~100 s for Clarabel at
m=2000, d=50, P=50); ``--time-limit`` caps FISTA and the conic solvers that have a
time limit (Clarabel, SCS), and ``--skip-conic-large`` skips the conic solvers there.

    python examples/compare_solvers.py --json compare.json
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

from cvximplicit.datasets import make_smooth
from cvximplicit.solvers import available_solvers, solve_convex_relu

#: Per-solver time-limit option names (where the solver has one).
TIME_LIMIT_OPTS = {"CLARABEL": "time_limit", "SCS": "time_limit_secs", "MOSEK": "mosek_params"}


def blocks(m_1d: int, m_sampled: int, seed: int):
    data = make_smooth(n_train=m_1d, seed=seed)
    u = data.inputs_train[:, 0]
    yield "exact_1d", np.c_[u, np.ones_like(u)], data.targets_train, "exact", 1.0
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m_sampled, 10))
    H = np.maximum(X @ rng.standard_normal((10, 49)) / np.sqrt(10), 0.0)  # a previous ReLU layer
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.1 * rng.standard_normal(m_sampled)
    yield "sampled_d50", np.c_[H, np.ones(m_sampled)], y, "sampled", 1.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m-1d", type=int, default=500)
    parser.add_argument("--m-sampled", type=int, default=2000)
    parser.add_argument("--n-patterns", type=int, default=50)
    parser.add_argument("--time-limit", type=float, default=60.0,
                        help="seconds, for FISTA and the conic solvers with a time-limit option (default 60)")
    parser.add_argument("--skip-conic-large", action="store_true",
                        help="skip conic solvers on the sampled d=50 block")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="write the rows as a JSON list to PATH")
    args = parser.parse_args(argv)

    solvers = available_solvers() + ["FISTA"]
    rows = []
    header = f"{'block':<12} {'solver':<9} {'status':<18} {'time_s':>8} {'objective':>16} {'gap_rel':>9}  note"
    print(header)
    print("-" * len(header))
    for block, M, y, patterns, beta in blocks(args.m_1d, args.m_sampled, args.seed):
        for solver in solvers:
            row = {"block": block, "solver": solver, "m": M.shape[0], "d": M.shape[1]}
            if block != "exact_1d" and solver != "FISTA" and args.skip_conic_large:
                row.update(status="skipped", time_s=None, objective=None, gap_rel=None,
                           error="skipped (--skip-conic-large)")
            else:
                opts = None
                if solver in TIME_LIMIT_OPTS and solver != "MOSEK":
                    opts = {TIME_LIMIT_OPTS[solver]: args.time_limit}
                elif solver == "FISTA":
                    opts = {"time_limit_s": args.time_limit}
                start = time.perf_counter()
                try:
                    with warnings.catch_warnings():  # a non-optimal status is reported in the row
                        warnings.simplefilter("ignore")
                        sol = solve_convex_relu(M, y, beta=beta, patterns=patterns, n_patterns=args.n_patterns,
                                                seed=args.seed, solver=solver, solver_opts=opts, fallback=())
                except Exception as exc:  # a failing/unsupported solver is a row, not a crash
                    row.update(status="error", time_s=time.perf_counter() - start, objective=None,
                               gap_rel=None, error=f"{type(exc).__name__}: {str(exc)[:160]}")
                else:
                    rep = sol.report
                    row.update(status=rep.status, time_s=time.perf_counter() - start, objective=rep.objective,
                               gap_rel=rep.gap_rel, bound=rep.bound, certificate=rep.certificate,
                               iterations=rep.iterations, n_patterns=rep.extra["n_patterns"],
                               compile_time_s=rep.compile_time_s, solve_time_s=rep.solve_time_s,
                               solver_used=rep.solver, error=None)
            rows.append(row)
            t = "-" if row["time_s"] is None else f"{row['time_s']:.2f}"
            obj = "-" if row["objective"] is None else f"{row['objective']:.10g}"
            gap = "-" if row["gap_rel"] is None else f"{row['gap_rel']:.1e}"
            note = row.get("error") or row.get("certificate", "")
            print(f"{block:<12} {solver:<9} {row['status']:<18} {t:>8} {obj:>16} {gap:>9}  {note}", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
