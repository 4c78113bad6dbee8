"""Small tabular tasks: the estimators with their defaults (convex block solver) against what a user would pick.

Tasks (scikit-learn's built-in data, nothing downloaded; ``d ≤ 100``, ``m ≤ 2000``):

- ``diabetes`` — regression, 442 × 10 (``load_diabetes``);
- ``friedman1`` — regression, 1000 × 10, Friedman #1 with unit noise (``make_friedman1``, seed 0);
- ``breast_cancer`` — 2 classes, 569 × 30 (``load_breast_cancer``);
- ``wine`` — 3 classes, 178 × 13 (``load_wine``);
- ``digits`` — 10 classes, 1797 × 64, 8×8 images (``load_digits``).

Each task has one fixed split (25 % test, ``random_state=--split-seed``, default 0, stratified for classes). Features are
standardised with the training mean and deviation, and so are regression targets (predictions are mapped back,
so RMSE is in the target's units); both methods get the same data. Methods:

- ``convex``: ``ImplicitRegressor()`` / ``ImplicitClassifier()`` with every default (n=30, L=10, the
  alternating block solver with its ``"auto"`` preset, ``loss="auto"``);
- ``local_search``: the same with ``block_solver="local_search"`` (Adam per block, its default epochs);
- ``mlp``: scikit-learn's ``MLPRegressor(hidden_layer_sizes=(25, 25, 25, 25), learning_rate_init=0.01,
  max_iter=2000)`` (the paper's regression FFN) / ``MLPClassifier(hidden_layer_sizes=(64, 32, 16), max_iter=500)``
  (its classification FFN), ``random_state=0``;
- ``hgb``: scikit-learn's ``HistGradientBoostingRegressor`` / ``HistGradientBoostingClassifier``
  (``random_state=0``, defaults otherwise);
- ``linear`` (reference): scikit-learn's ``RidgeCV`` / ``LogisticRegression`` on the same data.

Fit time is the wall time of ``fit`` (prediction excluded); each number is the median of ``--repeats`` runs
(every run is seeded, so the scores repeat; the times vary). Prints a table and, with ``--out``, writes JSON with
every run, the settings and the environment. ``--tiny`` runs the same code in a few seconds (every task cut to 120
training and 60 test rows, n=4, L=2, 5 local-search epochs, one repeat): a smoke test, not a measurement.

    python benchmarks/bench_tabular.py --repeats 3 --out tabular.json
    python benchmarks/bench_tabular.py --tiny --out /tmp/tabular_tiny.json
    python benchmarks/bench_tabular.py --tasks diabetes wine --methods convex local_search
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
import warnings

import numpy as np

TASKS = ("diabetes", "friedman1", "breast_cancer", "wine", "digits")
METHODS = ("convex", "local_search", "mlp", "hgb", "linear")
#: What the convex default is compared with (the acceptance rule: RMSE ≤ 1.05 × the best of these, or
#: accuracy ≥ the best − 1 point).
PEERS = ("local_search", "mlp", "hgb")
#: ``--tiny``: rows kept per split, model size and local-search epochs (a smoke test of the same code).
TINY = {"n_train": 120, "n_test": 60, "n": 4, "L": 2, "epochs": 5}


def load(task: str, split_seed: int = 0):
    """``(X_train, X_test, y_train, y_test, kind)`` for ``task``: one fixed split, rows are samples."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    if task == "friedman1":
        X, y = datasets.make_friedman1(n_samples=1000, n_features=10, noise=1.0, random_state=0)
    else:
        loader = {"diabetes": datasets.load_diabetes, "breast_cancer": datasets.load_breast_cancer,
                  "wine": datasets.load_wine, "digits": datasets.load_digits}[task]
        X, y = loader(return_X_y=True)
    kind = "regression" if task in ("diabetes", "friedman1") else "classification"
    split = train_test_split(X, y, test_size=0.25, random_state=split_seed,
                             stratify=y if kind == "classification" else None)
    return (*split, kind)


def _standardise(train, test):
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (train - mean) / std, (test - mean) / std, mean, std


def make_estimator(method: str, kind: str, tiny: bool):
    """The estimator of ``method`` for a ``kind`` task (defaults; ``tiny`` shrinks the implicit models)."""
    if method == "linear":
        from sklearn.linear_model import LogisticRegression, RidgeCV

        return RidgeCV() if kind == "regression" else LogisticRegression(max_iter=1000)
    if method == "mlp":
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        if kind == "regression":
            return MLPRegressor(hidden_layer_sizes=(25, 25, 25, 25), learning_rate_init=0.01,
                                max_iter=50 if tiny else 2000, random_state=0)
        return MLPClassifier(hidden_layer_sizes=(64, 32, 16), max_iter=50 if tiny else 500, random_state=0)
    if method == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = HistGradientBoostingRegressor if kind == "regression" else HistGradientBoostingClassifier
        return cls(random_state=0, max_iter=10 if tiny else 100)
    from cvximplicit import ImplicitClassifier, ImplicitRegressor

    cls = ImplicitRegressor if kind == "regression" else ImplicitClassifier
    kwargs = {"n": TINY["n"], "L": TINY["L"]} if tiny else {}
    if method == "local_search":
        kwargs["block_solver"] = "local_search"
        if tiny:
            kwargs["block_solver_options"] = {"epochs": TINY["epochs"]}
    return cls(**kwargs)


def run_once(task: str, method: str, data, tiny: bool) -> dict:
    """Fit ``method`` on ``task``'s split once; its fit time, test scores and (implicit models) certificates."""
    X_train, X_test, y_train, y_test, kind = data
    X_train, X_test, _, _ = _standardise(X_train, X_test)
    estimator = make_estimator(method, kind, tiny)
    if kind == "regression":
        y_mean, y_std = y_train.mean(), y_train.std()
        target = (y_train - y_mean) / y_std
    else:
        target = y_train
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # uncertified solves are reported in the row's certificates, not warned
        start = time.perf_counter()
        estimator.fit(X_train, target)
        fit_s = time.perf_counter() - start
        pred = estimator.predict(X_test)
    row = {"task": task, "kind": kind, "method": method, "fit_s": fit_s}
    if kind == "regression":
        pred = pred * y_std + y_mean
        residual = pred - y_test
        row["test_rmse"] = float(np.sqrt(np.mean(residual**2)))
        row["test_r2"] = float(1.0 - np.sum(residual**2) / np.sum((y_test - y_test.mean()) ** 2))
    else:
        row["test_accuracy"] = float(np.mean(pred == y_test))
    if method in ("convex", "local_search"):
        from cvximplicit.training.greedy import block_summary

        kinds = sorted({kind for b in estimator.blocks_ for kind in block_summary(b)["certificate"].split("/")})
        row.update(certificates=kinds, preset=(estimator.preset_ or {}).get("name"), n_params=estimator.model_.n_params)
    return row


def summarise(runs: list) -> list:
    """One row per (task, method): medians over the repeats."""
    out = []
    for key in dict.fromkeys((r["task"], r["method"]) for r in runs):
        mine = [r for r in runs if (r["task"], r["method"]) == key]
        row = {k: v for k, v in mine[0].items() if not isinstance(v, float)}
        for k in ("fit_s", "test_rmse", "test_r2", "test_accuracy"):
            if k in mine[0]:
                row[k] = statistics.median(r[k] for r in mine)
        row["repeats"] = len(mine)
        out.append(row)
    for row in out:
        if row["method"] == "convex":
            row.update(_against_peers(row, [r for r in out if r["task"] == row["task"] and r["method"] in PEERS]))
    return out


def _against_peers(row: dict, peers: list) -> dict:
    """The best peer of a convex row and whether the row meets the rule (RMSE ≤ 1.05 × best, accuracy ≥ best − 1)."""
    if not peers:
        return {}
    if "test_rmse" in row:
        best = min(peers, key=lambda r: r["test_rmse"])
        return {"best_peer": best["method"], "meets_rule": row["test_rmse"] <= 1.05 * best["test_rmse"]}
    best = max(peers, key=lambda r: r["test_accuracy"])
    return {"best_peer": best["method"], "meets_rule": row["test_accuracy"] >= best["test_accuracy"] - 0.01}


def format_table(rows: list, sizes: dict) -> str:
    header = ("| task | m train / test | d | method | fit time (s) | test RMSE | test R² | test accuracy | "
              "certificates | vs best peer |")
    lines = [header, "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for r in rows:
        m_train, m_test, d, classes = sizes[r["task"]]
        task = r["task"] + (f" ({classes} classes)" if classes else "")
        rmse = f"{r['test_rmse']:.4g}" if "test_rmse" in r else ""
        r2 = f"{r['test_r2']:.3f}" if "test_r2" in r else ""
        acc = f"{100 * r['test_accuracy']:.2f} %" if "test_accuracy" in r else ""
        certs = ", ".join(r.get("certificates") or []) or "—"
        verdict = "" if "best_peer" not in r else f"{'meets' if r['meets_rule'] else 'misses'} ({r['best_peer']})"
        lines.append(f"| {task} | {m_train} / {m_test} | {d} | {r['method']} | {r['fit_s']:.2f} | {rmse} | {r2} | "
                     f"{acc} | {certs} | {verdict} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS), help="default: all")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS), help="default: all")
    parser.add_argument("--repeats", type=int, default=3, help="runs per (task, method); medians reported")
    parser.add_argument("--split-seed", type=int, default=0, help="random_state of the train/test split (default: 0)")
    parser.add_argument("--tiny", action="store_true",
                        help="120/60 rows per task, n=4, L=2, 5 local-search epochs, 1 repeat: a smoke test")
    parser.add_argument("--out", metavar="PATH", help="write the rows, every run and the settings as JSON")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    repeats = 1 if args.tiny else args.repeats

    from cvximplicit._environment import environment

    runs, sizes, errors = [], {}, []
    for task in args.tasks:
        data = load(task, args.split_seed)
        if args.tiny:
            X_train, X_test, y_train, y_test, kind = data
            data = (X_train[: TINY["n_train"]], X_test[: TINY["n_test"]], y_train[: TINY["n_train"]],
                    y_test[: TINY["n_test"]], kind)
        classes = len(np.unique(data[2])) if data[4] == "classification" else None
        sizes[task] = (data[0].shape[0], data[1].shape[0], data[0].shape[1], classes)
        for method in args.methods:
            for repeat in range(repeats):
                try:
                    row = run_once(task, method, data, args.tiny)
                except Exception as exc:  # one failing method must not hide the others' numbers
                    errors.append(f"{task}/{method}: {type(exc).__name__}: {exc}")
                    print(f"error: {errors[-1]}", file=sys.stderr)
                    break
                row["repeat"] = repeat
                runs.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    rows = summarise(runs)
    print(format_table(rows, sizes))
    if args.out:
        doc = {"command": "python benchmarks/bench_tabular.py " + shlex.join(sys.argv[1:] if argv is None else argv),
               "scale": "tiny (smoke test, not a measurement)" if args.tiny else "full", "repeats": repeats,
               "split_seed": args.split_seed,
               "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
               "sizes": {t: dict(zip(("m_train", "m_test", "d", "classes"), s)) for t, s in sizes.items()},
               "rows": rows, "runs": runs, "errors": errors, "environment": environment()}
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
        print(f"wrote {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
