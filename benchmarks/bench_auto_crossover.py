"""The measurement behind ``solver="auto"``'s rule for plain programs: ACTIVE_SET against Clarabel on small blocks.

Program (12) on a grid of random blocks up to ``--max-nnz`` plain conic non-zeros (``3·m·d·P·q``, 2e5 by
default: the old crossover): Gaussian inputs with a bias column, targets from a random 3-neuron ReLU network
plus noise, Gaussian-gate patterns, β = 0.1 and 0.01 β_max. Each block is solved by both through
``solve_convex_relu`` (Clarabel cold: a new ``M`` each time), in this one process; one line per block, then
the median time ratio ACTIVE_SET / Clarabel, how often the engine was faster, and any block either left
uncertified.

    python benchmarks/bench_auto_crossover.py --json crossover.json
    python benchmarks/bench_auto_crossover.py --tiny        # a few blocks, seconds
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
import warnings

import numpy as np


def make_block(m, d, P, q, seed):
    """``(M, Y, patterns)``: Gaussian inputs plus a bias column, a random ReLU network's targets, Gaussian gates."""
    rng = np.random.default_rng(seed)
    M = np.c_[rng.standard_normal((m, d - 1)), np.ones(m)]
    hidden = np.maximum(M @ rng.standard_normal((d, 3)), 0.0)
    Y = hidden @ rng.standard_normal((3, q)) + 0.1 * rng.standard_normal((m, q))
    patterns = M @ rng.standard_normal((d, P)) >= 0
    return M, Y, patterns[:, patterns.any(axis=0)]


def grid(max_nnz, tiny):
    sizes = ((50, 100), (3, 10), (10, 30), (1,)) if tiny else ((50, 100, 300, 1000), (3, 10, 30), (10, 30, 60), (1, 2))
    for m, d, P, q in itertools.product(*sizes):
        if 3 * m * d * P * q <= max_nnz:
            for frac in (0.1, 0.01):
                yield m, d, P, q, frac


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-nnz", type=float, default=2e5, help="largest block, in plain conic non-zeros")
    parser.add_argument("--tiny", action="store_true", help="a few small blocks (a smoke run, not the measurement)")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)

    from cvximplicit.solvers import beta_max, solve_convex_relu

    warnings.simplefilter("ignore")
    rows = []
    for m, d, P, q, frac in grid(args.max_nnz, args.tiny):
        M, Y, patterns = make_block(m, d, P, q, seed=m + d + P + q)
        beta = frac * beta_max(M, Y, patterns)
        row = {"m": m, "d": d, "P": int(patterns.shape[1]), "q": q, "beta_ratio": frac, "nnz": 3 * m * d * P * q}
        for solver in ("ACTIVE_SET", "CLARABEL"):
            start = time.perf_counter()
            report = solve_convex_relu(M, Y, beta=beta, patterns=patterns, solver=solver).report
            row[solver] = {"time_s": time.perf_counter() - start, "certificate": report.certificate,
                           "gap_rel": report.gap_rel}
        row["ratio"] = row["ACTIVE_SET"]["time_s"] / row["CLARABEL"]["time_s"]
        rows.append(row)
        print(f"m={m:5d} d={d:3d} P={row['P']:3d} q={q} beta={frac:<4} nnz={row['nnz']:8.0f}  "
              f"ACTIVE_SET {row['ACTIVE_SET']['time_s']:.3f} s ({row['ACTIVE_SET']['certificate']})  "
              f"CLARABEL {row['CLARABEL']['time_s']:.3f} s ({row['CLARABEL']['certificate']})  "
              f"ratio {row['ratio']:.2f}", flush=True)
    ratios = [r["ratio"] for r in rows]
    summary = {"blocks": len(rows), "median_ratio": statistics.median(ratios),
               "engine_faster": sum(x < 1 for x in ratios), "max_ratio": max(ratios),
               "uncertified": {s: sum(r[s]["certificate"] == "none" for r in rows) for s in ("ACTIVE_SET", "CLARABEL")},
               "total_s": {s: sum(r[s]["time_s"] for r in rows) for s in ("ACTIVE_SET", "CLARABEL")},
               "scale": "tiny (a smoke run, not the measurement)" if args.tiny else "full"}
    print(json.dumps(summary))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"summary": summary, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
