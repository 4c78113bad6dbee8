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
import inspect
import json
import os
import shlex
import sys
import zipfile
from pathlib import Path

from .._version import __version__
from ..exceptions import CvxImplicitError
from ..experiments import METHODS, TASKS
from ..presets import FINETUNE_PRESETS, PRESET_NAMES, PRESETS, SMALL_DATA, WIDE_MIN_FEATURES
from ..solvers import DEFAULT_N_PATTERNS
from .models import _compare, _inspect_model, _predict
from .train import RUN_FLAGS_FILE, TRAINING_FLAGS, _train

__all__ = ["build_parser", "main", "RUN_FLAGS_FILE", "TRAINING_FLAGS"]


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: …)`` after every option whose help does not already say its default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text.lower():
            return text
        return super()._get_help_string(action)


def _presets_text() -> str:
    """Every preset with its options, as :data:`~cvximplicit.presets.PRESETS` holds them (never retyped)."""
    return "; ".join(f"{name} ({', '.join(f'{k}={v}' for k, v in options.items())})"
                     for name, options in PRESETS.items())


def _per_preset(option: str) -> str:
    """``30 narrow / 20 wide``: one option of every preset (the block solver's default where a preset sets none)."""
    from ..training import AlternatingBlockSolver

    default = inspect.signature(AlternatingBlockSolver.__init__).parameters[option].default
    return " / ".join(f"{'all' if (v := options.get(option, default)) is None else v} {name}"
                      for name, options in PRESETS.items())


def _per_finetune(option: str) -> str:
    """``100 small / 60 large``: one option of the fine-tune for small and for large data."""
    return " / ".join(f"{options.get(option)} {name}" for name, options in FINETUNE_PRESETS.items())


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
                       help=f"convex-step preset of the alternating solver (cvximplicit.presets.PRESETS): "
                            f"{_presets_text()}; auto picks wide for more than {WIDE_MIN_FEATURES} features or when "
                            "the narrow convex step would be too large for the conic solver")
    model.add_argument("--loss", choices=("auto", "squared", "cross_entropy"), default="auto",
                       help="training loss: auto takes cross_entropy for classification (the alternating solver's "
                            "output step is then multinomial logistic regression) and squared for regression")
    model.add_argument("--polish", type=int, default=None, metavar="ITERS",
                       help="alternating solver: L-BFGS iterations of the polish step on every sample after each "
                            f"convex step (default: the preset's, {_per_preset('polish')}; 0 = off; never "
                            "certified)")
    model.add_argument("--finetune-epochs", type=int, default=None, metavar="EPOCHS",
                       help="alternating solver: epochs of the joint fine-tune of every block after the greedy pass "
                            "(AdamW with weight decay; a local step, never certified; default: "
                            f"{_per_finetune('epochs')} data, more than {SMALL_DATA} samples being large; 0 = off)")
    model.add_argument("--n-patterns", type=int, default=None,
                       help="sampled activation patterns per block (default: the preset's, "
                            f"{_per_preset('n_patterns')}; fewer than a single solve's {DEFAULT_N_PATTERNS}, as "
                            "Algorithm 2 poses several convex programs per block)")
    model.add_argument("--max-rows", type=int, default=None,
                       help="samples used by the convex step; least squares uses all (default: the preset's, "
                            f"{_per_preset('max_rows')}; 0 = all)")
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
    out.add_argument("--quiet", action="store_true",
                     help="print only the summary lines: no task-type note, per-block progress or block table")

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
                           "cones, plus our engines ACTIVE_SET (what solver='auto' runs), FISTA and ADMM)")
    comp.add_argument("--time-limit", type=float, default=10.0,
                      help="hard wall-clock limit per solver and problem, seconds (compilation included)")
    beta = comp.add_mutually_exclusive_group()
    beta.add_argument("--beta", type=float, default=None,
                      help="β of every problem (default: the problem's own: 1 for the named ones, an .npz block's "
                           "beta or 1); the header shows it as a fraction of β_max")
    beta.add_argument("--beta-ratio", type=float, default=None, metavar="R",
                      help="β = R · β_max for every problem, where β_max = max over patterns k and outputs c of "
                           "‖Mᵀ D_k Y_c‖ (from β_max on the zero network is optimal), e.g. 0.1 (default: --beta)")
    comp.add_argument("--n-patterns", type=int, default=DEFAULT_N_PATTERNS,
                      help="sampled patterns for an .npz block without them (duplicates removed; the header says how "
                           "many remain)")
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
    from ..training.checkpoint import CHECKPOINT_NAME

    ckpt = getattr(args, "checkpoint_dir", None)
    if ckpt and (Path(ckpt) / CHECKPOINT_NAME).is_file():
        again = argv if "--resume" in argv else argv + ["--resume"]
        return f"{line}; completed blocks are saved in {ckpt}; continue with: {shlex.join(['cvximplicit'] + again)}"
    if ckpt:
        return f"{line} before the first block finished; nothing to resume in {ckpt}"
    return f"{line}; no checkpoints were written (add --checkpoint-dir DIR to make a run resumable)"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
