"""One row of the MNIST ablation in docs/mnist-ablation.md: the convex blockwise model (n=32, L=16, full data).

    python benchmarks/mnist_ablation.py --loss cross_entropy --opts '{"polish": 0}'
    python benchmarks/mnist_ablation.py --random-init          # random neurons instead of the convex step
    python benchmarks/mnist_ablation.py --finetune null        # the greedy model, without the fine-tune
    python benchmarks/mnist_ablation.py --task digits --n 4 --L 2 --n-train 300   # a few seconds, no download

``--opts`` overrides options of the wide preset (``cvximplicit.presets.PRESETS["wide"]``), ``--finetune`` those
of its fine-tune after the greedy pass (``cvximplicit.presets.FINETUNE_PRESETS["large"]`` on MNIST-size data;
``null`` turns it off).
``--random-init`` passes ``neurons="random"`` to the alternating block solver: its random-neuron twin, which draws
each block's neurons (uniform in ``±1/√d`` on the reduced features, seeded per block) instead of solving the
convex step and leaves everything else (output step, polish, fine-tune) as it is, to measure what the convex step
adds.

``--task digits`` is scikit-learn's built-in 8×8 digits (1797 images, pixels scaled to [0, 1], a fixed stratified
75/25 split, seed 0): an MNIST-like stand-in that needs no download and runs the same code (classification, the
wide preset, the cross-entropy). ``--n``, ``--L`` and ``--n-train`` (the first N training samples) make a small
run; the defaults are the ablation's. Prints one JSON line: test accuracy, training time, training loss.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from cvximplicit.datasets import Dataset
from cvximplicit.experiments import load_task, run_experiment

TASKS = ("mnist", "fashion-mnist", "digits")


def load_digits_task(n_train: int | None = None) -> Dataset:
    """scikit-learn's 8×8 digits as a :class:`~cvximplicit.datasets.Dataset` (pixels / 16, 75/25 stratified split)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    if n_train:
        X_train, y_train = X_train[:n_train], y_train[:n_train]
    return Dataset("digits", "classification", X_train, y_train.astype(np.int64), X_test, y_test.astype(np.int64),
                   n_classes=10, info={"source": "sklearn.datasets.load_digits", "scaling": "pixels / 16",
                                       "split": "stratified 75/25, random_state=0", "n_train_used": n_train})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="mnist", choices=TASKS,
                        help="mnist, fashion-mnist, or digits (scikit-learn's, built in; default: mnist)")
    parser.add_argument("--loss", default="auto", choices=("auto", "squared", "cross_entropy"))
    parser.add_argument("--opts", type=json.loads, default={}, help="alternating-solver options over the wide preset")
    parser.add_argument("--finetune", type=json.loads, default={},
                        help="fine-tune options over the wide preset's (JSON; null: no fine-tune)")
    parser.add_argument("--random-init", action="store_true",
                        help="random neurons instead of the convex step (the block solver's neurons='random')")
    parser.add_argument("--n", type=int, default=32, help="state size (default: 32, the ablation's)")
    parser.add_argument("--L", type=int, default=16, help="number of blocks (default: 16, the ablation's)")
    parser.add_argument("--n-train", type=int, default=None, help="use the first N training samples (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="the training seed (default: 0, the ablation's)")
    args = parser.parse_args(argv)
    options = {**args.opts, **({"neurons": "random"} if args.random_init else {})}
    data = load_digits_task(args.n_train) if args.task == "digits" else load_task(args.task, n_train=args.n_train)
    result = run_experiment(data, method="greedy", block_solver="alternating", n=args.n, L=args.L, seed=args.seed,
                            preset="wide", loss=args.loss, block_solver_options=options, verbose=1,
                            finetune=args.finetune)
    row = result.row
    tuned = row.get("finetune") or {}
    print(json.dumps({"task": args.task, "loss": row["loss"], "opts": args.opts, "finetune": args.finetune,
                      "random_init": args.random_init,
                      "n": args.n, "L": args.L, "seed": args.seed, "n_train": row["n_train"],
                      "train_time_s": round(row["train_time_s"], 1), "test_accuracy": row["test_accuracy"],
                      "train_loss": row["train_loss"], "greedy_train_loss": tuned.get("loss_before"),
                      "finetune_epochs": tuned.get("epochs"), "finetune_time_s": tuned.get("time_s"),
                      "certificates": sorted({b["certificate"] for b in row["blocks"]})}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
