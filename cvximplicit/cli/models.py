"""``cvximplicit predict | inspect | compare``: saved models applied and described, and the solver comparison."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .._atomic import atomic_write, atomic_write_text
from .._npz import _READ_ERRORS
from ..exceptions import DataError, ValidationError
from ..model import ImplicitModel
from ..training.greedy import format_block_rows
from .train import _json_default


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
    except (*_READ_ERRORS, AttributeError) as exc:  # every way a damaged archive fails to read
        raise DataError(f"{path} is damaged or not a cvximplicit model ({type(exc).__name__}: {exc})") from exc
    if fmt == "cvximplicit.FFNModel":
        from ..baselines.ffn import FFNModel

        loader = FFNModel.load
    elif fmt == "cvximplicit.ImplicitModel":
        loader = ImplicitModel.load
    else:
        raise DataError(f"{path} is not a saved cvximplicit model (format={fmt!r}); a model is the .npz file "
                        "written by `cvximplicit train --out`")
    try:
        return loader(path)
    except (DataError, ValidationError):
        raise
    except _READ_ERRORS as exc:
        raise DataError(f"{path} is damaged ({type(exc).__name__}: {exc})") from exc


def _predict(args) -> int:
    from ..datasets import read_inputs

    model = _load_model(args.model)
    info = getattr(model, "info", {}) or {}
    names = info.get("feature_names")
    X, match = read_inputs(args.inputs, feature_names=names, return_match=True)
    if X.shape[1] != model.p:
        raise ValidationError(_width_error(args.inputs, X.shape, model.p, names, match))
    if match.startswith("by position:"):  # a CSV file without a header, or a model without feature names
        known = f", as the model's features {names}" if names else ""
        print(f"cvximplicit predict: columns taken {match}{known}", file=sys.stderr)
    Z = model.predict(X, layout="rows")  # (m, q), rows are samples
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


def _width_error(path, shape, p: int, names, match: str) -> str:
    """Why inputs of ``shape`` (columns taken ``match``) do not fit a model of ``p`` features: the columns named."""
    m, width = shape
    text = f"{path}: expected {p} feature{'s' if p != 1 else ''} per row (one sample per row), got {width}"
    if width < p:
        missing = names[width:] if names and len(names) == p else [f"feature {j + 1}" for j in range(width, p)]
        text += f"; missing: {missing} (columns are taken {match})"
    elif names and len(names) == p:
        text += f"; the model's features are {names}"
    if match.startswith("by position (an array") and m == p:
        text += f" (the array has {p} rows: if its samples are columns, transpose it)"
    return text


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
    from .. import compare

    for flag, value in (("--beta", args.beta), ("--beta-ratio", args.beta_ratio)):
        if value is not None and not 0 < value < float("inf"):
            raise ValidationError(f"{flag} must be a positive finite number; got {flag} {value:g}")
    problems = []
    for name in args.problems:
        if name in compare.PROBLEMS:
            problem = compare.make_problem(name, seed=args.seed)
        elif name.lower().endswith(".npz") or Path(name).is_file():
            problem = compare.load_problem(name, n_patterns=args.n_patterns, seed=args.seed)
        else:
            raise ValidationError(f"unknown problem {name!r}; use one of {list(compare.PROBLEMS)} or an .npz block "
                                  "file with arrays M and Y")
        problems.append(problem.with_beta(beta=args.beta, beta_ratio=args.beta_ratio))
    solvers = None if args.solvers is None else [s.strip() for s in args.solvers.split(",") if s.strip()]
    if solvers is not None:
        from ..solvers import check_solver

        solvers = [check_solver(s) for s in solvers]
    print(f"hard limit {args.time_limit:g} s per solver and problem; problems:", flush=True)
    for p in problems:
        print(f"  {p.name}: {p.shape}; {p.beta_text}", flush=True)
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

