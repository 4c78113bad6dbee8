"""Command line: ``cvximplicit train | predict | inspect``.

``cvximplicit train --task smooth`` trains on built-in data and prints test
RMSE, training time and a per-block certificate table; ``--json`` writes the
same numbers for machines.  ``predict`` applies a saved model to an ``.npy``
file (rows are samples); ``inspect`` prints a saved model's blocks,
well-posedness numbers and certificates.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ._atomic import atomic_write, atomic_write_text
from .exceptions import CvxImplicitError, ValidationError
from .experiments import METHODS, TASKS, load_task, run_experiment
from .model import ImplicitModel
from .nonstrict import to_nonstrict
from .training.greedy import format_block_table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cvximplicit", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model on a paper task and report test error")
    train.add_argument("--task", choices=TASKS, default="smooth")
    train.add_argument("--method", choices=METHODS, default="greedy",
                       help="greedy (Algorithm 1), end_to_end (implicit differentiation) or ffn")
    train.add_argument("--block-solver", default="alternating", help="alternating (convex) or local_search")
    train.add_argument("--n", type=int, default=None, help="state size (default 30; 32 for MNIST tasks)")
    train.add_argument("--L", type=int, default=None, help="number of blocks (default 10; 16 for MNIST tasks)")
    train.add_argument("--T", type=int, default=1, help="alternations per block (Algorithm 2)")
    train.add_argument("--solver", default="auto", help="auto, CLARABEL, SCS, ECOS, MOSEK, FISTA, ...")
    train.add_argument("--solver-opts", type=json.loads, default=None, metavar="JSON",
                       help='options passed unchanged to the solver, e.g. \'{"max_iter": 200}\'')
    train.add_argument("--n-patterns", type=int, default=None,
                       help="sampled activation patterns per block (default: auto, 30; 20 for image tasks)")
    train.add_argument("--max-rows", type=int, default=None,
                       help="samples used by the convex step; least squares uses all (default: auto, 100; 300 for "
                            "image tasks; 0 = all)")
    train.add_argument("--epochs", type=int, default=None, help="epochs for gradient-based methods")
    train.add_argument("--self-loop-eps", type=float, default=None, metavar="EPS",
                       help="save the equivalent non-strict ReLU model with self-loops 1 - EPS (Theorem 2)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--n-train", type=int, default=None, help="use only this many training samples")
    train.add_argument("--data-dir", default=None, help="folder with the MNIST/Fashion-MNIST IDX files")
    train.add_argument("--checkpoint-dir", default=None, help="write a checkpoint after every block")
    train.add_argument("--resume", action="store_true", help="continue from --checkpoint-dir")
    train.add_argument("--out", default=None, help="save the trained model here (.npz)")
    train.add_argument("--json", default=None, help="write the results here (JSON)")
    train.add_argument("--quiet", action="store_true", help="no per-block progress lines")

    predict = sub.add_parser("predict", help="apply a saved model to inputs (.npy, rows are samples)")
    predict.add_argument("model")
    predict.add_argument("inputs")
    predict.add_argument("--out", default=None, help="write predictions (.npy, rows are samples)")

    inspect = sub.add_parser("inspect", help="print a saved model's blocks, well-posedness and certificates")
    inspect.add_argument("model")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"train": _train, "predict": _predict, "inspect": _inspect}[args.command](args)
    except (CvxImplicitError, OSError) as exc:
        print(f"cvximplicit {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _train(args) -> int:
    image_task = args.task in ("mnist", "fashion-mnist")
    n = args.n if args.n is not None else (32 if image_task else 30)
    L = args.L if args.L is not None else (16 if image_task else 10)
    data = load_task(args.task, seed=args.seed, data_dir=args.data_dir, n_train=args.n_train)
    result = run_experiment(
        data, method=args.method, block_solver=args.block_solver, n=n, L=L, seed=args.seed, solver=args.solver,
        solver_opts=args.solver_opts, T=args.T, n_patterns="auto" if args.n_patterns is None else args.n_patterns,
        max_rows="auto" if args.max_rows is None else (args.max_rows or None),
        epochs=args.epochs,
        checkpoint_dir=args.checkpoint_dir, resume=args.resume, verbose=0 if args.quiet else 1,
    )
    row = result.row
    if result.blocks:
        print(format_block_table(result.blocks))
    metric = ("test accuracy", f"{100 * row['test_accuracy']:.2f} %") if "test_accuracy" in row \
        else ("test RMSE", f"{row['test_rmse']:.4f}")
    label = f"{args.method}" + (f" ({args.block_solver})" if args.method == "greedy" else "")
    print(f"{args.task}: {label}, n={n}" + (f", L={L}" if args.method == "greedy" else "")
          + f": {metric[0]} {metric[1]}, train loss {row['train_loss']:.4g}, "
          f"training time {row['train_time_s']:.2f} s, {row['n_params']} parameters")
    if row["blocks"]:
        kinds = sorted({b["certificate"] for b in row["blocks"]})
        gaps = [b["max_gap_rel"] for b in row["blocks"] if b["max_gap_rel"] is not None]
        worst = f"{max(gaps):.1e}" if gaps else "n/a"
        print(f"certificates: {', '.join(kinds)}; worst relative gap over all block solves {worst}")
    if args.self_loop_eps is not None:
        if not isinstance(result.model, ImplicitModel) or args.method != "greedy":
            raise ValidationError("--self-loop-eps applies to the greedy method's strictly triangular model")
        result.model = to_nonstrict(result.model, eps=args.self_loop_eps)
        print(f"converted to the equivalent non-strict model with self-loops 1 - {args.self_loop_eps} (Theorem 2)")
    if args.out:
        if isinstance(result.model, ImplicitModel):
            result.model.info = {"task": args.task, "method": args.method, "block_solver": row["block_solver"],
                                 "blocks": row["blocks"], "train_time_s": row["train_time_s"]}
        path = result.model.save(args.out)
        print(f"model saved to {path}")
    if args.json:
        atomic_write_text(args.json, json.dumps(row, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


def _predict(args) -> int:
    model = ImplicitModel.load(args.model)
    inputs = np.load(args.inputs, allow_pickle=False)
    if inputs.ndim == 1:
        inputs = inputs[:, None]
    pred = model.predict(inputs.T).T
    if args.out:
        atomic_write(args.out, lambda fh: np.save(fh, pred))
        print(f"{pred.shape[0]} predictions written to {args.out}")
    else:
        np.savetxt(sys.stdout, pred, fmt="%.8g")
    return 0


def _inspect(args) -> int:
    model = ImplicitModel.load(args.model)
    wp = model.wellposedness()
    print(repr(model))
    print(f"blocks: {model.block_sizes} (computation order [X_1; …; X_L])")
    print(f"parameters: {model.n_params}")
    print(f"well-posedness: λ_PF(|A|) = {wp.pf_eigenvalue:.4g}, ‖A‖∞ = {wp.inf_norm:.4g}, "
          f"well-posed: {wp.well_posed} — {wp.reason}")
    blocks = model.info.get("blocks") or []
    if blocks:
        print(f"trained by: {model.info.get('method')} ({model.info.get('block_solver')}) on "
              f"{model.info.get('task')}, {model.info.get('train_time_s', float('nan')):.2f} s")
        print(f"{'block':>5} {'n_i':>4} {'train loss':>12} {'certificate':>20} {'max gap_rel':>11}")
        for b in blocks:
            gap = "n/a" if b.get("max_gap_rel") is None else f"{b['max_gap_rel']:.1e}"
            print(f"{b['block']:>5} {b['n_i']:>4} {b['train_loss']:>12.6g} {b['certificate']:>20} {gap:>11}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
