"""One row of the MNIST ablation in docs/mnist-ablation.md: the convex blockwise model (n=32, L=16, full data).

    python benchmarks/mnist_ablation.py --loss cross_entropy --opts '{"polish": 0}'
    python benchmarks/mnist_ablation.py --random-init          # random neurons instead of the convex step

``--opts`` overrides options of the wide preset (``cvximplicit.presets.PRESETS["wide"]``). ``--random-init``
replaces the convex step by neurons drawn uniformly in ±1/√d (the same seed per block), to measure what the
convex step adds before the polish. Prints one JSON line: test accuracy, training time, training loss.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from cvximplicit.experiments import load_task, run_experiment
from cvximplicit.solvers.core.report import SolveReport
from cvximplicit.solvers.relu.budget import BlockFit
from cvximplicit.training import alternating


def _random_relu_step(self, step, M, target, X_prev, rows, problem, beta):
    """Stand-in for the convex step: ``n_i`` random neurons on the reduced features, no solve, no certificate."""
    rng = np.random.default_rng(problem.seed)
    d = step.M.shape[1]
    report = SolveReport(problem="random_init", solver="none", status="not_solved", objective=float("nan"),
                         certificate="none")
    return BlockFit(W1=rng.uniform(-1, 1, (problem.n_i, d)) / np.sqrt(d), W2=np.zeros((target.shape[0], problem.n_i)),
                    beta=0.0, objective=float("nan"), convex_bound=None, gap_abs=None, gap_rel=None, report=report,
                    reports=[], n_active=0, path=[])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="mnist", choices=("mnist", "fashion-mnist"))
    parser.add_argument("--loss", default="auto", choices=("auto", "squared", "cross_entropy"))
    parser.add_argument("--opts", type=json.loads, default={}, help="alternating-solver options over the wide preset")
    parser.add_argument("--random-init", action="store_true", help="random neurons instead of the convex step")
    args = parser.parse_args(argv)
    if args.random_init:
        alternating.AlternatingBlockSolver._relu_step = _random_relu_step
    result = run_experiment(load_task(args.task), method="greedy", block_solver="alternating", n=32, L=16, seed=0,
                            preset="wide", loss=args.loss, block_solver_options=args.opts, verbose=1)
    row = result.row
    print(json.dumps({"task": args.task, "loss": row["loss"], "opts": args.opts, "random_init": args.random_init,
                      "train_time_s": round(row["train_time_s"], 1), "test_accuracy": row["test_accuracy"],
                      "train_loss": row["train_loss"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
