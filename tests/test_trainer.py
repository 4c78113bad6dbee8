"""Algorithm 1 mechanics: fixed point, monotone loss, checkpoints and resume, validation."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cvximplicit import ValidationError, partition, train_greedy
from cvximplicit.training.block import block_loss, get_block_solver
from cvximplicit.training.checkpoint import CHECKPOINT_NAME

from . import _fakes  # noqa: F401  (registers "random_features")

REPO = Path(__file__).resolve().parents[1]


def _data(m=120, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.uniform(-2, 2, size=(2, m))
    Y = np.vstack([np.sin(2 * U[0]) * U[1], np.cos(U[0] + U[1])])
    return U, Y


def test_trained_features_satisfy_fixed_point_and_reproduce_training_loss():
    U, Y = _data()
    result = train_greedy(U, Y, block_sizes=partition(12, 4), block_solver="random_features", verbose=0)
    model = result.model
    assert model.wellposedness().strictly_block_triangular
    X = model.state(U, method="forward")
    # the fixed-point equation holds and Picard iteration finds the same state
    np.testing.assert_allclose(np.maximum(model.A @ X + model.B @ model.prepare_inputs(U), 0), X, atol=1e-12)
    np.testing.assert_allclose(model.state(U, method="picard", tol=1e-15), X, atol=1e-10)
    # the assembled model reproduces the training-time loss of the last block
    assert block_loss(Y, model.predict(U), "squared") == pytest.approx(result.blocks[-1]["objective"], rel=1e-10)
    # paper layout gives the same predictions
    from cvximplicit import ImplicitModel

    paper = model.to_paper_order()
    paper_model = ImplicitModel(paper["A"], paper["B"], paper["C"], block_sizes=paper["block_sizes"],
                                input_bias=True)
    np.testing.assert_allclose(paper_model.predict(U, method="picard", tol=1e-15), model.predict(U), atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_loss_never_increases(seed):
    U, Y = _data(seed=seed)
    result = train_greedy(U, Y, block_sizes=partition(15, 5), block_solver="random_features", seed=seed,
                          verbose=0)
    losses = [b["objective"] for b in result.blocks]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(losses, losses[1:])), losses


def test_progress_lines(capsys):
    U, Y = _data()
    train_greedy(U, Y, block_sizes=[2, 2, 2], block_solver="random_features", verbose=1)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and err[0].startswith("block  1/3") and "loss=" in err[0] and "elapsed" in err[0]
    train_greedy(U, Y, block_sizes=[2, 2, 2], block_solver="random_features", verbose=0)
    assert capsys.readouterr().err == ""


KILL_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    sys.path.insert(0, {repo!r})
    from tests import _fakes
    from tests.test_trainer import _data
    from cvximplicit import train_greedy

    def die(record):
        if record["block"] == 2:
            os._exit(17)   # simulate a crash right after block 2's checkpoint

    U, Y = _data()
    train_greedy(U, Y, block_sizes=[3, 3, 3, 3], block_solver="random_features", seed=5,
                 checkpoint_dir={ckpt!r}, verbose=0, callback=die)
    """
)


def test_killed_then_resumed_run_equals_uninterrupted(tmp_path):
    ckpt = tmp_path / "ckpt"
    script = KILL_SCRIPT.format(repo=str(REPO), ckpt=str(ckpt))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 17, proc.stderr
    assert (ckpt / CHECKPOINT_NAME).exists()
    assert sorted(p.name for p in ckpt.iterdir()) == [CHECKPOINT_NAME]  # no temp files left

    U, Y = _data()
    resumed = train_greedy(U, Y, block_sizes=[3, 3, 3, 3], block_solver="random_features", seed=5,
                           checkpoint_dir=ckpt, resume=True, verbose=0)
    fresh = train_greedy(U, Y, block_sizes=[3, 3, 3, 3], block_solver="random_features", seed=5, verbose=0)
    assert resumed.resumed_from == 2
    for name in "ABC":
        np.testing.assert_array_equal(getattr(resumed.model, name), getattr(fresh.model, name))
    assert [b["objective"] for b in resumed.blocks] == [b["objective"] for b in fresh.blocks]


def test_resume_refuses_other_data_and_keeps_checkpoint(tmp_path):
    U, Y = _data()
    train_greedy(U, Y, block_sizes=[2, 2], block_solver="random_features", checkpoint_dir=tmp_path, verbose=0)
    before = (tmp_path / CHECKPOINT_NAME).read_bytes()
    with pytest.raises(ValidationError, match="written by a run with different data or options"):
        train_greedy(U, Y + 1, block_sizes=[2, 2], block_solver="random_features", checkpoint_dir=tmp_path,
                     resume=True, verbose=0)
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == before


def test_bad_inputs_raise_and_write_nothing(tmp_path):
    U, Y = _data()
    bad_U = U.copy()
    bad_U[0, 3] = np.nan
    cases = [
        (dict(U=bad_U), "U contains NaN or inf"),
        (dict(Y=Y[:, :-1]), r"U and Y must have the same number of samples"),
        (dict(U=U[0]), r"U and Y must be 2-D with samples as columns"),
        (dict(block_sizes=[2, 0]), "block_sizes must be a non-empty list of positive integers"),
        (dict(block_solver="newton"), r"unknown block solver 'newton'; valid names are \["),
        (dict(loss="hinge"), r"loss must be one of \('squared', 'cross_entropy'\)"),
        (dict(activation="gelu"), r"activation must be one of"),
        (dict(resume=True, checkpoint_dir=None), "resume=True needs checkpoint_dir"),
    ]
    for overrides, message in cases:
        args = dict(U=U, Y=Y, block_sizes=[2, 2], block_solver="random_features", checkpoint_dir=tmp_path,
                    verbose=0)
        args.update(overrides)
        with pytest.raises(ValidationError, match=message):
            train_greedy(args.pop("U"), args.pop("Y"), **args)
        assert list(tmp_path.iterdir()) == []


def test_unknown_block_solver_lists_valid_names():
    with pytest.raises(ValidationError, match=r"valid names are \[.*'alternating'.*'local_search'"):
        get_block_solver("adam")


def test_block_records_keep_report_objects_and_checkpoints_stay_json(tmp_path):
    import json

    from cvximplicit._npz import read_npz
    from cvximplicit.solvers.core.report import SolveReport
    from cvximplicit.training.greedy import BlockRecord, block_row

    rng = np.random.default_rng(0)
    U = rng.uniform(-2, 2, (1, 60))
    Y = np.sin(2 * U)
    kw = dict(block_sizes=[2, 2, 2], block_solver="alternating", block_solver_options={"T": 2}, seed=1, verbose=0)
    first = train_greedy(U, Y, checkpoint_dir=tmp_path, **kw)
    assert all(isinstance(r, SolveReport) for b in first.blocks for r in b.reports)
    # The checkpoint holds the records as the dicts earlier versions wrote (reports as SolveReport.to_dict()).
    meta, _ = read_npz(tmp_path / CHECKPOINT_NAME, fmt="cvximplicit.Checkpoint", version=1, what="checkpoint",
                       arrays=("A", "B", "C", "X"), meta_keys=("records",))
    saved = meta["records"]
    assert set(saved[0]) == {"block", "n_i", "objective", "time_s", "reports", "history", "info"}
    assert saved[0]["reports"][0]["total_time_s"] == first.blocks[0].reports[0].total_time_s
    assert json.loads(json.dumps(saved)) == [b.to_dict() for b in first.blocks]
    # Resume from it: the records come back as objects, equal to what was written.
    resumed = train_greedy(U, Y, checkpoint_dir=tmp_path, resume=True, **kw)
    assert resumed.resumed_from == 3
    assert [b.to_dict() for b in resumed.blocks] == saved
    assert [block_row(b) for b in resumed.blocks] == [block_row(b) for b in first.blocks] == \
        [block_row(d) for d in saved]
    assert first.blocks[0]["objective"] == first.blocks[0].objective  # read access of the earlier dict records
    with pytest.raises(ValueError, match="a block record needs block, n_i"):
        BlockRecord.from_dict({"block": 1})


@pytest.mark.parametrize("pool_start", ["previous", "top"])
def test_pool_ladder_starts_one_level_above_the_previous_block(pool_start):
    """The pool rule solves program (12) on the ladder β_k = 0.1 β_max / 4^k; with ``pool_start="previous"`` block
    i starts at one level above where block i−1 ended (block 1 at the top), with ``"top"`` every block starts at
    k = 0. Each block's records say where it ended; its convex solves are the levels from its start to there."""
    rng = np.random.default_rng(3)
    u = np.sort(rng.uniform(-3, 3, 300))
    U, Y = u[None, :], (np.sin(2 * u) + 0.3 * np.abs(u))[None, :]
    result = train_greedy(U, Y, block_sizes=[3] * 5, block_solver="alternating", seed=1, verbose=0,
                          block_solver_options={"pool_start": pool_start, "max_rows": 100})
    previous = None
    for record in result.blocks:
        level = record.info["pool_level"]
        start = 0 if pool_start == "top" or previous is None else max(0, previous - 1)
        relu = [r for r in record.reports if r.problem == "convex_relu"]
        assert len(relu) == level - start + 1, (start, level, len(relu))
        assert all(r.certificate != "none" for r in relu)
        previous = level
    assert pool_start == "top" or max(r.info["pool_level"] for r in result.blocks) > 0  # a level was skipped


def test_pool_start_and_start_level_are_checked():
    from cvximplicit.solvers.relu.budget import fit_relu_pool
    from cvximplicit.training import AlternatingBlockSolver

    with pytest.raises(ValidationError, match="pool_start"):
        AlternatingBlockSolver(pool_start="bottom")
    M = np.c_[np.linspace(-1, 1, 20), np.ones(20)]
    with pytest.raises(ValidationError, match="start_level"):
        fit_relu_pool(M, M[:, 0] ** 2, 2, start_level=4)
