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
