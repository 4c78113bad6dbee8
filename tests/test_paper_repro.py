"""paper_repro --quick: every table's outputs are well formed, with finite numbers; resume and failures."""

from __future__ import annotations

import json
import math

import pytest

from paper_repro.__main__ import main
from paper_repro.runner import read_rows, run_sweep
from paper_repro.specs import MODELS, RunSpec, models_for, run_specs

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def quick_all(tmp_path_factory):
    from paper_repro import runner

    runner._WARM.clear()  # as in a fresh process: other tests (e.g. the Dask sweep's local run) warm this one
    out = tmp_path_factory.mktemp("repro")
    assert main(["all", "--quick", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("table, metric", [("table1", "test_rmse"), ("table2", "test_rmse"),
                                           ("table3", "test_accuracy")])
def test_quick_table_outputs(quick_all, table, metric):
    folder = quick_all / table
    for ext in ("md", "csv", "json"):
        assert (folder / f"{table}.{ext}").stat().st_size > 0
    doc = json.loads((folder / f"{table}.json").read_text())
    assert {"packages", "cpu", "cpu_count", "date_utc"} <= set(doc["environment"])
    tasks = {"table1": ["smooth"], "table2": ["nonsmooth"], "table3": ["mnist", "fashion-mnist"]}[table]
    assert [(r["task"], r["model"]) for r in doc["rows"]] == [(t, m[0]) for t in tasks for m in models_for(t)]
    for row in doc["rows"]:
        assert row["n_failed"] == 0, row["errors"]
        assert row["train_time_s"] > 0 and math.isfinite(row["train_time_s"])
        assert isinstance(row["n_params"], int) and row["n_params"] > 0
        if metric == "test_rmse":
            assert math.isfinite(row["test_rmse_mean"]) and math.isfinite(row["test_rmse_std"])
            assert 0 < row["test_rmse_mean"] < 5
        else:
            assert 0.1 < row["test_accuracy"] <= 1.0  # better than chance (10 classes)
            assert 0 < row["train_cross_entropy"] < math.log(10) * 10 and math.isfinite(row["train_cross_entropy"])
    md = (folder / f"{table}.md").read_text()
    assert ("| train CE |" in md) == (metric == "test_accuracy")
    assert all(m[0] in md for t in tasks for m in models_for(t)) and "paper" in md
    # Quick outputs say so; the warm-up is reported beside the timing means, not inside them.
    assert doc["scale"] == "quick (not paper scale)" and doc["title"].endswith("quick (not paper scale)")
    assert md.splitlines()[0].endswith("quick (not paper scale)") and "| warm-up (s) |" in md
    runs = read_rows(folder / "runs.jsonl")
    for row in doc["rows"]:
        mine = [r for r in runs if r["task"] == row["task"] and r["model"] == row["model"]]
        assert row["train_time_s"] == pytest.approx(sum(r["train_time_s"] for r in mine) / len(mine))
        if metric == "test_accuracy":
            assert row["train_cross_entropy"] == pytest.approx(
                sum(r["train_cross_entropy"] for r in mine) / len(mine))
        warmups = [r["warmup_s"] for r in mine]
        assert sum(w > 0 for w in warmups) <= 1  # one process: at most its first run of a method warms up
        if table == "table1":  # `all` runs table1 first, in a fresh process
            assert row["warmup_s"] == max(warmups) > 0
        else:
            assert row["warmup_s"] == (max(warmups) or None)
    pngs = sorted(p.name for p in folder.glob("*.png"))
    expected = [f"loss_per_block_{t}.png" for t in tasks]
    if table != "table3":
        expected.append({"table1": "fig3_smooth.png", "table2": "fig4_nonsmooth.png"}[table])
    assert pngs == sorted(expected)


def test_resume_skips_finished_runs(quick_all, capsys):
    folder = quick_all / "table1"
    before = read_rows(folder / "runs.jsonl")
    rows = run_sweep(run_specs("table1", quick=True), folder, resume=True)
    assert "already done" in capsys.readouterr().err
    assert read_rows(folder / "runs.jsonl") == before
    assert sorted(r["key"] for r in rows) == sorted(r["key"] for r in before)


def test_failed_run_is_reported_and_others_kept(tmp_path, monkeypatch):
    import cvximplicit

    good = RunSpec("table1", "smooth", "FFN", "ffn", None, 0, 8, 2, epochs=20, n_train=60)
    bad = RunSpec("table1", "smooth", "Implicit (End-to-End)", "end_to_end", None, 0, 8, 2, epochs=20,
                  n_train=60)
    real = cvximplicit.run_experiment

    def flaky(data, **kwargs):
        if kwargs["method"] == "end_to_end":
            raise RuntimeError("injected failure")
        return real(data, **kwargs)

    monkeypatch.setattr(cvximplicit, "run_experiment", flaky)
    rows = {r["model"]: r for r in run_sweep([good, bad], tmp_path)}
    assert rows["FFN"]["error"] is None and math.isfinite(rows["FFN"]["test_rmse"])
    assert rows["Implicit (End-to-End)"]["error"] == "RuntimeError: injected failure"
    assert len(read_rows(tmp_path / "runs.jsonl")) == 2


def test_one_colour_per_model_in_every_figure():
    from paper_repro.figures import MODEL_COLORS

    assert list(MODEL_COLORS) == [label for label, _, _ in MODELS]
    assert len(set(MODEL_COLORS.values())) == len(MODELS)


def test_models_filter_selects_rows_and_rejects_a_pattern_matching_none():
    from paper_repro.__main__ import select_models
    from paper_repro.specs import CONVEX_CE
    from paper_repro.tables import _metric

    specs = run_specs("table3", quick=True)
    chosen = select_models(specs, ["ffn", "Cross-Entropy"])
    assert {s.model for s in chosen} == {"FFN", CONVEX_CE} and {s.task for s in chosen} == {"mnist", "fashion-mnist"}
    assert select_models(specs, None) == specs
    with pytest.raises(SystemExit, match="matches no model row"):
        select_models(specs, ["no such row"])
    assert CONVEX_CE not in {s.model for s in run_specs("table1", quick=True)}  # regression: squared rows only
    assert _metric({"task": "mnist", "n_failed": 0, "paper_metric": None})[1] == "not run"


def test_local_search_row_settings_on_the_image_tasks():
    """Table III's local-search row: full-batch Adam on standardised pixels (the ablation's choice); nothing else moves."""
    from paper_repro.specs import FULL_BATCH, LOCAL_SEARCH

    for quick in (False, True):
        for spec in run_specs("table3", quick=quick):
            if spec.model == LOCAL_SEARCH:
                assert spec.preprocess == "standardize"
                assert spec.options["block_solver_options"] == {"batch_size": FULL_BATCH}
                assert spec.epochs == (20 if quick else 200)
            else:
                assert spec.preprocess is None and "batch_size" not in spec.options.get("block_solver_options", {})
    for table in ("table1", "table2"):  # the regression tables keep their settings
        for spec in run_specs(table, quick=False):
            assert spec.preprocess is None and "batch_size" not in spec.options.get("block_solver_options", {})


def test_standardize_uses_the_training_inputs_statistics():
    import numpy as np

    from cvximplicit import Dataset
    from paper_repro.runner import PREPROCESS, standardize

    rng = np.random.default_rng(0)
    train, test = rng.uniform(0, 1, (50, 6)) ** 2, rng.uniform(0, 1, (20, 6))
    data = Dataset("toy", "classification", train, rng.integers(0, 3, 50), test, rng.integers(0, 3, 20), n_classes=3)
    out = standardize(data)
    mean, std = train.sum() / train.size, np.sqrt(((train - train.sum() / train.size) ** 2).sum() / train.size)
    np.testing.assert_allclose(out.inputs_train, (train - mean) / std, rtol=1e-12)
    np.testing.assert_allclose(out.inputs_test, (test - mean) / std, rtol=1e-12)  # the training set's scalars
    assert abs(out.inputs_train.mean()) < 1e-12 and out.inputs_train.std() == pytest.approx(1.0)
    assert out.info["preprocess"]["name"] == "standardize" and np.array_equal(out.targets_test, data.targets_test)
    assert PREPROCESS["standardize"] is standardize


def test_the_default_convex_row_runs_two_seeds_at_paper_scale():
    """Table III: the package's default (the cross-entropy row) on seeds 0 and 1; every other image row once."""
    from paper_repro.specs import CONVEX_CE

    for quick, ce_seeds in ((False, [0, 1]), (True, [0])):
        specs = run_specs("table3", quick=quick)
        for task in ("mnist", "fashion-mnist"):
            for label, _, _ in models_for(task):
                seeds = sorted(s.seed for s in specs if s.task == task and s.model == label)
                assert seeds == (ce_seeds if label == CONVEX_CE else [0]), (task, label)
