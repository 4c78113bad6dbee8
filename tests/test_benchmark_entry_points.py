"""Every benchmark entry point runs end to end on a tiny task, so none can rot again.

Each script of ``benchmarks/*.py`` and ``python -m paper_repro`` runs in its own process
(``sys.executable``, one BLAS thread) with its small-size flags, and must exit 0 and print or
write its result. The MNIST ablation also runs on scikit-learn's built-in digits, so it is
exercised when the MNIST files are absent; its MNIST run skips then (fails with
``CVXIMPLICIT_REQUIRE_DATA=1``, as the data tests do). About 45 s on 2 cores.
The benchopt benchmark (``benchmarks/benchopt_relu/``) has its own test.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"

#: The scripts this file runs; a new script in benchmarks/ must be added here (and run below). The adelie peer and
#: its child run in tests/test_adelie_peer.py (adelie needs its own environment: ADELIE_PYTHON).
COVERED = {"bench_auto_crossover.py", "bench_block_solvers.py", "bench_engines.py", "bench_first_order.py", "bench_tabular.py",
           "local_search_ablation.py", "mnist_ablation.py", "adelie_peer.py", "adelie_child.py"}


def run(*args, timeout=180):
    """Run ``python ARGS`` from the repository root with one BLAS thread; fail with its stderr unless rc is 0."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env=env, check=False)
    assert proc.returncode == 0, f"{args} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc


def test_every_benchmark_script_is_covered():
    assert {p.name for p in BENCHMARKS.glob("*.py")} == COVERED


def test_bench_auto_crossover_tiny(tmp_path):
    out = tmp_path / "crossover.json"
    proc = run(BENCHMARKS / "bench_auto_crossover.py", "--tiny", "--json", out)
    doc = json.loads(out.read_text())
    assert doc["summary"]["blocks"] == len(doc["rows"]) > 0 and doc["summary"]["scale"].startswith("tiny")
    assert doc["summary"]["uncertified"] == {"ACTIVE_SET": 0, "CLARABEL": 0}
    for row in doc["rows"]:
        assert row["nnz"] <= 2e5 and row["ACTIVE_SET"]["time_s"] > 0 and row["CLARABEL"]["time_s"] > 0
    assert '"median_ratio"' in proc.stdout


def test_bench_block_solvers_tiny(tmp_path):
    out = tmp_path / "block_solvers.json"
    proc = run(BENCHMARKS / "bench_block_solvers.py", "--tiny", "--repeats", "1", "--json", out)
    results = json.loads(out.read_text())
    assert len(results) == 4
    for res in results:
        assert "error" not in res, res
        assert res["time_s"] > 0 and math.isfinite(res["time_s"])
    assert results[0]["certificate"] == "global"
    assert proc.stdout.count("(tiny run: not the target's size)") == 4


def test_bench_engines_reference_sweep_and_plot(tmp_path):
    """The d6 row alone is ``tests/test_bench_engines.py``; here a reference engine, a sweep and the figure."""
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "engines.json", tmp_path / "engines.png"
    proc = run(BENCHMARKS / "bench_engines.py", "--problems", "exact_1d", "--repeats", "1", "--references",
               "CLARABEL", "--sweep-m", "500", "--sweep-P", "--time-limit", "60", "--json", out, "--png", png)
    rows = json.loads(out.read_text())
    assert [(r["problem"], r["engine"]) for r in rows] == [("exact_1d", "ACTIVE_SET"), ("exact_1d", "CLARABEL"),
                                                           ("sweep_m", "ACTIVE_SET")]
    for row in rows:
        assert row["status"] != "error" and row["time_s"] > 0, row
    assert png.stat().st_size > 0 and "median_s" in proc.stdout


def test_bench_first_order_tiny():
    proc = run(BENCHMARKS / "bench_first_order.py", "--tiny", "--small", "--mnist", "--repeats", "1")
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 2 and all(r["time_s"] > 0 and r["status"] for r in rows)
    assert rows[1]["m"] == 500 and rows[1]["d"] == 785 and rows[1]["q"] == 10
    assert proc.stdout.count("(tiny run: not the target's size)") == 2


def _ablation_row(proc) -> dict:
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0.0 <= row["test_accuracy"] <= 1.0 and math.isfinite(row["train_loss"]) and row["train_time_s"] >= 0
    return row


@pytest.mark.parametrize("random_init", [False, True], ids=["convex", "random-init"])
def test_mnist_ablation_on_builtin_digits(random_init):
    flags = ["--random-init"] if random_init else []
    proc = run(BENCHMARKS / "mnist_ablation.py", "--task", "digits", "--n", "4", "--L", "2", "--n-train", "300",
               *flags)
    row = _ablation_row(proc)
    assert row["task"] == "digits" and row["loss"] == "cross_entropy" and row["random_init"] is random_init
    assert row["test_accuracy"] > 0.2  # 10 classes: better than chance
    kinds = {kind for certificate in row["certificates"] for kind in certificate.split("/")}
    # The random twin solves no convex step: its blocks carry no ReLU certificate at all.
    if random_init:
        assert kinds == {"multinomial_logistic", "none"}
    else:
        assert "restricted" in kinds


def test_mnist_ablation_on_mnist_subset(mnist):
    proc = run(BENCHMARKS / "mnist_ablation.py", "--n", "4", "--L", "2", "--n-train", "500", "--random-init")
    row = _ablation_row(proc)
    assert row["task"] == "mnist" and row["n_train"] == 500 and row["test_accuracy"] > 0.2


def test_local_search_ablation_on_builtin_digits(tmp_path):
    """A Table III ablation row on the digits stand-in: factors named, the JSON line appended, held-out accuracy.

    The accuracy recorded after the last block (states propagated block by block by the script) must equal the
    trained model's own predictions: the per-block curve describes the model that was returned.
    """
    out = tmp_path / "rows.jsonl"
    proc = run(BENCHMARKS / "local_search_ablation.py", "--task", "digits", "--n", "4", "--L", "2", "--epochs", "3",
               "--holdout", "200", "--preprocess", "standardize", "--C-init", "zero", "--batch-size", "full",
               "--out", out)
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    assert json.loads(out.read_text().splitlines()[-1]) == row
    assert row["task"] == "digits" and row["model"] == "local_search" and (row["n"], row["L"]) == (4, 2)
    assert row["factor"] == "batch_size=full,preprocess=standardize,C_init=zero"
    assert row["n_train"] == 1347 - 200 and row["holdout"] == 200 and row["epochs"] == 3
    for split in ("test", "val"):
        assert len(row["per_block"][split]) == 2 and row["per_block"][split][-1] == row[f"{split}_accuracy"]
    assert 0.0 <= row["test_accuracy"] <= 1.0 and math.isfinite(row["train_loss"]) and row["train_time_s"] >= 0

    proc = run(BENCHMARKS / "local_search_ablation.py", "--task", "digits", "--model", "ffn", "--epochs", "30",
               "--out", out)
    ffn = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(out.read_text().splitlines()) == 2
    assert ffn["model"] == "ffn" and ffn["per_block"] is None and ffn["n"] is None and "C_init" not in ffn["settings"]
    assert ffn["test_accuracy"] > 0.2  # 10 classes: better than chance


def test_bench_tabular_tiny(tmp_path):
    out = tmp_path / "tabular.json"
    proc = run(BENCHMARKS / "bench_tabular.py", "--tiny", "--out", out)
    doc = json.loads(out.read_text())
    assert doc["errors"] == [] and doc["scale"].startswith("tiny")
    tasks = ["diabetes", "friedman1", "breast_cancer", "wine", "digits"]
    assert [(r["task"], r["method"]) for r in doc["rows"]] == \
        [(t, m) for t in tasks for m in ("convex", "local_search", "mlp", "hgb", "linear")]
    for row in doc["rows"]:
        assert row["fit_s"] >= 0
        if row["kind"] == "regression":
            assert math.isfinite(row["test_rmse"]) and math.isfinite(row["test_r2"])
        else:
            assert 0.0 <= row["test_accuracy"] <= 1.0
        if row["method"] == "convex":
            assert "restricted" in row["certificates"]  # certified convex steps (reduced programs)
            peers = [r for r in doc["rows"] if r["task"] == row["task"] and r["method"] in ("local_search", "mlp", "hgb")]
            key = "test_rmse" if row["kind"] == "regression" else "test_accuracy"
            best = (min if key == "test_rmse" else max)(peers, key=lambda r: r[key])
            assert row["best_peer"] == best["method"]
            assert row["meets_rule"] == (row[key] <= 1.05 * best[key] if key == "test_rmse"
                                         else row[key] >= best[key] - 0.01)
        elif row["method"] == "local_search":
            assert row["certificates"] == ["none"]
    assert "| task |" in proc.stdout and proc.stdout.count("| convex |") == len(tasks)


def test_paper_repro_quick_table1(tmp_path):
    proc = run("-m", "paper_repro", "table1", "--quick", "--out", tmp_path, timeout=300)
    doc = json.loads((tmp_path / "table1" / "table1.json").read_text())
    assert doc["scale"] == "quick (not paper scale)" and all(r["n_failed"] == 0 for r in doc["rows"])
    assert "| Implicit (Blockwise, Alternating, convex) |" in proc.stdout and "total wall time" in proc.stdout
