"""Run a sweep of RunSpecs through joblib, appending each result as it completes.

Results go to ``<out>/runs.jsonl``, one JSON object per finished run (successful
or failed, with its error).

Warm-up: the first run of a method in a process pays one-time costs (importing
and initialising torch, the first cvxpy/Clarabel solve): measured on 2 shared
cores, the quick local-search row took 3.4 s the first time and 0.2 s after.
So before its first timed run of a ``(method, block solver)`` pair, each process
trains a tiny untimed version of it (:func:`warm_up`); the row records that
warm-up time as ``warmup_s`` (0 when the process was already warm) and the tables
report it beside the timing means, which exclude it.  Warm-ups are seeded and
change no result.  ``resume=True`` skips runs whose key is already
there with no error.  Any joblib backend works: wrap the call in
``joblib.parallel_config(backend="dask")`` (or ``"ray"``) to run on a cluster.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import traceback
from pathlib import Path

import joblib
import numpy as np
from joblib import Parallel, delayed

import cvximplicit as ci

from .specs import RunSpec


def standardize(data: ci.Dataset) -> ci.Dataset:
    """Inputs minus the training inputs' mean, over their standard deviation: one scalar each, from the training set.

    For MNIST that is ``(x − 0.1307) / 0.3081`` on pixels in [0, 1] (torchvision's usual ``Normalize``).
    """
    X = np.asarray(data.inputs_train, dtype=float)
    mean, std = float(X.mean()), float(X.std())
    return dataclasses.replace(
        data, inputs_train=(X - mean) / std, inputs_test=(np.asarray(data.inputs_test, dtype=float) - mean) / std,
        info={**data.info, "preprocess": {"name": "standardize", "mean": mean, "std": std}})


#: Input preprocessing a RunSpec may name (``RunSpec.preprocess``; ``None``: the loader's inputs as they are).
PREPROCESS = {"standardize": standardize}

#: ``(method, block solver)`` pairs already warmed up in this process.
_WARM: set = set()
#: Size of the untimed warm-up run: samples of the smooth task, states, blocks, epochs.
WARMUP = {"n_train": 40, "n": 4, "L": 2, "epochs": 2}


def warm_up(spec: RunSpec) -> float:
    """Train a tiny untimed version of ``spec``'s method, once per process; return its wall time (0 if warm)."""
    key = (spec.method, spec.block_solver)
    if key in _WARM:
        return 0.0
    start = time.perf_counter()
    data = ci.load_task("smooth", seed=0, n_train=WARMUP["n_train"])
    ci.run_experiment(
        data, method=spec.method, block_solver=spec.block_solver or "alternating", n=WARMUP["n"], L=WARMUP["L"],
        seed=0, epochs=None if spec.epochs is None else WARMUP["epochs"], verbose=0, **spec.options,
    )
    _WARM.add(key)
    return time.perf_counter() - start


def run_one(spec: RunSpec) -> dict:
    """Train one model row on one task/seed after :func:`warm_up`; never raises (errors become a row)."""
    start = time.perf_counter()
    try:
        warmup_s = warm_up(spec)
        data = ci.load_task(spec.task, seed=spec.seed, n_train=spec.n_train)
        if spec.preprocess is not None:
            data = PREPROCESS[spec.preprocess](data)
        result = ci.run_experiment(
            data, method=spec.method, block_solver=spec.block_solver or "alternating", n=spec.n, L=spec.L,
            seed=spec.seed, epochs=spec.epochs, verbose=0, **spec.options,
        )
        row = {**result.row, "model": spec.model, "key": spec.key, "table": spec.table, "epochs": spec.epochs,
               "preprocess": spec.preprocess, "options": spec.options, "warmup_s": warmup_s, "error": None}
        if data.task == "regression":
            # Predictions on the test grid, for Figures 3–4.
            pred = result.model.predict(np.asarray(data.inputs_test, dtype=float), layout="rows").T
            row["test_inputs"] = np.asarray(data.inputs_test, dtype=float)[:, 0].tolist()
            row["test_predictions"] = np.asarray(pred)[0].tolist()
        return row
    except Exception as exc:  # a failed run is reported, not fatal for the sweep
        return {"key": spec.key, "table": spec.table, "task": spec.task, "model": spec.model, "seed": spec.seed,
                "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(),
                "wall_time_s": time.perf_counter() - start}


def completed_keys(path: Path) -> set[str]:
    """Keys of the successful runs already in ``runs.jsonl``."""
    if not path.exists():
        return set()
    return {row["key"] for row in read_rows(path) if not row.get("error")}


def read_rows(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash mid-write: that run will be redone
    return rows


def run_sweep(specs: list[RunSpec], out_dir: Path, *, n_jobs: int = 1, resume: bool = False) -> list[dict]:
    """Run ``specs`` (skipping finished ones when ``resume``); return all rows of ``runs.jsonl``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "runs.jsonl"
    if not resume and path.exists():
        path.unlink()
    done = completed_keys(path) if resume else set()
    todo = [s for s in specs if s.key not in done]
    if done:
        print(f"resume: {len(specs) - len(todo)} of {len(specs)} runs already done", file=sys.stderr)
    start = time.perf_counter()
    # Ray's joblib backend cannot return a generator: there the rows are written when all runs are done.
    lazy = getattr(joblib.parallel.get_active_backend()[0], "supports_return_generator", False)
    results = Parallel(n_jobs=n_jobs, return_as="generator_unordered" if lazy else "list")(
        delayed(run_one)(s) for s in todo)
    for count, row in enumerate(results, 1):
        with path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        status = f"FAILED: {row['error']}" if row.get("error") else _summary(row)
        print(f"[{count}/{len(todo)}] {time.perf_counter() - start:7.1f}s  {row['key']}  {status}",
              file=sys.stderr, flush=True)
    keys = {s.key for s in specs}
    latest = {}
    for row in read_rows(path):
        if row["key"] in keys:
            latest[row["key"]] = row  # the last attempt of each run wins
    return list(latest.values())


def _summary(row: dict) -> str:
    metric = f"acc={row['test_accuracy']:.4f}" if "test_accuracy" in row else f"rmse={row['test_rmse']:.4f}"
    return f"{metric} time={row['train_time_s']:.2f}s"
