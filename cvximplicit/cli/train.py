"""``cvximplicit train``: built-in tasks or your own data, the summary, JSON, checkpoints and ``--resume``."""

from __future__ import annotations

import hashlib
import inspect as _inspect
import json
import sys
from pathlib import Path

import numpy as np

from .._atomic import atomic_write_text
from .._version import __version__
from ..exceptions import ValidationError
from ..experiments import load_task, run_experiment
from ..model import ImplicitModel
from ..nonstrict import to_nonstrict
from ..presets import WIDE_MIN_FEATURES, resolve_finetune, resolve_preset
from ..training.finetune_stage import describe_finetune
from ..training.greedy import format_block_table

#: Written next to the checkpoints by ``train --checkpoint-dir``: the flags of the run, for ``--resume``.
RUN_FLAGS_FILE = "cli_run.json"
#: Flags that change what is trained (a resumed run must repeat them); the others only change outputs.
TRAINING_FLAGS = ("task", "data", "target", "task_type", "test_size", "method", "block_solver", "n", "L", "T",
                  "solver", "solver_opts", "n_patterns", "max_rows", "epochs", "seed", "n_train", "finetune_epochs")
_WIDE_FEATURES = WIDE_MIN_FEATURES  # more input features than this: n=32, L=16 by default (as for MNIST)


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
            preset=args.preset, loss=args.loss, n_patterns="auto" if args.n_patterns is None else args.n_patterns,
            max_rows="auto" if args.max_rows is None else (args.max_rows or None),
            epochs=args.epochs, checkpoint_dir=args.checkpoint_dir, resume=args.resume,
            block_solver_options=_block_options(args), verbose=0 if args.quiet else 1,
            finetune=_finetune_option(args),
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
    if result.blocks and not args.quiet:
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
    if row.get("finetune"):
        print(describe_finetune(row["finetune"]))
    if args.self_loop_eps is not None:
        if not isinstance(result.model, ImplicitModel) or args.method != "greedy":
            raise ValidationError("--self-loop-eps applies to the greedy method's strictly triangular model")
        result.model = to_nonstrict(result.model, eps=args.self_loop_eps)
        print(f"converted to the equivalent non-strict model with self-loops 1 - {args.self_loop_eps} (Theorem 2)")
    for block in row["blocks"]:
        record = next((b for b in result.blocks if b.block == block["block"]), None)
        if record is not None and "solvers" not in block:
            block["solvers"] = sorted({r.solver for r in record.reports if r.solver})
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
                "feature_names": _feature_names(data), "target": data.info.get("target"),
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
    from ..datasets import load_tabular

    data = load_tabular(args.data, target=args.target, task=args.task_type, test_size=args.test_size,
                        seed=args.seed)
    if args.n_train:
        import dataclasses

        data = dataclasses.replace(data, inputs_train=data.inputs_train[: args.n_train],
                                   targets_train=data.targets_train[: args.n_train],
                                   info={**data.info, "n_train_used": int(args.n_train)})
    return data


def _feature_names(data) -> list | None:
    """The training features' names when the file named them (a CSV header), else None: ``predict`` then takes
    the columns of a CSV file by name, else by position."""
    return data.info.get("feature_names") if data.info.get("header") else None


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
        return (f"train RMSE on noisy targets {row['train_rmse']:.4g}; test RMSE vs {f} (noiseless) "
                f"{row['test_rmse']:.4g}")
    return (f"train RMSE {row['train_rmse']:.4g}; test RMSE {row['test_rmse']:.4g} on {data.n_test} held-out "
            "samples")


def _solvers_used(blocks) -> tuple[list, list]:
    names, reasons = set(), []
    for b in blocks:
        for r in b.reports:
            if r.solver:
                names.add(r.solver)
            reason = r.solver_reason
            if reason and reason not in reasons:
                reasons.append(reason)
    return sorted(names), reasons


def _finetune_option(args):
    """``--finetune-epochs``: the preset's fine-tune (``"auto"``), its epochs changed, or none (0)."""
    return "auto" if args.finetune_epochs is None else {"epochs": args.finetune_epochs}


def _block_options(args) -> dict | None:
    """Options given on the command line that go to the alternating solver itself (``--polish``)."""
    if args.polish is None or args.method != "greedy" or args.block_solver != "alternating":
        return None
    return {"polish": args.polish}


def _effective_options(args, data) -> tuple[dict, str | None]:
    """The block solver's options as the run uses them, and the preset the ``auto`` values came from."""
    if args.method != "greedy":
        return ({"epochs": args.epochs} if args.epochs is not None else {}), None
    if args.block_solver != "alternating":
        return ({"epochs": args.epochs} if args.epochs is not None else {}), None
    from ..training import AlternatingBlockSolver

    n_state = args.n if args.n is not None else (32 if data.n_features > _WIDE_FEATURES else 30)
    targets = np.asarray(data.targets_train)
    n_outputs = data.n_classes if data.task == "classification" else (1 if targets.ndim == 1 else targets.shape[1])
    chosen = resolve_preset(args.preset, n_features=data.n_features, n_outputs=n_outputs, n_state=n_state,
                            n_samples=data.n_train)
    preset, defaults = {"name": chosen.name, "reason": chosen.reason}, chosen.options
    given = {}
    if args.n_patterns is not None:
        given["n_patterns"] = args.n_patterns
    if args.max_rows is not None:
        given["max_rows"] = args.max_rows or None
    given.update(_block_options(args) or {})
    chosen_options = {**defaults, **given, "T": args.T, "solver": args.solver, "solver_opts": args.solver_opts}
    signature = _inspect.signature(AlternatingBlockSolver.__init__).parameters
    full = {k: p.default for k, p in signature.items() if p.default is not _inspect.Parameter.empty}
    preset["finetune"] = resolve_finetune(_finetune_option(args), chosen.finetune)
    return {**full, **chosen_options}, preset


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
    from ..training.checkpoint import CHECKPOINT_NAME

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


