"""Benchmark the certified block solvers against the four targets of the issue.

Targets (PASS/MISS printed against each):

1. exact 1-D block (m=500, ``M = [u, 1]``, all ~1000 arrangements): global
   certificate, ``gap_rel ≤ 1e-6``, ``≤ 2 s`` including compilation (each repeat
   uses a fresh data set, so it compiles);
2. sampled block (m=2000, d=50, P=50): ``≤ 5 s`` with the first-order engine
   (``solver="FISTA"``, where ``solver="auto"`` routes a problem of this size; the
   plain conic form takes ~100 s), capped at ``--fista-time-limit``;
3. least squares (11) at MNIST size (X 32×60000, Y 10×60000): ``≤ 10×``
   ``numpy.linalg.lstsq`` measured in the same run;
4. one block at MNIST size (m=60000, d≈800, q=10, sampled patterns): ``≤ 60 s``
   with a reported gap, first-order engine capped at 50 s (Fashion-MNIST pixels
   when the data are installed, else a synthetic stand-in of the same shape).

Times are medians of ``--repeats`` runs (default 3; target 4 uses
``--mnist-repeats``, default 1, because one run is up to a minute).

``--tiny`` runs the same four benchmarks on small sizes in a few seconds (target 1 on
m=100, target 2 on m=300, d=20, P=10, target 3 on 32×2000, target 4 on the block's
first 500 rows with P=4; first-order time limits 1 s): a smoke test (the test-suite runs
it); its lines are marked "tiny" and say nothing about the targets.

    python benchmarks/bench_block_solvers.py --json bench.json
    python benchmarks/bench_block_solvers.py --skip-mnist-block
    python benchmarks/bench_block_solvers.py --tiny --repeats 1
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from cvximplicit.datasets import make_smooth
from cvximplicit.solvers import solve_convex_relu, solve_least_squares


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


#: Sizes of ``--tiny``: the same code on small problems (a smoke test, not the targets).
TINY = {"m_1d": 100, "m_sampled": 300, "d_sampled": 20, "P_sampled": 10, "m_ls": 2000, "m_mnist": 500,
        "P_mnist": 4, "time_limit": 1.0}


def bench_exact_1d(repeats, m=500):
    times, gaps, certs = [], [], []
    for r in range(repeats):
        data = make_smooth(n_train=m, seed=r)  # fresh data: the compiled-problem cache misses
        u, y = data.inputs_train[:, 0], data.targets_train
        sol, t = timed(lambda: solve_convex_relu(np.c_[u, np.ones_like(u)], y, beta=1.0, patterns="exact"))
        times.append(t), gaps.append(sol.report.gap_rel), certs.append(sol.report.certificate)
        n_patterns, solver = sol.report.extra["n_patterns"], sol.report.solver
    med = float(np.median(times))
    ok = med <= 2.0 and max(gaps) <= 1e-6 and set(certs) == {"global"}
    return {"target": "exact 1-D block m=500: global, gap_rel<=1e-6, <=2 s incl. compile", "time_s": med,
            "times_s": times, "gap_rel_max": max(gaps), "certificate": certs[0], "n_patterns": n_patterns,
            "solver": solver, "pass": ok}


def sampled_block(m, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 10))
    H = np.maximum(X @ rng.standard_normal((10, d - 1)) / np.sqrt(10), 0.0)
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.1 * rng.standard_normal(m)
    return np.c_[H, np.ones(m)], y


def bench_sampled(repeats, time_limit, m=2000, d=50, n_patterns=50):
    M, y = sampled_block(m, d)
    times, reports = [], []
    for r in range(repeats):
        try:
            sol, t = timed(lambda: solve_convex_relu(M, y, beta=1.0, patterns="sampled", n_patterns=n_patterns, seed=r,
                                                     solver="FISTA", solver_opts={"time_limit_s": time_limit}))
        except Exception as exc:  # e.g. the first-order engine is missing
            return {"target": "sampled block m=2000, d=50, P=50: <=5 s", "pass": False,
                    "error": f"{type(exc).__name__}: {exc}"}
        times.append(t), reports.append(sol.report)
    med = float(np.median(times))
    return {"target": "sampled block m=2000, d=50, P=50: <=5 s", "time_s": med, "times_s": times,
            "solver": reports[0].solver, "gap_rel_max": max(r.gap_rel for r in reports),
            "certificate": reports[0].certificate, "pass": med <= 5.0}


def bench_least_squares(repeats, m=60_000):
    rng = np.random.default_rng(0)
    X = np.maximum(rng.standard_normal((32, m)), 0.0)
    Y = rng.standard_normal((10, m))
    ours, ref = [], []
    for _ in range(repeats):
        (C, report), t = timed(lambda: solve_least_squares(X, Y))
        ours.append(t)
        C_ref, t = timed(lambda: np.linalg.lstsq(X.T, Y.T, rcond=None)[0].T)
        ref.append(t)
    ratio = float(np.median(ours) / np.median(ref))
    return {"target": "least squares 32x60000, q=10: <=10x numpy.linalg.lstsq", "time_s": float(np.median(ours)),
            "times_s": ours, "lstsq_time_s": float(np.median(ref)), "ratio": ratio,
            "rel_diff_vs_lstsq": float(np.linalg.norm(C - C_ref) / np.linalg.norm(C_ref)),
            "normal_equation_residual": report.residual, "pass": ratio <= 10.0}


def mnist_block(n_states=15, seed=0, rows=None):
    """(M, Y, source): Fashion-MNIST pixels + random ReLU states + bias, one-hot targets (rows are samples).

    ``rows``: keep only the first ``rows`` samples (``--tiny``).
    """
    rng = np.random.default_rng(seed)
    m = 60_000 if rows is None else rows
    try:
        from cvximplicit.datasets import load_fashion_mnist

        data = load_fashion_mnist()
        pixels, labels, source = data.inputs_train[:m].astype(np.float64), data.targets_train[:m], "fashion-mnist"
    except Exception:  # data not installed: a synthetic stand-in of the same shape
        pixels = (rng.random((m, 784)) < 0.2) * rng.random((m, 784))
        labels = np.argmax(pixels @ rng.standard_normal((784, 10)), axis=1)
        source = "synthetic"
    states = np.maximum(pixels @ rng.standard_normal((784, n_states)) / 28.0, 0.0)
    M = np.c_[pixels, states, np.ones(pixels.shape[0])]
    Y = np.eye(10)[labels]
    return M, Y - Y.mean(axis=0), source


def bench_mnist_block(repeats, n_patterns, rows=None, time_limit=50.0):
    M, Y, source = mnist_block(rows=rows)
    times, reports = [], []
    for r in range(repeats):
        try:
            sol, t = timed(lambda: solve_convex_relu(M, Y, beta=10.0, patterns="sampled", n_patterns=n_patterns,
                                                     seed=r, solver="FISTA", solver_opts={"time_limit_s": time_limit}))
        except Exception as exc:
            return {"target": "MNIST-size block m=60000, d~800, q=10: <=60 s with a gap", "pass": False,
                    "error": f"{type(exc).__name__}: {exc}", "data": source}
        times.append(t), reports.append(sol.report)
    med = float(np.median(times))
    rep = reports[0]
    return {"target": "MNIST-size block m=60000, d~800, q=10: <=60 s with a gap", "time_s": med, "times_s": times,
            "data": source, "m": M.shape[0], "d": M.shape[1], "n_patterns": rep.extra["n_patterns"],
            "solver": rep.solver, "status": rep.status, "gap_rel": rep.gap_rel, "certificate": rep.certificate,
            "pass": med <= 60.0 and rep.gap_rel is not None}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mnist-repeats", type=int, default=1)
    parser.add_argument("--mnist-patterns", type=int, default=20)
    parser.add_argument("--skip-mnist-block", action="store_true")
    parser.add_argument("--targets", default="1,2,3,4", help="comma-separated subset of the targets 1-4")
    parser.add_argument("--fista-time-limit", type=float, default=30.0,
                        help="time limit (s) of the first-order engine on target 2 (default 30)")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--tiny", action="store_true",
                        help="small sizes and 1 s first-order limits: a smoke test of the same code (a few seconds)")
    args = parser.parse_args(argv)

    chosen = {int(t) for t in args.targets.split(",")}
    if args.skip_mnist_block:
        chosen.discard(4)
    if args.tiny:
        runners = {1: lambda: bench_exact_1d(args.repeats, m=TINY["m_1d"]),
                   2: lambda: bench_sampled(args.repeats, TINY["time_limit"], m=TINY["m_sampled"],
                                            d=TINY["d_sampled"], n_patterns=TINY["P_sampled"]),
                   3: lambda: bench_least_squares(args.repeats, m=TINY["m_ls"]),
                   4: lambda: bench_mnist_block(args.mnist_repeats, TINY["P_mnist"], rows=TINY["m_mnist"],
                                                time_limit=TINY["time_limit"])}
    else:
        runners = {1: lambda: bench_exact_1d(args.repeats),
                   2: lambda: bench_sampled(args.repeats, args.fista_time_limit),
                   3: lambda: bench_least_squares(args.repeats),
                   4: lambda: bench_mnist_block(args.mnist_repeats, args.mnist_patterns)}
    results = [runners[t]() for t in sorted(chosen)]
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    for res in results:
        verdict = ("PASS" if res["pass"] else "MISS") + (" (tiny run: not the target's size)" if args.tiny else "")
        if "error" in res:
            detail = res["error"]
        else:
            detail = f"median {res['time_s']:.3f} s"
            if "ratio" in res:
                detail += f" vs lstsq {res['lstsq_time_s']:.3f} s (ratio {res['ratio']:.1f}x)"
            if res.get("gap_rel_max") is not None or res.get("gap_rel") is not None:
                detail += f", gap_rel {res.get('gap_rel_max', res.get('gap_rel')):.1e}"
            if "certificate" in res:
                detail += f", {res['certificate']}, {res['solver']}"
        print(f"[{verdict}] {res['target']}: {detail}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2, default=float)
        print(f"wrote {args.json}")
    if any("error" in res for res in results):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
