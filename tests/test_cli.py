"""The command line: train (with JSON), predict, inspect, self-loop conversion and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cvximplicit import ImplicitModel
from cvximplicit.cli import main

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")
    rc = main(["train", "--task", "smooth", "--n", "6", "--L", "2", "--n-train", "80", "--quiet",
               "--out", str(out / "model.npz"), "--json", str(out / "report.json")])
    assert rc == 0
    return out


def test_train_writes_model_and_json(trained, capsys):
    report = json.loads((trained / "report.json").read_text())
    for key in ("task", "block_solver", "n", "L", "train_time_s", "test_rmse", "n_params", "blocks"):
        assert key in report
    assert report["task"] == "smooth" and report["n"] == 6 and report["L"] == 2
    assert len(report["blocks"]) == 2 and report["blocks"][0]["certificate"] == "global"
    assert np.isfinite(report["test_rmse"])
    model = ImplicitModel.load(trained / "model.npz")
    assert model.block_sizes == [3, 3] and model.info["blocks"][0]["certificate"] == "global"


def test_predict_and_inspect(trained, tmp_path, capsys):
    inputs = np.linspace(-5, 5, 7)[:, None]
    np.save(tmp_path / "u.npy", inputs)
    assert main(["predict", str(trained / "model.npz"), str(tmp_path / "u.npy"), "--out",
                 str(tmp_path / "p.npy")]) == 0
    model = ImplicitModel.load(trained / "model.npz")
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), model.predict(inputs.T).T)
    capsys.readouterr()
    assert main(["inspect", str(trained / "model.npz")]) == 0
    out = capsys.readouterr().out
    assert "λ_PF(|A|) = 0" in out and "well-posed: True" in out and "global" in out


def test_self_loop_conversion(tmp_path):
    path = tmp_path / "nonstrict.npz"
    assert main(["train", "--task", "smooth", "--n", "4", "--L", "2", "--n-train", "60", "--quiet",
                 "--self-loop-eps", "0.5", "--out", str(path)]) == 0
    model = ImplicitModel.load(path)
    np.testing.assert_allclose(np.diag(model.A), 0.5)
    assert model.wellposedness().well_posed and not model.wellposedness().strictly_block_triangular


def test_errors_are_reported_not_raised(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing.npz")]) == 2
    assert "no model file" in capsys.readouterr().err
    assert main(["train", "--task", "smooth", "--n", "4", "--L", "9", "--quiet"]) == 2
    assert "L must be an integer in [2, n]; got L=9 with n=4" in capsys.readouterr().err
    assert main(["train", "--task", "smooth", "--n", "4", "--L", "2", "--solver", "NOPE", "--quiet",
                 "--n-train", "40"]) == 2
    assert "NOPE" in capsys.readouterr().err


# --------------------------------------------------------------------------- your own data, errors, JSON
def _write_csv(path, X, labels, header=True):
    lines = ([",".join([f"f{j}" for j in range(X.shape[1])] + ["species"])] if header else [])
    lines += [",".join([f"{v:.6f}" for v in x] + [str(lab)]) for x, lab in zip(X, labels)]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A greedy model trained from a CSV file with string labels (3 features, 3 classes)."""
    out = tmp_path_factory.mktemp("clf")
    rng = np.random.default_rng(1)
    X = rng.standard_normal((90, 3))
    labels = np.array(["setosa", "versicolor", "virginica"])[np.argmax(X @ rng.standard_normal((3, 3)), axis=1)]
    _write_csv(out / "train.csv", X, labels)
    rc = main(["train", "--data", str(out / "train.csv"), "--n", "6", "--L", "2", "--quiet",
               "--out", str(out / "clf.npz"), "--json", str(out / "clf.json")])
    assert rc == 0
    return out, X, labels


def test_train_from_csv_keeps_class_labels(classifier):
    out, _, labels = classifier
    model = ImplicitModel.load(out / "clf.npz")
    assert model.info["classes"] == sorted(set(labels)) == ["setosa", "versicolor", "virginica"] and model.q == 3
    assert model.info["task_type"] == "classification" and model.info["feature_names"] == ["f0", "f1", "f2"]
    report = json.loads((out / "clf.json").read_text())
    assert report["task_type"] == "classification" and report["classes"] == model.info["classes"]
    assert report["data"]["n_train"] + report["data"]["n_test"] == 90 and report["data"]["n_test"] == 18
    assert "test accuracy" in report["summary"] and "cross-entropy" in report["summary"]  # the default loss of classification


def test_predict_prints_labels_and_probabilities(classifier, tmp_path, capsys):
    out, X, _ = classifier
    model = ImplicitModel.load(out / "clf.npz")
    Z = model.predict(X[:5].T).T  # independent: the model's outputs, argmax and softmax written here
    expected = np.array(model.info["classes"])[np.argmax(Z, axis=1)]
    capsys.readouterr()
    assert main(["predict", str(out / "clf.npz"), str(out / "train.csv")]) == 0  # header selects the features
    printed = capsys.readouterr().out.split()
    assert len(printed) == 90 and printed[:5] == expected.tolist()
    np.save(tmp_path / "x.npy", X[:5])
    assert main(["predict", str(out / "clf.npz"), str(tmp_path / "x.npy"), "--proba", "--out",
                 str(tmp_path / "p.npy")]) == 0
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), E / E.sum(axis=1, keepdims=True), rtol=1e-12)
    assert main(["predict", str(out / "clf.npz"), str(tmp_path / "x.npy"), "--out", str(tmp_path / "l.csv")]) == 0
    assert (tmp_path / "l.csv").read_text().split() == expected.tolist()


def test_train_from_npz_with_a_test_set_is_regression(tmp_path):
    rng = np.random.default_rng(2)
    X, X_test = rng.uniform(-2, 2, (80, 2)), rng.uniform(-2, 2, (30, 2))

    def f(Z):
        return np.sin(Z[:, 0]) + 0.5 * Z[:, 1]

    np.savez(tmp_path / "reg.npz", X=X, y=f(X), X_test=X_test, y_test=f(X_test))
    assert main(["train", "--data", str(tmp_path / "reg.npz"), "--n", "4", "--L", "2", "--quiet", "--out",
                 str(tmp_path / "m.npz"), "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    model = ImplicitModel.load(tmp_path / "m.npz")
    rmse = np.sqrt(np.mean((model.predict(X_test.T)[0] - f(X_test)) ** 2))
    assert report["task_type"] == "regression" and report["test_rmse"] == pytest.approx(rmse, rel=1e-12)
    assert report["summary"].count("held-out") == 1 and "classes" not in model.info


def test_task_type_follows_the_target_and_can_be_overridden(tmp_path, capsys):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 2))
    _write_csv(tmp_path / "ints.csv", X, (X[:, 0] > 0).astype(int) + 1, header=False)
    args = ["--n", "4", "--L", "2", "--quiet", "--json"]
    assert main(["train", "--data", str(tmp_path / "ints.csv"), *args, str(tmp_path / "a.json")]) == 0
    assert json.loads((tmp_path / "a.json").read_text())["classes"] == [1, 2]
    assert main(["train", "--data", str(tmp_path / "ints.csv"), "--task-type", "regression", *args,
                 str(tmp_path / "b.json")]) == 0
    assert json.loads((tmp_path / "b.json").read_text())["task_type"] == "regression"
    _write_csv(tmp_path / "str.csv", X, np.where(X[:, 0] > 0, "yes", "no"))
    capsys.readouterr()
    assert main(["train", "--data", str(tmp_path / "str.csv"), "--task-type", "regression", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "needs numeric targets" in err and err.count("\n") == 1


def test_json_records_solvers_options_preset_and_losses(trained):
    report = json.loads((trained / "report.json").read_text())
    assert report["preset"]["name"] == "narrow" and report["options"]["max_rows"] == 100
    assert report["preset"]["reason"].startswith("auto:")
    assert report["options"]["n_patterns"] == 30 and report["options"]["solver"] == "auto"
    assert report["solvers_used"] and set(report["solvers_used"]) <= {"CLARABEL", "ACTIVE_SET", "FISTA", "ADMM", "SCS", "ECOS", "closed_form"}
    assert all(block["solvers"] for block in report["blocks"])
    assert report["solver_reasons"] and all(r.startswith("auto") for r in report["solver_reasons"])
    # block 1: exact 1-D arrangements on every sample, nothing reduced; block 2: sampled patterns
    assert report["blocks"][0]["reductions"] == [] and report["blocks"][0]["certificate"] == "global"
    assert any(item.startswith("patterns") for item in report["blocks"][1]["reductions"])
    assert "train RMSE on noisy targets" in report["summary"] and "test RMSE vs f1" in report["summary"]


def _one_line_error(capsys, argv, *needles):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, captured.err
    for needle in needles:
        assert needle in captured.err
    return captured.err


def test_file_mistakes_are_one_line_errors(trained, tmp_path, capsys):
    model = str(trained / "model.npz")
    (tmp_path / "in.npy").write_text("u\n0.5\n1.5\n")
    _one_line_error(capsys, ["predict", model, str(tmp_path / "in.npy")], "is a text (CSV) file", "'.npy'")
    np.save(tmp_path / "arr.npy", np.zeros((3, 1)))
    _one_line_error(capsys, ["predict", str(tmp_path / "arr.npy"), str(tmp_path / "arr.npy")],
                    "is a .npy array, not a saved model")
    (tmp_path / "cut.npz").write_bytes((trained / "model.npz").read_bytes()[:200])
    _one_line_error(capsys, ["inspect", str(tmp_path / "cut.npz")], "cut.npz")
    (tmp_path / "noise.npz").write_bytes(np.random.default_rng(0).bytes(500))
    _one_line_error(capsys, ["inspect", str(tmp_path / "noise.npz")], "not a saved cvximplicit model")
    np.save(tmp_path / "x5.npy", np.zeros((4, 5)))
    _one_line_error(capsys, ["predict", model, str(tmp_path / "x5.npy")], "expected 1 feature per row", "got 5")
    _one_line_error(capsys, ["predict", model, str(tmp_path / "arr.npy"), "--proba"], "--proba applies to classifiers")


def test_ctrl_c_prints_the_resume_command(tmp_path, monkeypatch, capsys):
    import shlex

    from cvximplicit.cli import train as cli  # the train command's module calls run_experiment

    real = cli.run_experiment
    calls = []

    def interrupted(*args, **kwargs):  # the run completes its blocks (checkpoints written), then Ctrl-C
        calls.append(kwargs["resume"])
        if len(calls) == 1:
            real(*args, **kwargs)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(cli, "run_experiment", interrupted)
    argv = ["train", "--task", "smooth", "--n", "4", "--L", "2", "--n-train", "60", "--quiet",
            "--checkpoint-dir", str(tmp_path / "ck")]
    assert main(argv) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("cvximplicit train: interrupted") and "\n" not in err
    command = shlex.split(err.split("continue with: ")[1])
    assert command[0] == "cvximplicit" and command[-1] == "--resume" and command[1:-1] == argv
    assert main(command[1:]) == 0 and calls == [False, True]
    assert main(["train", "--task", "smooth", "--n", "4", "--L", "2", "--seed", "7", "--n-train", "60",
                 "--quiet", "--checkpoint-dir", str(tmp_path / "ck"), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "written with --seed 0; this run has --seed 7" in err
    monkeypatch.setattr(cli, "run_experiment", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(["train", "--task", "smooth", "--quiet"]) == 130
    assert "add --checkpoint-dir DIR" in capsys.readouterr().err


def test_version_and_defaults_in_help(capsys):
    from cvximplicit import __version__

    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"cvximplicit {__version__}"
    for command, needle in (("train", "(default: 0.2)"), ("compare", "(default: 10.0)"), ("predict", "(default:")):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert needle in text and "default: None" not in text


def test_predict_takes_csv_columns_by_name_or_refuses(classifier, tmp_path, capsys):
    out, X, _ = classifier
    model = str(out / "clf.npz")
    capsys.readouterr()
    np.savetxt(tmp_path / "rev.csv", X[:6, ::-1], delimiter=",", header="f2,f1,f0", comments="")
    assert main(["predict", model, str(tmp_path / "rev.csv")]) == 0
    by_name = capsys.readouterr().out.split()
    assert main(["predict", model, str(out / "train.csv")]) == 0
    assert by_name == capsys.readouterr().out.split()[:6]
    # a header that misses a feature (here: reversed, and f0 typed F0) is refused, naming both columns
    np.savetxt(tmp_path / "bad.csv", X[:6, ::-1], delimiter=",", header="f2,f1,F0", comments="")
    _one_line_error(capsys, ["predict", model, str(tmp_path / "bad.csv")], "lacks the training feature column(s) "
                    "['f0']", "columns the model does not know: ['F0']")
    # without a header: by position, and it says so
    np.savetxt(tmp_path / "bare.csv", X[:6], delimiter=",")
    assert main(["predict", model, str(tmp_path / "bare.csv")]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == by_name
    assert "columns taken by position: bare.csv has no header row, as the model's features ['f0', 'f1', 'f2']" \
        in captured.err
    # too few columns: the missing ones are named
    np.savetxt(tmp_path / "two.csv", X[:6, :2], delimiter=",")
    _one_line_error(capsys, ["predict", model, str(tmp_path / "two.csv")], "expected 3 features per row",
                    "got 2; missing: ['f2']")


def test_a_model_trained_without_a_header_has_no_feature_names(tmp_path, capsys):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 2))
    np.savetxt(tmp_path / "train.csv", np.c_[X, X[:, 0] - X[:, 1]], delimiter=",")
    assert main(["train", "--data", str(tmp_path / "train.csv"), "--n", "4", "--L", "2", "--quiet", "--out",
                 str(tmp_path / "m.npz")]) == 0
    assert ImplicitModel.load(tmp_path / "m.npz").info["feature_names"] is None
    np.savetxt(tmp_path / "in.csv", X[:3], delimiter=",", header="a,b", comments="")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "in.csv")]) == 0
    assert "by position: the model has no feature names" in capsys.readouterr().err


def test_regression_summary_shows_one_measure_on_train_and_test(trained):
    report = json.loads((trained / "report.json").read_text())
    assert "train RMSE on noisy targets" in report["summary"] and "MSE" not in report["summary"].replace("RMSE", "")
    assert report["train_rmse"] == pytest.approx(np.sqrt(report["train_loss"]), rel=1e-12)  # q = 1


def test_quiet_prints_only_the_summary_and_reductions_once(tmp_path, capsys):
    # the convex steps on 100 rows of the 160 the greedy pass keeps (40 held out to choose the fine-tune's decay)
    argv = ["train", "--task", "smooth", "--n", "6", "--L", "3", "--n-train", "200"]
    assert main(argv + ["--quiet"]) == 0
    captured = capsys.readouterr()
    assert "train loss" not in captured.out and captured.err == ""
    assert captured.out.splitlines()[0].startswith("smooth: greedy (alternating)")
    assert main(argv) == 0
    table = [line for line in capsys.readouterr().out.splitlines()]
    start = next(i for i, line in enumerate(table) if "train loss" in line)
    rows, footer = table[start + 1:start + 4], table[start + 4]
    assert footer.startswith("reductions of every block's convex step: rows 100/160"), footer
    assert "(besides those below)" in table[start] and not any("rows 100/160" in row for row in rows)
    assert any(line.startswith("fine-tune: 40 samples held out of the greedy pass chose weight decay") for line in table)


def test_one_block_is_refused_with_the_reason(capsys):
    _one_line_error(capsys, ["train", "--task", "smooth", "--n", "4", "--L", "1", "--quiet"],
                    "got L=1 with n=4: with one block the strictly block-triangular A is zero",
                    "cvximplicit.solve_convex_relu")


def test_train_help_quotes_the_presets_as_defined():
    import contextlib
    import io

    from cvximplicit.presets import PRESETS

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(buf.getvalue().split())
    for name, options in PRESETS.items():
        assert f"{name} (" + ", ".join(f"{k}={v}" for k, v in options.items()) + ")" in text
    narrow, wide = PRESETS["narrow"], PRESETS["wide"]
    assert f"{narrow['n_patterns']} narrow / {wide['n_patterns']} wide" in text
    assert f"{narrow.get('polish', 0)} narrow / {wide['polish']} wide" in text
