"""Benchmark the first-order engine for the Ergen–Pilanci program (12) against its two targets.

1. ``--small``: m=2000, d=50 (bias column included), P=50 sampled patterns, q=1;
   Gaussian ``M``, ``y`` from a random 5-neuron ReLU net + noise, ``β = frac · β_max``
   (``β_max = max_k ‖Mᵀ D_k y‖``, the zero-solution threshold without multipliers).
   Target: gap_rel ≤ 1e-4 in ≤ 5 s. Reports the median over ``--repeats`` of time,
   certified gap, violation and active neurons.
2. ``--mnist``: one MNIST-size block, m=60000, d=785 (784 pixels + bias), q=10
   (one-hot labels), P=20; real MNIST pixels when ``--mnist-dir`` holds the IDX
   files, else random data of that shape. float32 iterations, ``--time-limit``
   (default 55 s). Target: ≤ 60 s with a reported (certified) gap.

``--tiny`` runs the same code on small problems in a few seconds (m=200, d=6, P=8; the MNIST-size block cut
to its first 500 rows and P=4; 2 s time limit): a smoke test (the test-suite runs it), whose PASS/MISS lines
are marked "tiny" and say nothing about the targets.

Public API only. Example:

    python benchmarks/bench_first_order.py --small --repeats 3
    python benchmarks/bench_first_order.py --mnist --mnist-dir /tmp/mnistnpm/package/data
    python benchmarks/bench_first_order.py --tiny --small --mnist --repeats 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from cvximplicit.solvers import beta_max, sample_patterns, solve_convex_relu_first_order


def small_problem(seed: int, m=2000, d=50, noise=0.1):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((m, d))
    M[:, -1] = 1.0
    A = rng.standard_normal((5, d))
    b = rng.standard_normal(5)
    y = np.maximum(M @ A.T, 0.0) @ b + noise * rng.standard_normal(m)
    return M, y


def active(V, W, rel=1e-6):
    nv = np.linalg.norm(V, axis=1)
    nw = np.linalg.norm(W, axis=1)
    top = max(float(nv.max()), float(nw.max()), 1e-300)
    return int((nv > rel * top).sum() + (nw > rel * top).sum())


#: Sizes of ``--tiny`` (a smoke test of the same code): small problem, rows and patterns of the MNIST-size block.
TINY = {"m": 200, "d": 6, "P": 8, "mnist_rows": 500, "mnist_P": 4, "time_limit": 2.0}


def _verdict(ok: bool, args) -> str:
    return ("PASS" if ok else "MISS") + (" (tiny run: not the target's size)" if args.tiny else "")


def run_small(args):
    rows = []
    size = {"m": TINY["m"], "d": TINY["d"]} if args.tiny else {}
    n_patterns = TINY["P"] if args.tiny else 50
    for r in range(args.repeats):
        M, y = small_problem(seed=r, **size)
        pats = sample_patterns(M, n_patterns, seed=r)
        beta = args.beta_frac * beta_max(M, y, pats)
        t0 = time.perf_counter()
        V, W, rep = solve_convex_relu_first_order(M, y, pats, beta, tol=1e-4, max_iter=100_000,
                                                  time_limit_s=args.time_limit)
        wall = time.perf_counter() - t0
        rows.append({"seed": r, "P": pats.shape[1], "beta": beta, "status": rep.status, "time_s": wall,
                     "gap_rel": rep.gap_rel, "violation": rep.residual, "iterations": rep.iterations,
                     "active_groups": active(V, W), "objective": rep.objective, "bound": rep.bound,
                     "network_objective": rep.extra["network_objective"]})
        print(json.dumps(rows[-1]))
    med = {k: statistics.median(r[k] for r in rows) for k in ("time_s", "gap_rel", "violation", "iterations")}
    ok = med["time_s"] <= 5.0 and med["gap_rel"] <= 1e-4
    print(f"small target (<= 5 s to gap_rel <= 1e-4): {_verdict(ok, args)}  medians {med}")
    return rows


def mnist_block(args):
    if args.mnist_dir:
        from cvximplicit.datasets import load_mnist

        ds = load_mnist(args.mnist_dir, verify=False)
        X = np.asarray(ds.inputs_train, dtype=np.float64)  # (60000, 784), rows are samples
        labels = np.asarray(ds.targets_train)
        X = X.reshape(X.shape[0], -1)[:60000]
        if X.max() > 1.5:
            X = X / 255.0
        Y = np.eye(10)[labels[:60000].astype(int)]
        source = "MNIST"
    else:
        rng = np.random.default_rng(0)
        X = rng.random((60000, 784))
        Y = np.eye(10)[rng.integers(0, 10, 60000)]
        source = "random"
    if args.tiny:
        X, Y = X[: TINY["mnist_rows"]], Y[: TINY["mnist_rows"]]
    M = np.c_[X, np.ones(len(X))]
    return M, Y, source


def run_mnist(args):
    M, Y, source = mnist_block(args)
    pats = sample_patterns(M, TINY["mnist_P"] if args.tiny else 20, seed=0)
    beta = args.beta_frac * beta_max(M, Y, pats)
    t0 = time.perf_counter()
    V, W, rep = solve_convex_relu_first_order(M, Y, pats, beta, tol=1e-4, max_iter=100_000,
                                              time_limit_s=args.time_limit, dtype=np.float32)
    wall = time.perf_counter() - t0
    row = {"source": source, "m": M.shape[0], "d": M.shape[1], "q": Y.shape[1], "P": pats.shape[1],
           "beta": beta, "status": rep.status, "time_s": wall, "gap_rel": rep.gap_rel, "violation": rep.residual,
           "iterations": rep.iterations, "objective": rep.objective, "bound": rep.bound,
           "active_groups": active(V, W), "network_objective": rep.extra["network_objective"]}
    print(json.dumps(row))
    ok = wall <= 60.0 and rep.gap_rel is not None
    print(f"MNIST-size target (<= 60 s with a reported gap): {_verdict(ok, args)}")
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true")
    p.add_argument("--mnist", action="store_true")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--beta-frac", type=float, default=0.5)
    p.add_argument("--time-limit", type=float, default=None)
    p.add_argument("--mnist-dir", default=None)
    p.add_argument("--tiny", action="store_true",
                   help="small sizes and a 2 s time limit: a smoke test of the same code (a few seconds)")
    args = p.parse_args(argv)
    if not (args.small or args.mnist):
        args.small = True
    if args.tiny and args.time_limit is None:
        args.time_limit = TINY["time_limit"]
    if args.small:
        if args.time_limit is None:
            args.time_limit = 60.0
        run_small(args)
    if args.mnist:
        if not args.tiny and (args.time_limit is None or args.small):
            args.time_limit = 55.0
        run_mnist(args)


if __name__ == "__main__":
    main()
