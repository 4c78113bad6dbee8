"""Benchmark the engines of the Ergen–Pilanci program (12): ACTIVE_SET and ADMM against Clarabel and FISTA.

Blocks (rows of ``M`` are samples, bias column included):

- ``exact_1d``: block 1 of the smooth task, m = 500, ``M = [u, 1]``, all arrangements, β = 1;
- ``d50``: the sampled block of ``examples/compare_solvers.py`` (m = 2000, 49 ReLU features of
  a random layer plus bias, P = 50 Gaussian-gate patterns), β = 0.1 β_max;
- ``d50_dense``: the same block at β = 0.01 β_max (about 22 active groups at the optimum);
- ``d6``: a Friedman-like block (5 uniform inputs plus bias, Friedman #1 targets), m = 1000,
  P = 100, β = 0.01 β_max;
- ``mnist_wide``: the wide preset's convex step posed on 2000 MNIST rows: the top 30 principal
  directions plus bias, the top 2 directions of the centred one-hot labels, P = 80, β = 0.025 β_max;
- ``mnist`` (``--mnist``): all 60 000 training images (pixels/255 plus bias, d = 785), q = 10
  centred one-hot labels, P = 50, β = 0.01 β_max, ADMM in float32 with PCG;
- a sweep of ``m`` (d = 50, P = 50, β = 0.1 β_max) and of ``P`` (m = 2000, d = 50), ACTIVE_SET.

``β_max = max_{k,c} ‖Mᵀ D_k Y_{:,c}‖``. Every row runs in its own subprocess (one BLAS thread
unless ``--threads``), and ``peak_mem_mb`` is that process's ``ru_maxrss`` (the whole process:
Python, numpy, the data and the solve). ``gap_rel`` is the engine's certified gap, recomputed by
``certificate.dual_bound`` in float64 (Clarabel's through ``solve_convex_relu``). Times are wall
clock of the solve call only; ``full_pass_s`` is the time of one pass ``Mᵀ (D ∘ y)`` over every
pattern and output in the same process (the floor of any certified solve: its check costs one).
Public API only.

    python benchmarks/bench_engines.py --json engines.json --png engines.png
    python benchmarks/bench_engines.py --mnist --json mnist.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

ENGINE_TOL = {"exact_1d": 1e-6, "d50": 1e-6, "d50_dense": 1e-6, "d6": 1e-6, "mnist_wide": 1e-4, "mnist": 1e-4,
              "sweep_m": 1e-6, "sweep_P": 1e-6}


# --------------------------------------------------------------------------- problems
def _beta_max(M, Y, patterns):
    from cvximplicit.solvers import beta_max

    return beta_max(M, Y, patterns, bias=False)  # the blocks as given (no bias check)


def make_block(name, m=None, P=None, seed=0):
    """``(M, Y, patterns, beta)`` of one benchmark block."""
    from cvximplicit.solvers import exact_patterns_1d, sample_patterns

    if name == "exact_1d":
        from cvximplicit.datasets import make_smooth

        data = make_smooth(n_train=m or 500, seed=seed)
        u = data.inputs_train[:, 0]
        M = np.c_[u, np.ones_like(u)]
        return M, np.asarray(data.targets_train, dtype=float).reshape(len(u), -1), exact_patterns_1d(u), 1.0
    if name in ("d50", "d50_dense", "sweep_m", "sweep_P"):
        m = m or 2000
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((m, 10))
        H = np.maximum(X @ rng.standard_normal((10, 49)) / np.sqrt(10), 0.0)
        y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.1 * rng.standard_normal(m)
        M = np.c_[H, np.ones(m)]
        pats = sample_patterns(M, P or 50, seed=seed)
        return M, y[:, None], pats, (0.01 if name == "d50_dense" else 0.1) * _beta_max(M, y, pats)
    if name == "d6":
        m = m or 1000
        rng = np.random.default_rng(seed)
        X = rng.random((m, 5))
        y = (10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2 + 10 * X[:, 3] + 5 * X[:, 4]
             + rng.standard_normal(m))
        M = np.c_[X, np.ones(m)]
        pats = sample_patterns(M, P or 100, seed=seed)
        return M, y[:, None], pats, 0.01 * _beta_max(M, y, pats)
    if name == "mnist_wide":
        from cvximplicit.datasets import load_mnist

        data = load_mnist()
        idx = np.random.default_rng(seed).choice(data.inputs_train.shape[0], 2000, replace=False)
        X = np.asarray(data.inputs_train, dtype=np.float64)[idx] / 255.0
        Xc = X - X.mean(axis=0)
        _, _, Vt = np.linalg.svd(Xc, full_matrices=False)
        M = np.c_[Xc @ Vt[:30].T, np.ones(2000)]
        Yf = np.eye(10)[np.asarray(data.targets_train)[idx]]
        Yf -= Yf.mean(axis=0)
        U, sv, _ = np.linalg.svd(Yf, full_matrices=False)
        Y = U[:, :2] * sv[:2]
        pats = sample_patterns(M, P or 80, seed=seed)
        return M, Y, pats, 0.025 * _beta_max(M, Y, pats)
    if name == "mnist":
        from cvximplicit.datasets import load_mnist

        data = load_mnist()
        X = np.asarray(data.inputs_train, dtype=np.float64)
        M = np.c_[X, np.ones(X.shape[0])]
        labels = np.asarray(data.targets_train)
        Y = np.eye(10)[labels]
        Y -= Y.mean(axis=0)
        pats = sample_patterns(M, P or 50, seed=seed)
        return M, Y, pats, 0.01 * _beta_max(M, Y, pats)
    raise ValueError(f"unknown block {name!r}")


# --------------------------------------------------------------------------- one row (child process)
def run_row(spec):
    import resource
    import warnings

    from cvximplicit.solvers import solve_convex_relu, solve_convex_relu_first_order
    from cvximplicit.solvers.engines.active_set import solve_convex_relu_active_set
    from cvximplicit.solvers.engines.admm import solve_convex_relu_admm

    M, Y, pats, beta = make_block(spec["problem"], spec.get("m"), spec.get("P"), spec.get("seed", 0))
    tol = ENGINE_TOL[spec["problem"]]
    limit = spec["time_limit"]
    engine = spec["engine"]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if engine == "ACTIVE_SET":
            V, W, rep = solve_convex_relu_active_set(M, Y, pats, beta, tol=tol, time_limit_s=limit)
        elif engine == "ADMM":
            opts = {"tol": tol, "max_iter": 100_000, "time_limit_s": limit}
            if spec["problem"] == "mnist":
                opts.update(dtype="float32", linear_solver="cg")
            V, W, rep = solve_convex_relu_admm(M, Y, pats, beta, **opts)
        elif engine == "FISTA":
            V, W, rep = solve_convex_relu_first_order(M, Y, pats, beta, tol=tol, max_iter=10**7,
                                                      time_limit_s=limit)
        else:
            sol = solve_convex_relu(M, Y, beta=beta, patterns=pats, solver=engine,
                                    solver_opts={"time_limit": limit}, fallback=())
            V, W, rep = sol.V, sol.W, sol.report
    wall = time.perf_counter() - t0
    Dm = pats.astype(np.float64)
    passes = []
    for _ in range(3):  # one full pass over every pattern and output: Mᵀ (D ∘ y_c)
        t1 = time.perf_counter()
        for c in range(Y.shape[1]):
            M.T @ (Dm * Y[:, [c]])
        passes.append(time.perf_counter() - t1)
    nv, nw = np.linalg.norm(V, axis=1), np.linalg.norm(W, axis=1)
    top = max(float(nv.max()), float(nw.max()), 1e-300)
    return {
        "problem": spec["problem"], "engine": engine, "m": M.shape[0], "d": M.shape[1], "q": Y.shape[1],
        "P": pats.shape[1], "time_s": wall, "gap_rel": rep.gap_rel, "objective": rep.objective,
        "bound": rep.bound, "status": rep.status, "iterations": rep.iterations,
        "active_groups": int((nv > 1e-6 * top).sum() + (nw > 1e-6 * top).sum()),
        "peak_mem_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, "seed": spec.get("seed", 0),
        "tol": tol, "full_pass_s": min(passes), **({k: rep.extra.get(k) for k in ("rho", "setup_time_s", "certificate_checks", "row_space_rank")}
                       if engine == "ADMM" else {}),
    }


def spawn(spec, threads):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, __file__, "--row", json.dumps(spec)], capture_output=True, text=True, check=False,
                          env=env)
    if proc.returncode != 0:
        return {**spec, "status": "error", "error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- driver
def plan(args):
    rows = []
    for problem in args.problems:
        rows += [{"problem": problem, "engine": "ACTIVE_SET", "time_limit": args.time_limit}] * args.repeats
        rows += [{"problem": problem, "engine": name, "time_limit": args.time_limit} for name in args.references]
    if args.mnist:
        rows += [{"problem": "mnist", "engine": name, "time_limit": args.mnist_time_limit}
                 for name in ("ACTIVE_SET", "ADMM")]
    for m in args.sweep_m:
        rows.append({"problem": "sweep_m", "engine": "ACTIVE_SET", "m": m, "time_limit": args.time_limit})
    for P in args.sweep_P:
        rows.append({"problem": "sweep_P", "engine": "ACTIVE_SET", "P": P, "time_limit": args.time_limit})
    return rows


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, problem, key in ((axes[0], "sweep_m", "m"), (axes[1], "sweep_P", "P")):
        pts = sorted((r[key], r["time_s"], r["status"], r["full_pass_s"]) for r in rows
                     if r.get("problem") == problem and "time_s" in r)
        if not pts:
            continue
        xs, ts, st, floor = zip(*pts)
        ax.plot(xs, ts, "o-", color="C0", label="ACTIVE_SET, certified")
        ax.plot(xs, floor, "--", color="0.5", label="one full pass (the floor)")
        for x, t, s in zip(xs, ts, st):
            if s != "optimal":
                ax.plot([x], [t], "x", color="C3", ms=10)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.minorticks_off()
        ax.set_xlabel(key)
        ax.set_ylabel("time (s)")
        ax.set_title(f"sweep of {key} (d = 50; red x: not certified)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", help=argparse.SUPPRESS)
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--png", metavar="PATH")
    parser.add_argument("--problems", nargs="*", default=["d50", "d50_dense", "d6", "mnist_wide"],
                        help="blocks with ACTIVE_SET and reference rows (default: d50 d50_dense d6 mnist_wide)")
    parser.add_argument("--references", nargs="*", default=["ADMM", "CLARABEL"],
                        help="engines run once per block beside ACTIVE_SET (default: ADMM CLARABEL)")
    parser.add_argument("--mnist", action="store_true", help="add the full MNIST block")
    parser.add_argument("--repeats", type=int, default=3, help="ACTIVE_SET repeats per block (medians reported)")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--mnist-time-limit", type=float, default=120.0)
    parser.add_argument("--sweep-m", type=int, nargs="*", default=[1000, 4000, 16000, 60000])
    parser.add_argument("--sweep-P", type=int, nargs="*", default=[25, 50, 100, 200, 400])
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads per row (default 1)")
    args = parser.parse_args(argv)
    if args.row:
        print(json.dumps(run_row(json.loads(args.row))))
        return 0
    rows = []
    for spec in plan(args):
        row = spawn(spec, args.threads)
        rows.append(row)
        print(json.dumps(row), flush=True)
    groups = {}
    for r in rows:
        if "time_s" in r:
            groups.setdefault((r["problem"], r["engine"], r.get("m"), r.get("P")), []).append(r)
    print(f"{'problem':<10} {'engine':<10} {'m':>6} {'d':>4} {'P':>4} {'n':>2} {'median_s':>9} {'gap_rel':>9} "
          f"{'status':<11} {'active':>6} {'mem_mb':>7} {'pass_s':>7}")
    for (problem, engine, m, P), rs in groups.items():
        med = statistics.median(r["time_s"] for r in rs)
        gap = statistics.median(r["gap_rel"] for r in rs if r["gap_rel"] is not None) if rs[0]["gap_rel"] \
            is not None else float("nan")
        print(f"{problem:<10} {engine:<10} {rs[0]['m']:>6} {rs[0]['d']:>4} {rs[0]['P']:>4} {len(rs):>2} {med:>9.2f} "
              f"{gap:>9.1e} {rs[0]['status']:<11} {rs[0]['active_groups']:>6} {rs[0]['peak_mem_mb']:>7.0f} "
              f"{rs[0]['full_pass_s']:>7.4f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    if args.png:
        plot(rows, args.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
