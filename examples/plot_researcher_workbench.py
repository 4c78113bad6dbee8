"""
The researcher's workbench: certified paths, the gated-ReLU bound, and a benchopt benchmark
===========================================================================================

Three tools for studying the Ergen–Pilanci program (12) of one block (rows of ``M`` are samples,
``D_k`` the activation patterns):

1. :func:`~cvximplicit.solvers.solve_convex_relu_path` — a regularization path, every point certified by
   its own dual bound (or reported ``"none"``), each solve warm-started from the previous one;
2. :func:`~cvximplicit.solvers.solve_gated_relu` — the gated-ReLU relaxation (a group lasso), whose
   certified bound is a lower bound of program (12) on the same patterns and whose cone decomposition is a
   feasible point of program (12) (an upper bound);
3. the benchopt benchmark in ``benchmarks/benchopt_relu`` — every solver of program (12) as a curve of
   objective against time, with the certified gap of each point.

::

    python examples/plot_researcher_workbench.py
"""

# %%
# A block: Friedman #1 targets on 5 uniform inputs plus a bias column, 30 sampled patterns.
import os
import subprocess
import sys
import tempfile
import warnings
from importlib.util import find_spec
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from cvximplicit.solvers import beta_max, sample_patterns, solve_convex_relu_path, solve_gated_relu

rng = np.random.default_rng(0)
m = 300
X = rng.random((m, 5))
y = 10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2 + 10 * X[:, 3] + 5 * X[:, 4]
y = y - y.mean() + rng.standard_normal(m)
M = np.c_[X, np.ones(m)]
patterns = sample_patterns(M, 30, seed=0)
betas = np.geomspace(0.5, 0.01, 8) * beta_max(M, y, patterns)  # from β_max on, the zero network is optimal

# %%
# A certified path
# ----------------
# Eight values of β from 0.5 β_max down to 0.01 β_max. Every point carries its own report: objective,
# certified bound, relative gap, active groups and the certificate kind (``"restricted"``: optimal for the
# program on these sampled patterns).
path = solve_convex_relu_path(M, y, betas, patterns=patterns, solver="auto")
for rec in path.to_records():
    print(f"β = {rec['beta']:8.3f}  objective {rec['objective']:10.4f}  gap_rel {rec['gap_rel']:9.2e}  "
          f"active {rec['n_active']:3d}  {rec['certificate']}  ({rec['solver']})")
path.plot()
plt.show()

# %%
# The gated-ReLU bound
# --------------------
# At each β the gated program's certified bound lies below program (12)'s optimum, and the cone
# decomposition of its solution is a feasible point of program (12), above the optimum: a bracket computed
# without solving program (12). How tight it is depends on the block.
lower, upper = [], []
for beta in betas:
    gated = solve_gated_relu(M, y, beta=beta, patterns=patterns)
    lower.append(gated.report.extra["lower_bound_for_program_12"])
    upper.append(gated.report.extra["program_12_objective"])
fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
ax.plot(betas, path.objectives, "o-", label="program (12), certified")
ax.plot(betas, lower, "v--", label="gated-ReLU bound (lower)")
ax.plot(betas, upper, "^:", label="cone decomposition (feasible, upper)")
ax.set(xscale="log", yscale="log", xlabel="β", ylabel="objective")
ax.legend()
plt.show()

# %%
# The benchopt benchmark
# ----------------------
# ``benchopt run benchmarks/benchopt_relu -d exact-1d -n 5 -r 1 --no-plot`` runs every solver of program (12)
# on block 1 of the smooth task (all arrangements of ``M = [u, 1]``). Each row of the results is one point
# of a curve: the objective recomputed in float64, the certified gap (NaN where the solve earned no
# certificate) and the constraint violation. Below, the distance of each point to the best certified
# objective, against time; filled markers are certified points.
try:
    examples_dir = Path(__file__).resolve().parent
except NameError:  # sphinx-gallery runs the script from the examples folder, without __file__
    examples_dir = Path.cwd()
benchmark = examples_dir.parent / "benchmarks" / "benchopt_relu"
if find_spec("benchopt") is None or not benchmark.is_dir():
    print("benchopt (the [bench] extra) or the benchmark folder is missing: pip install -e '.[bench]'")
else:
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.parquet"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(benchmark.parents[1]),
                                                                         os.environ.get("PYTHONPATH")])))
        subprocess.run([sys.executable, "-m", "benchopt", "run", str(benchmark), "-d", "exact-1d", "-n", "5",
                        "-r", "1", "--no-plot", "--no-cache", "--output", str(out)],
                       check=True, env=env, capture_output=True, text=True)
        results = pd.read_parquet(out)
    best = results.loc[results["objective_certified"] == 1.0, "objective_value"].min()
    fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    for name, rows in results.groupby("solver_name"):
        rows = rows[rows["time"] > 0].sort_values("time")
        distance = np.maximum(np.abs(rows["objective_value"] - best) / best, 1e-12)
        line, = ax.plot(rows["time"], distance, "-", label=name)
        done = rows["objective_certified"] == 1.0
        ax.plot(rows["time"][done], distance[done], "o", color=line.get_color())
        ax.plot(rows["time"][~done], distance[~done], "o", color=line.get_color(), fillstyle="none")
    ax.set(xscale="log", yscale="log", xlabel="time (s)", ylabel="|objective − best certified| / best")
    ax.legend(fontsize="small")
    plt.show()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = results.groupby("solver_name").agg(points=("time", "size"), last_time_s=("time", "max"),
                                                   certified=("objective_certified", "sum"))
    print(table)
