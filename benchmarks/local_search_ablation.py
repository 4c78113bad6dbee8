"""One row of the local-search ablation beside Table III (paper_repro/README.md): the paper's blockwise local search
(Algorithm 1, each block by Adam; n = 32, L = 16) with one setting the paper leaves open changed.

    python benchmarks/local_search_ablation.py --task mnist --seed 0 --epochs 200                  # the current row
    python benchmarks/local_search_ablation.py --task fashion-mnist --batch-size full               # one factor changed
    python benchmarks/local_search_ablation.py --holdout 10000 --preprocess standardize --epochs 50 # a screening run
    python benchmarks/local_search_ablation.py --task digits --n 4 --L 2 --epochs 2                  # seconds, no download

The paper states n, L, 200 epochs, Adam at lr 0.001 and the softmax cross-entropy; it leaves open the factors below
(defaults: the settings ``python -m paper_repro table3`` used before this ablation):

``--batch-size``   mini-batch size, or ``full`` (one full-batch Adam step per epoch); default 256.
``--preprocess``   ``unit``: pixels / 255 in [0, 1] (the loaders' scaling); ``standardize``: minus the training pixels'
                   mean, over their standard deviation (one scalar each, as torchvision's ``Normalize((0.1307,),
                   (0.3081,))`` for MNIST); ``pixel``: each pixel standardised on its own (zero-variance pixels: 0).
``--init``         ``[A_row, B_row]`` start (the solver's ``init``): ``uniform`` or ``uniform_split``.
``--C-init``       how ``C`` starts in each block (the solver's ``C_init``): ``previous``, ``zero`` or ``uniform``.
``--freeze-C-prev``  train only the new output columns ``C_i`` (the solver's ``train_C_prev=False``).
``--loss``         the loss inside every block: ``cross_entropy`` (9) or ``squared`` (8) on one-hot labels.
``--dtype``        training precision.
``--no-input-bias``  no constant row appended to the inputs (``B`` without its bias column).

``--holdout K`` trains on the first 60 000 − K training images and reports the accuracy on the last K as
``val_accuracy`` (used to select settings) beside the test accuracy. Statistics of ``--preprocess`` come from the
images trained on. ``--task digits`` is scikit-learn's 8×8 digits (pixels / 16, stratified 75/25 split), a stand-in
that needs no download, for tests. ``--model ffn`` trains the paper's FFN (784-64-32-16-10) with the same data,
batch size, preprocessing, loss, epochs and precision instead. Prints one JSON line per run (with the accuracy after
every block in ``per_block``); ``--out FILE`` appends it to FILE too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import time

import numpy as np

from cvximplicit import LocalSearchBlockSolver, fit_ffn, load_task, partition, train_greedy
from cvximplicit.activations import get_activation
from cvximplicit.baselines.local_search import C_INITS, INITS
from cvximplicit.datasets import Dataset
from cvximplicit.training.block import block_loss

TASKS = ("mnist", "fashion-mnist", "digits")
PREPROCESS = ("unit", "standardize", "pixel")
#: The settings of ``python -m paper_repro table3``'s local-search row before this ablation.
BEFORE = {"batch_size": 256, "preprocess": "unit", "init": "uniform", "C_init": "previous", "train_C_prev": True,
          "loss": "cross_entropy", "dtype": "float64", "input_bias": True}


#: The paper's FFN for classification (784-64-32-16-10), for ``--model ffn``.
FFN_HIDDEN = (64, 32, 16)


class PerBlockAccuracy:
    """A block solver that runs ``solver`` and records the accuracy on held-out sets after every block.

    After block ``i`` the model is ``[X_1; …; X_i]`` with output ``C = [C_1 … C_i]``; the held-out states are
    propagated by (5) with the block's ``A_row``, ``B_row`` (input bias appended, as ``train_greedy`` does). The
    evaluation time is kept in ``eval_time_s`` and taken out of the reported training time.
    """

    name = "local_search"

    def __init__(self, solver, evals: dict, *, input_bias: bool = True):
        self.solver, self.eval_time_s = solver, 0.0
        self.inputs = {k: np.vstack([np.asarray(X, dtype=float).T, np.ones((int(input_bias), len(y)))])
                       for k, (X, y) in evals.items()}
        self.labels = {k: np.asarray(y) for k, (X, y) in evals.items()}
        self.states = {k: np.zeros((0, len(y))) for k, (X, y) in evals.items()}
        self.curves = {k: [] for k in evals}

    def solve(self, problem):
        result = self.solver.solve(problem)
        start = time.perf_counter()
        phi = get_activation(problem.activation)
        for k, U in self.inputs.items():
            X_new = phi(result.A_row @ self.states[k] + result.B_row @ U)
            self.states[k] = np.vstack([self.states[k], X_new])
            self.curves[k].append(float(np.mean(np.argmax(result.C @ self.states[k], axis=0) == self.labels[k])))
        self.eval_time_s += time.perf_counter() - start
        return result


def warm_up(model: str) -> None:
    """Train a tiny untimed copy first: a process's first Adam run pays torch's one-time setup (~1.5-4 s)."""
    rng = np.random.default_rng(0)
    U, Y = rng.standard_normal((3, 40)), np.eye(2)[rng.integers(0, 2, 40)].T
    if model == "ffn":
        fit_ffn(U, Y, hidden=(2,), loss="cross_entropy", epochs=2)
    else:
        train_greedy(U, Y, block_sizes=[1, 1], block_solver=LocalSearchBlockSolver(epochs=2), loss="cross_entropy",
                     verbose=0)


def load_digits_task() -> Dataset:
    """scikit-learn's 8×8 digits as a :class:`~cvximplicit.datasets.Dataset` (pixels / 16, 75/25 stratified split)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    return Dataset("digits", "classification", X_train, y_train.astype(np.int64), X_test, y_test.astype(np.int64),
                   n_classes=10, info={"source": "sklearn.datasets.load_digits", "scaling": "pixels / 16"})


def split_holdout(data: Dataset, holdout: int) -> tuple[Dataset, tuple]:
    """Train on all but the last ``holdout`` training samples; return them as ``(inputs, labels)``."""
    if not 0 < holdout < data.n_train:
        raise SystemExit(f"--holdout must be in [1, {data.n_train - 1}]; got {holdout}")
    keep = data.n_train - holdout
    val = (np.asarray(data.inputs_train[keep:]), np.asarray(data.targets_train[keep:]))
    train = dataclasses.replace(data, inputs_train=data.inputs_train[:keep], targets_train=data.targets_train[:keep],
                                info={**data.info, "holdout": holdout})
    return train, val


def preprocess(data: Dataset, val, how: str) -> tuple[Dataset, tuple]:
    """``data`` (and the validation inputs) scaled by ``how``; statistics from ``data``'s training inputs."""
    if how == "unit":
        return data, val
    X = np.asarray(data.inputs_train, dtype=float)
    if how == "standardize":
        mean, std = X.mean(), X.std()
    else:  # "pixel": each input on its own; a constant pixel maps to 0
        mean, std = X.mean(axis=0), X.std(axis=0)
        std = np.where(std > 0, std, 1.0)

    def scale(inputs):
        return (np.asarray(inputs, dtype=float) - mean) / std

    scaled = dataclasses.replace(data, inputs_train=scale(data.inputs_train), inputs_test=scale(data.inputs_test),
                                 info={**data.info, "preprocess": how})
    return scaled, (None if val is None else (scale(val[0]), val[1]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="mnist", choices=TASKS)
    parser.add_argument("--model", default="local_search", choices=("local_search", "ffn"),
                        help="the blockwise local search (default) or the paper's FFN 784-64-32-16-10 (same flags)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--epochs", type=int, default=200, help="epochs per block (default: the paper's 200)")
    parser.add_argument("--batch-size", default="256", help="mini-batch size, or 'full' (default 256)")
    parser.add_argument("--preprocess", default=BEFORE["preprocess"], choices=PREPROCESS)
    parser.add_argument("--init", default=BEFORE["init"], choices=INITS)
    parser.add_argument("--C-init", dest="C_init", default=BEFORE["C_init"], choices=C_INITS)
    parser.add_argument("--freeze-C-prev", action="store_true", help="train only C_i (train_C_prev=False)")
    parser.add_argument("--loss", default=BEFORE["loss"], choices=("cross_entropy", "squared"))
    parser.add_argument("--no-input-bias", action="store_true",
                        help="no constant input row (B has no bias column; train_greedy's input_bias=False)")
    parser.add_argument("--dtype", default=BEFORE["dtype"], choices=("float64", "float32"))
    parser.add_argument("--holdout", type=int, default=0,
                        help="validate on the last K training images, train on the rest (default 0: all)")
    parser.add_argument("--n", type=int, default=32, help="state size (default: the paper's 32)")
    parser.add_argument("--L", type=int, default=16, help="number of blocks (default: the paper's 16)")
    parser.add_argument("--n-train", type=int, default=None, help="first N training samples (small runs)")
    parser.add_argument("--factor", default="", help="a label for the row (the factor it changes)")
    parser.add_argument("--out", type=pathlib.Path, default=None, help="append the JSON line to this file")
    args = parser.parse_args(argv)

    full = args.batch_size == "full"
    if not full and not (args.batch_size.isdigit() and int(args.batch_size) >= 1):
        parser.error(f"--batch-size must be a positive integer or 'full'; got {args.batch_size!r}")
    data = load_digits_task() if args.task == "digits" else load_task(args.task)
    if args.n_train:
        data = dataclasses.replace(data, inputs_train=data.inputs_train[:args.n_train],
                                   targets_train=data.targets_train[:args.n_train])
    data, val = split_holdout(data, args.holdout) if args.holdout else (data, None)
    data, val = preprocess(data, val, args.preprocess)
    batch_size = data.n_train if full else int(args.batch_size)
    U, Y = np.asarray(data.inputs_train, dtype=float).T, np.eye(data.n_classes)[data.targets_train].T
    evals = {"test": (data.inputs_test, data.targets_test), **({"val": val} if val is not None else {})}
    warm_up(args.model)
    start = time.perf_counter()
    if args.model == "ffn":
        fitted = fit_ffn(U, Y, hidden=FFN_HIDDEN, loss=args.loss, epochs=args.epochs, batch_size=batch_size,
                         seed=args.seed, dtype=args.dtype)
        model, train_time, curves = fitted.model, fitted.train_time_s, None
    else:
        solver = PerBlockAccuracy(LocalSearchBlockSolver(
            epochs=args.epochs, batch_size=batch_size, init=args.init, C_init=args.C_init,
            train_C_prev=not args.freeze_C_prev, dtype=args.dtype), evals, input_bias=not args.no_input_bias)
        result = train_greedy(U, Y, block_sizes=partition(args.n, args.L), block_solver=solver, loss=args.loss,
                              input_bias=not args.no_input_bias, seed=args.seed, verbose=1)
        model, train_time, curves = result.model, result.train_time_s - solver.eval_time_s, solver.curves
    wall = time.perf_counter() - start
    accuracy = {name: float(np.mean(np.argmax(model.predict(np.asarray(X, dtype=float).T), axis=0) == np.asarray(y)))
                for name, (X, y) in evals.items()}
    settings = {"batch_size": "full" if full else int(args.batch_size), "preprocess": args.preprocess,
                "init": args.init, "C_init": args.C_init, "train_C_prev": not args.freeze_C_prev, "loss": args.loss,
                "dtype": args.dtype, "input_bias": not args.no_input_bias}
    if args.model == "ffn":  # the block options do not apply (every FFN layer has its bias)
        settings = {k: v for k, v in settings.items() if k not in ("init", "C_init", "train_C_prev", "input_bias")}
    changed = ",".join(f"{k}={v}" for k, v in settings.items() if v != BEFORE[k])
    record = {"model": args.model, "factor": args.factor or changed or "before", "task": args.task,
              "seed": args.seed, "epochs": args.epochs, "n": args.n if args.model == "local_search" else None,
              "L": args.L if args.model == "local_search" else None, "settings": settings,
              "n_train": data.n_train, "holdout": args.holdout, "val_accuracy": accuracy.get("val"),
              "test_accuracy": accuracy["test"], "train_loss": block_loss(Y, model.predict(U), args.loss),
              "train_accuracy": float(np.mean(np.argmax(model.predict(U), axis=0) == data.targets_train)),
              "train_time_s": round(train_time, 1), "wall_time_s": round(wall, 1),
              "per_block": curves}
    line = json.dumps(record)
    print(line, flush=True)
    if args.out is not None:
        with args.out.open("a") as fh:
            fh.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
