"""Command line: ``cvximplicit train | predict | inspect | compare``.

``cvximplicit train --task smooth`` trains on a built-in task (``--data FILE``:
your own ``.csv``/``.npz``) and prints the test error, training time and a
per-block certificate table; ``--json`` writes the same numbers, the solvers
that ran and the effective options for machines.  ``predict`` applies a saved
model to ``.npy``/``.npz``/``.csv`` inputs (rows are samples; a classifier
prints class labels); ``inspect`` prints a saved model's blocks, well-posedness
numbers and certificates; ``compare`` runs every solver of the convex block
program under a hard time limit (:mod:`cvximplicit.compare`).

Errors are one line on stderr (exit status 2), never a traceback; Ctrl-C
prints one line and, when checkpoints were written, the command that resumes.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect as _inspect
import json
import os
import shlex
import sys
import zipfile
from pathlib import Path

import numpy as np

from ._atomic import atomic_write, atomic_write_text
from ._version import __version__
from .exceptions import CvxImplicitError, DataError, ValidationError
from .experiments import METHODS, TASKS, load_task, run_experiment
from .presets import PRESET_NAMES, WIDE_MIN_FEATURES, resolve_preset
from .model import ImplicitModel
from .nonstrict import to_nonstrict
from .training.greedy import format_block_rows, format_block_table

#: Written next to the checkpoints by ``train --checkpoint-dir``: the flags of the run, for ``--resume``.
RUN_FLAGS_FILE = "cli_run.json"
#: Flags that change what is trained (a resumed run must repeat them); the others only change outputs.
TRAINING_FLAGS = ("task", "data", "target", "task_type", "test_size", "method", "block_solver", "n", "L", "T",
                  "solver", "solver_opts", "n_patterns", "max_rows", "epochs", "seed", "n_train")
_WIDE_FEATURES = WIDE_MIN_FEATURES  # more input features than this: n=32, L=16 by default (as for MNIST)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: …)`` after every option whose help does not already say its default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text.lower():
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cvximplicit", description="Train implicit deep models block by block "
                                     "with certified convex solves; predict, inspect, compare solvers.",
                                     formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"cvximplicit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model on a paper task or your own data and report test error",
                           formatter_class=_HelpFormatter)
    data = train.add_argument_group("data")
    data.add_argument("--task", choices=TASKS, default=None, help="built-in task (default: smooth, unless --data)")
    data.add_argument("--data", default=None, metavar="PATH",
                      help="your own data: .csv (header allowed; last column is the target unless --target) or "
                           ".npz with X, y and optionally X_test, y_test (default: none, a built-in --task)")
    data.add_argument("--target", default=None, metavar="NAME",
                      help="CSV target column (header name, or 0-based number without a header); default: last")
    data.add_argument("--task-type", choices=("auto", "regression", "classification"), default="auto",
                      help="auto: classification for integer/string labels, regression for real numbers "
                           "(scikit-learn's type_of_target); default: auto")
    data.add_argument("--test-size", type=float, default=0.2,
                      help="fraction held out as test set when the data file has none (seeded by --seed)")
    data.add_argument("--n-train", type=int, default=None, help="use only the first N training samples (default: all)")
    data.add_argument("--data-dir", default=None,
                      help="folder with the MNIST/Fashion-MNIST IDX files (default: $CVXIMPLICIT_MNIST_DIR / "
                           "$CVXIMPLICIT_FASHION_MNIST_DIR, else the standard locations)")
    model = train.add_argument_group("model and training")
    model.add_argument("--method", choices=METHODS, default="greedy",
                       help="greedy (Algorithm 1), end_to_end (implicit differentiation) or ffn")
    model.add_argument("--block-solver", default="alternating", help="alternating (convex) or local_search")
    model.add_argument("--n", type=int, default=None,
                       help="state size (default: 30; 32 for inputs with more than 100 features, e.g. MNIST)")
    model.add_argument("--L", type=int, default=None,
                       help="number of blocks (default: 10; 16 for inputs with more than 100 features)")
    model.add_argument("--T", type=int, default=1, help="alternations per block (Algorithm 2)")
    model.add_argument("--solver", default="auto", help="auto, CLARABEL, SCS, ECOS, MOSEK, FISTA, ...")
    model.add_argument("--solver-opts", type=json.loads, default=None, metavar="JSON",
                       help='options passed unchanged to the solver, e.g. \'{"max_iter": 200}\' (default: none)')
    model.add_argument("--preset", choices=PRESET_NAMES, default="auto",
                       help="convex-step preset of the alternating solver: narrow (100 rows, 30 patterns) or wide "
                            "(300 rows, 30 principal directions, 2 residual directions, sampled + guided patterns); "
                            "auto picks wide for more than 100 features or when the narrow convex step would be too "
                            "large for the conic solver")
    model.add_argument("--n-patterns", type=int, default=None,
                       help="sampled activation patterns per block (default: the preset's, 30 narrow / 20 wide)")
    model.add_argument("--max-rows", type=int, default=None,
                       help="samples used by the convex step; least squares uses all (default: the preset's, 100 "
                            "narrow / 300 wide; 0 = all)")
    model.add_argument("--epochs", type=int, default=None,
                       help="epochs for gradient-based methods (default: the method's own)")
    model.add_argument("--seed", type=int, default=0)
    out = train.add_argument_group("output and checkpoints")
    out.add_argument("--self-loop-eps", type=float, default=None, metavar="EPS",
                     help="save the equivalent non-strict ReLU model with self-loops 1 - EPS (Theorem 2; "
                          "default: off)")
    out.add_argument("--checkpoint-dir", default=None,
                     help="write a checkpoint after every block (default: none)")
    out.add_argument("--resume", action="store_true", help="continue from --checkpoint-dir")
    out.add_argument("--out", default=None, help="save the trained model here (.npz; default: not saved)")
    out.add_argument("--json", default=None,
                     help="write the results, solvers that ran and effective options here (default: none)")
    out.add_argument("--quiet", action="store_true", help="no per-block progress lines")

    predict = sub.add_parser("predict", help="apply a saved model to inputs (.npy, .npz or .csv; rows are samples)",
                             formatter_class=_HelpFormatter)
    predict.add_argument("model", help="a model saved by `cvximplicit train --out`")
    predict.add_argument("inputs", help=".npy (2-D, or 1-D for one feature), .npz (array X) or .csv; rows are "
                                        "samples")
    predict.add_argument("--proba", action="store_true",
                         help="classifiers: class probabilities (softmax of the outputs; not calibrated for the "
                              "squared loss) instead of labels")
    predict.add_argument("--out", default=None,
                         help="write the predictions here: .npy, else text/CSV (default: print them)")

    insp = sub.add_parser("inspect", help="print a saved model's blocks, well-posedness and certificates",
                          formatter_class=_HelpFormatter)
    insp.add_argument("model")

    comp = sub.add_parser("compare", help="compare the solvers of the convex block program (12) under a hard "
                                          "time limit", formatter_class=_HelpFormatter)
    comp.add_argument("problems", nargs="*", default=["exact-1d", "sampled-d50", "wide"], metavar="PROBLEM",
                      help="exact-1d, sampled-d50, wide, or an .npz block file with M, Y (optional patterns, "
                           "beta); default: exact-1d sampled-d50 wide")
    comp.add_argument("--solvers", default=None,
                      help="comma-separated solver names (default: the installed ones that accept second-order "
                           "cones, plus FISTA and ADMM)")
    comp.add_argument("--time-limit", type=float, default=10.0,
                      help="hard wall-clock limit per solver and problem, seconds (compilation included)")
    comp.add_argument("--beta", type=float, default=None, help="β for an .npz block (default: its beta, else 1)")
    comp.add_argument("--n-patterns", type=int, default=50, help="sampled patterns for an .npz block without them")
    comp.add_argument("--seed", type=int, default=0)
    comp.add_argument("--json", default=None, help="write the rows here (default: none)")
    comp.add_argument("--plot", default=None, metavar="PNG",
                      help="save a time vs certified-gap figure here (default: none)")
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    handlers = {"train": _train, "predict": _predict, "inspect": _inspect_model, "compare": _compare}
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        print(_interrupted(args, argv), file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output went away (e.g. `| head`): stop quietly
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 1
    except (CvxImplicitError, OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        print(f"cvximplicit {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, OSError) and not isinstance(exc, CvxImplicitError) and exc.filename:
        text = f"{exc.strerror or text}: {exc.filename}"
    return text


def _interrupted(args, argv) -> str:
    line = f"cvximplicit {args.command}: interrupted"
    if args.command != "train":
        return line
    from .training.checkpoint import CHECKPOINT_NAME

    ckpt = getattr(args, "checkpoint_dir", None)
    if ckpt and (Path(ckpt) / CHECKPOINT_NAME).is_file():
        again = argv if "--resume" in argv else argv + ["--resume"]
        return f"{line}; completed blocks are saved in {ckpt}; continue with: {shlex.join(['cvximplicit'] + again)}"
    if ckpt:
        return f"{line} before the first block finished; nothing to resume in {ckpt}"
    return f"{line}; no checkpoints were written (add --checkpoint-dir DIR to make a run resumable)"


# --------------------------------------------------------------------------- train
def _train(args) -> int:
    if args.data is not None and args.task is not None:
        raise ValidationError("give either --task (a built-in task) or --data (your own file), not both")
    if args.data is None and (args.target is not None or args.task_type != "auto"):
        raise ValidationError("--target and --task-type apply to --data files; built-in tasks fix their targets")
    data = _load_data(args)
    wide = data.n_features > _WIDE_FEATURES
    n = args.n if args.n is not None else (32 if wide else 30)
    L = args.L if args.L is not None else (16 if wide else 10)
    if args.checkpoint_dir:
        _check_or_record_run(args, data)
    options, preset = _effective_options(args, data)
    if data.info.get("task_reason") and not args.quiet:
        print(f"{data.name}: {data.info['task_reason']} ({data.n_train} training, {data.n_test} test samples, "
              f"{data.n_features} features; {data.info.get('split', '')})", file=sys.stderr)
    try:
        result = run_experiment(
            data, method=args.method, block_solver=args.block_solver, n=n, L=L, seed=args.seed,
            solver=args.solver, solver_opts=args.solver_opts, T=args.T,
            preset=args.preset, n_patterns="auto" if args.n_patterns is None else args.n_patterns,
            max_rows="auto" if args.max_rows is None else (args.max_rows or None),
            epochs=args.epochs, checkpoint_dir=args.checkpoint_dir, resume=args.resume,
            verbose=0 if args.quiet else 1,
        )
    except ValidationError as exc:
        if args.resume and "checkpoint" in str(exc):
            raise ValidationError(
                f"--resume: the checkpoint in {args.checkpoint_dir} does not match this run's data or options; "
                f"rerun with the flags it was written with, or drop --resume and use another --checkpoint-dir "
                f"(or delete {args.checkpoint_dir}) to start over"
            ) from exc
        raise
    row = result.row
    if result.blocks:
        print(format_block_table(result.blocks))
    label = f"{args.method}" + (f" ({args.block_solver})" if args.method == "greedy" else "")
    summary = (f"{data.name}: {label}, n={n}" + (f", L={L}" if args.method == "greedy" else "")
               + f": {_loss_line(data, row)}; training time {row['train_time_s']:.2f} s, "
               f"{row['n_params']} parameters")
    print(summary)
    solvers_used, reasons = _solvers_used(result.blocks)
    if row["blocks"]:
        kinds = sorted({b["certificate"] for b in row["blocks"]})
        gaps = [b["max_gap_rel"] for b in row["blocks"] if b["max_gap_rel"] is not None]
        worst = f"{max(gaps):.1e}" if gaps else "n/a"
        print(f"certificates: {', '.join(kinds)}; worst relative gap over all block solves {worst}; "
              f"solvers that ran: {', '.join(solvers_used) or 'n/a'}")
    if args.self_loop_eps is not None:
        if not isinstance(result.model, ImplicitModel) or args.method != "greedy":
            raise ValidationError("--self-loop-eps applies to the greedy method's strictly triangular model")
        result.model = to_nonstrict(result.model, eps=args.self_loop_eps)
        print(f"converted to the equivalent non-strict model with self-loops 1 - {args.self_loop_eps} (Theorem 2)")
    for block in row["blocks"]:
        record = next((b for b in result.blocks if b["block"] == block["block"]), None)
        if record is not None and "solvers" not in block:
            block["solvers"] = sorted({r.get("solver") for r in record["reports"] if r.get("solver")})
    row.update(
        summary=summary, task_type=data.task, data=_data_info(data, args), preset=preset, options=options,
        solvers_used=solvers_used, solver_reasons=reasons, cli_version=__version__,
    )
    if data.task == "classification":
        row["classes"] = _classes(data)
    if args.out:
        if hasattr(result.model, "info"):
            result.model.info = {
                "task": data.name, "task_type": data.task, "method": args.method, "block_solver": row["block_solver"],
                "blocks": row["blocks"], "train_time_s": row["train_time_s"], "loss": row.get("loss"),
                "feature_names": data.info.get("feature_names"), "target": data.info.get("target"),
                "n_features": data.n_features, "preset": preset, "options": options,
                **({"classes": _classes(data)} if data.task == "classification" else {}),
            }
        path = result.model.save(args.out)
        print(f"model saved to {path}")
    if args.json:
        atomic_write_text(args.json, json.dumps(row, indent=2, default=_json_default) + "\n")
        print(f"results written to {args.json}")
    return 0


def _load_data(args):
    if args.data is None:
        return load_task(args.task or "smooth", seed=args.seed, data_dir=args.data_dir, n_train=args.n_train)
    from .datasets import load_tabular

    data = load_tabular(args.data, target=args.target, task=args.task_type, test_size=args.test_size,
                        seed=args.seed)
    if args.n_train:
        import dataclasses

        data = dataclasses.replace(data, inputs_train=data.inputs_train[: args.n_train],
                                   targets_train=data.targets_train[: args.n_train],
                                   info={**data.info, "n_train_used": int(args.n_train)})
    return data


def _classes(data) -> list:
    return list(data.info.get("classes") or range(data.n_classes))


def _data_info(data, args) -> dict:
    keep = ("source", "format", "feature_names", "target", "split", "task_reason", "function", "noise",
            "n_train_used")
    return {"name": data.name, "n_train": data.n_train, "n_test": data.n_test, "n_features": data.n_features,
            **{k: data.info[k] for k in keep if k in data.info}}


def _loss_line(data, row) -> str:
    """Which loss is measured on which data (e.g. noisy training targets vs the true function)."""
    if data.task == "classification":
        kind = "squared loss on one-hot labels" if row.get("loss") == "squared" else "cross-entropy"
        return (f"train {kind} {row['train_loss']:.4g}; test accuracy {100 * row['test_accuracy']:.2f} % on "
                f"{data.n_test} samples")
    function = str(data.info.get("function", ""))
    if function.endswith(("f_smooth", "f_nonsmooth")):
        f = "f1" if function.endswith("f_smooth") else "f2"
        return (f"train MSE on noisy targets {row['train_loss']:.4g}; test RMSE vs {f} (noiseless) "
                f"{row['test_rmse']:.4g}")
    return f"train MSE {row['train_loss']:.4g}; test RMSE {row['test_rmse']:.4g} on {data.n_test} held-out samples"


def _solvers_used(blocks) -> tuple[list, list]:
    names, reasons = set(), []
    for b in blocks:
        for r in b.get("reports", []):
            if r.get("solver"):
                names.add(r["solver"])
            reason = r.get("solver_reason")
            if reason and reason not in reasons:
                reasons.append(reason)
    return sorted(names), reasons


def _effective_options(args, data) -> tuple[dict, str | None]:
    """The block solver's options as the run uses them, and the preset the ``auto`` values came from."""
    if args.method != "greedy":
        return ({"epochs": args.epochs} if args.epochs is not None else {}), None
    if args.block_solver != "alternating":
        return ({"epochs": args.epochs} if args.epochs is not None else {}), None
    from .training import AlternatingBlockSolver

    n_state = args.n if args.n is not None else (32 if data.n_features > _WIDE_FEATURES else 30)
    targets = np.asarray(data.targets_train)
    n_outputs = data.n_classes if data.task == "classification" else (1 if targets.ndim == 1 else targets.shape[1])
    chosen = resolve_preset(args.preset, n_features=data.n_features, n_outputs=n_outputs, n_state=n_state)
    preset, defaults = {"name": chosen.name, "reason": chosen.reason}, chosen.options
    given = {}
    if args.n_patterns is not None:
        given["n_patterns"] = args.n_patterns
    if args.max_rows is not None:
        given["max_rows"] = args.max_rows or None
    chosen = {**defaults, **given, "T": args.T, "solver": args.solver, "solver_opts": args.solver_opts}
    signature = _inspect.signature(AlternatingBlockSolver.__init__).parameters
    full = {k: p.default for k, p in signature.items() if p.default is not _inspect.Parameter.empty}
    return {**full, **chosen}, preset


def _json_default(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)


def _run_flags(args, data) -> dict:
    flags = {k: getattr(args, k) for k in TRAINING_FLAGS}
    if args.data is not None:
        flags["data_sha256"] = hashlib.sha256(Path(args.data).read_bytes()).hexdigest()
    return flags


def _flag(name: str, value) -> str:
    if name == "data_sha256":
        return "the data file's content"
    opt = "--" + name.replace("_", "-")
    if value is None:
        return f"{opt} (not given)"
    return f"{opt} {json.dumps(value) if isinstance(value, dict) else value}"


def _check_or_record_run(args, data) -> None:
    """Record the run's flags beside its checkpoints; on ``--resume``, name the flags that differ."""
    from .training.checkpoint import CHECKPOINT_NAME

    folder = Path(args.checkpoint_dir)
    record = folder / RUN_FLAGS_FILE
    flags = _run_flags(args, data)
    if args.resume and (folder / CHECKPOINT_NAME).is_file() and record.is_file():
        try:
            saved = json.loads(record.read_text())["flags"]
        except (OSError, ValueError, KeyError, TypeError):
            saved = None
        if isinstance(saved, dict):
            differ = [k for k in sorted(set(saved) | set(flags)) if saved.get(k) != flags.get(k)]
            if differ:
                then = ", ".join(_flag(k, saved.get(k)) for k in differ)
                now = ", ".join(_flag(k, flags.get(k)) for k in differ)
                raise ValidationError(
                    f"--resume: the checkpoint in {folder} was written with {then}; this run has {now}. Rerun with "
                    f"the checkpoint's flags to continue, or drop --resume and use another --checkpoint-dir (or "
                    f"delete {folder}) to start over"
                )
        return
    atomic_write_text(record, json.dumps({"flags": flags, "cvximplicit_version": __version__}, indent=2,
                                         default=_json_default) + "\n")


# --------------------------------------------------------------------------- predict / inspect
def _load_model(path):
    """An :class:`ImplicitModel` or ``FFNModel`` saved by ``train --out``; DataError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no model file at {path}")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\x93NUMPY"):
        raise DataError(f"{path} is a .npy array, not a saved model; a model is the .npz file written by "
                        "`cvximplicit train --out`")
    if not head.startswith(b"PK"):
        raise DataError(f"{path} is not a saved cvximplicit model (not an .npz archive); a model is the .npz file "
                        "written by `cvximplicit train --out`")
    try:
        with np.load(path, allow_pickle=False) as archive:
            fmt = json.loads(str(archive["meta"])).get("format") if "meta" in archive.files else None
    except (OSError, ValueError, EOFError, KeyError, AttributeError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path} is damaged or not a cvximplicit model ({type(exc).__name__}: {exc})") from exc
    if fmt == "cvximplicit.FFNModel":
        from .baselines.ffn import FFNModel

        loader = FFNModel.load
    elif fmt == "cvximplicit.ImplicitModel":
        loader = ImplicitModel.load
    else:
        raise DataError(f"{path} is not a saved cvximplicit model (format={fmt!r}); a model is the .npz file "
                        "written by `cvximplicit train --out`")
    try:
        return loader(path)
    except (zipfile.BadZipFile, EOFError, KeyError, TypeError) as exc:
        raise DataError(f"{path} is damaged ({type(exc).__name__}: {exc})") from exc


def _predict(args) -> int:
    from .datasets import read_inputs

    model = _load_model(args.model)
    info = getattr(model, "info", {}) or {}
    X = read_inputs(args.inputs, feature_names=info.get("feature_names"))
    if X.shape[1] != model.p:
        hint = ""
        if X.shape[0] == model.p:
            hint = f" (the file has {model.p} rows: if its samples are columns, transpose it)"
        raise ValidationError(f"{args.inputs}: expected {model.p} feature{'s' if model.p != 1 else ''} per row "
                              f"(one sample per row), got {X.shape[1]}{hint}")
    Z = np.asarray(model.predict(X.T)).T  # (m, q), rows are samples
    classes = info.get("classes") if info.get("task_type", "classification") == "classification" else None
    if classes is None and args.proba:
        raise ValidationError("--proba applies to classifiers; this model was trained for regression")
    header = None
    if classes is not None:
        if len(classes) != Z.shape[1]:
            raise DataError(f"{args.model}: the model has {Z.shape[1]} outputs but lists {len(classes)} classes")
        if args.proba:
            E = np.exp(Z - Z.max(axis=1, keepdims=True))
            result = E / E.sum(axis=1, keepdims=True)
            header = [str(c) for c in classes]
        else:
            result = np.asarray(classes)[np.argmax(Z, axis=1)]
    else:
        result = Z
    if args.out:
        _write_predictions(Path(args.out), result, header)
        print(f"{result.shape[0]} predictions written to {args.out}")
    else:
        _print_predictions(result, header)
    return 0


def _write_predictions(path: Path, result: np.ndarray, header) -> None:
    if path.suffix.lower() == ".npy":
        atomic_write(path, lambda fh: np.save(fh, result, allow_pickle=False))
        return
    lines = [",".join(header)] if header else []
    for row in np.atleast_2d(result.reshape(result.shape[0], -1)):
        lines.append(",".join(str(v) if result.dtype.kind in "USO" else f"{v:.8g}" for v in row))
    atomic_write_text(path, "\n".join(lines) + "\n")


def _print_predictions(result: np.ndarray, header) -> None:
    if header:
        print("# " + " ".join(header))
    if result.dtype.kind in "USO" or result.dtype.kind in "biu":
        print("\n".join(str(v) for v in result), flush=True)
    else:
        np.savetxt(sys.stdout, result.reshape(result.shape[0], -1), fmt="%.8g")


def _inspect_model(args) -> int:
    model = _load_model(args.model)
    if not isinstance(model, ImplicitModel):
        print(f"{type(model).__name__}: layers {[W.shape for W in model.weights]}, parameters {model.n_params}")
        return 0
    wp = model.wellposedness()
    print(repr(model))
    print(f"blocks: {model.block_sizes} (computation order [X_1; …; X_L])")
    print(f"parameters: {model.n_params}")
    print(f"well-posedness: λ_PF(|A|) = {wp.pf_eigenvalue:.4g}, ‖A‖∞ = {wp.inf_norm:.4g}, "
          f"well-posed: {wp.well_posed} — {wp.reason}")
    if model.info.get("classes") is not None:
        print(f"classifier: classes {model.info['classes']}")
    blocks = model.info.get("blocks") or []
    if blocks:
        print(f"trained by: {model.info.get('method')} ({model.info.get('block_solver')}) on "
              f"{model.info.get('task')}, {model.info.get('train_time_s', float('nan')):.2f} s")
        print(format_block_rows(blocks))
    return 0


# --------------------------------------------------------------------------- compare
def _compare(args) -> int:
    from . import compare

    problems = []
    for name in args.problems:
        if name in compare.PROBLEMS:
            problems.append(compare.make_problem(name, seed=args.seed))
        elif name.lower().endswith(".npz") or Path(name).is_file():
            problems.append(compare.load_problem(name, beta=args.beta, n_patterns=args.n_patterns, seed=args.seed))
        else:
            raise ValidationError(f"unknown problem {name!r}; use one of {list(compare.PROBLEMS)} or an .npz block "
                                  "file with arrays M and Y")
    solvers = None if args.solvers is None else [s.strip() for s in args.solvers.split(",") if s.strip()]
    if solvers is not None:
        from .solvers import check_solver

        solvers = [check_solver(s) for s in solvers]
    print(f"hard limit {args.time_limit:g} s per solver and problem; problems: "
          + "; ".join(f"{p.name} ({p.shape})" for p in problems), flush=True)
    print(compare.TABLE_HEADER)
    print("-" * len(compare.TABLE_HEADER), flush=True)
    rows = []
    for problem in problems:
        rows += compare.compare_solvers(problem, solvers, args.time_limit,
                                        progress=lambda r: print(compare.format_row(r), flush=True))
    print(compare.summarize(rows))
    if args.json:
        atomic_write_text(args.json, json.dumps(rows, indent=2, default=_json_default) + "\n")
        print(f"rows written to {args.json}")
    if args.plot:
        path = compare.plot_comparison(rows, args.plot)
        print(f"figure written to {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
