"""The joint fine-tune after the greedy pass: gradients, structure, determinism, options and its report."""

from __future__ import annotations

import numpy as np
import pytest

from cvximplicit import ImplicitModel, ValidationError, partition, train_greedy
from cvximplicit.partition import block_slices
from cvximplicit.training.block import block_loss
from cvximplicit.training.finetune import _batch_gradient, _Network, finetune_model
from cvximplicit.training.finetune_stage import check_finetune_options

from . import _fakes  # noqa: F401  (registers "random_features")


def _model(seed=0, sizes=(2, 3, 2), p=3, q=2):
    """A random strictly block lower-triangular ReLU model with an input bias."""
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    A = np.zeros((n, n))
    for s in block_slices(list(sizes)):
        A[s, : s.start] = rng.standard_normal((s.stop - s.start, s.start)) / 2
    B = rng.standard_normal((n, p + 1))
    C = rng.standard_normal((q, n))
    return ImplicitModel(A, B, C, block_sizes=list(sizes), input_bias=True)


def _data(m=200, p=3, seed=1, classes=None):
    rng = np.random.default_rng(seed)
    U = rng.uniform(-2, 2, (p, m))
    if classes:
        labels = (np.sin(2 * U[0]) + U[1] * U[2] > 0).astype(int) + (U[0] > 1)
        return U, np.eye(classes)[labels].T
    return U, np.vstack([np.sin(2 * U[0]) * U[1], np.abs(U[2]) - U[0]])


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_gradients_match_finite_differences_of_the_model_loss(loss):
    # The backward pass through the blocks against central differences of the float64 loss of
    # ImplicitModel.predict (an independent forward pass).
    model = _model()
    U, Y = _data(classes=3 if loss == "cross_entropy" else None)
    if loss == "cross_entropy":
        model = ImplicitModel(model.A, model.B, np.random.default_rng(2).standard_normal((3, model.n)),
                              block_sizes=model.block_sizes, input_bias=True)
    net = _Network(model)
    rows = np.vstack([U, np.ones((1, U.shape[1]))]).T.astype(np.float32)
    H, X = net.forward(rows)
    value, G = _batch_gradient(X @ net.C.T, Y.T.astype(np.float32), loss)
    grads = net.gradients(rows, H, X, G / np.float32(U.shape[1]))
    assert value / U.shape[1] == pytest.approx(block_loss(Y, model.predict(U), loss), rel=1e-5)
    slices = block_slices(model.block_sizes)

    def loss_at(A, B, C):
        return block_loss(Y, ImplicitModel(A, B, C, block_sizes=model.block_sizes, input_bias=True).predict(U), loss)

    rng = np.random.default_rng(3)
    checked = 0
    for which in ("A", "B", "C"):
        for _ in range(6):
            A, B, C = model.A.copy(), model.B.copy(), model.C.copy()
            if which == "A":
                k = int(rng.integers(1, len(slices)))
                s = slices[k]
                i, j = int(rng.integers(s.start, s.stop)), int(rng.integers(0, s.start))
                target, index, ours = A, (i, j), grads[k][i - s.start, j]
            elif which == "B":
                index = (int(rng.integers(B.shape[0])), int(rng.integers(B.shape[1])))
                target, ours = B, grads[len(slices)][index]
            else:
                index = (int(rng.integers(C.shape[0])), int(rng.integers(C.shape[1])))
                target, ours = C, grads[len(slices) + 1][index]
            h = 1e-6
            target[index] += h
            up = loss_at(A, B, C)
            target[index] -= 2 * h
            down = loss_at(A, B, C)
            numeric = (up - down) / (2 * h)
            assert ours == pytest.approx(numeric, rel=2e-3, abs=2e-5), (which, index)
            checked += 1
    assert checked == 18


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_finetune_lowers_the_loss_and_keeps_the_structure(loss):
    model = _model()
    U, Y = _data(classes=3 if loss == "cross_entropy" else None)
    if loss == "cross_entropy":
        model = ImplicitModel(model.A, model.B, np.zeros((3, model.n)), block_sizes=model.block_sizes,
                              input_bias=True)
    result = finetune_model(model, U, Y, loss=loss, epochs=40, batch_size=32, lr=1e-2)
    tuned = ImplicitModel(result.A, result.B, result.C, block_sizes=model.block_sizes, input_bias=True)
    assert result.loss_after < 0.7 * result.loss_before
    assert result.loss_before == pytest.approx(block_loss(Y, model.predict(U), loss), rel=1e-12)
    assert result.loss_after == pytest.approx(block_loss(Y, tuned.predict(U), loss), rel=1e-12)
    assert tuned.wellposedness().strictly_block_triangular
    assert result.steps == 40 * 7 and len(result.history) == 40
    summary = result.summary()
    assert summary["step"] == "finetune" and summary["certified"] is False and summary["epochs"] == 40


def test_finetune_is_deterministic_and_zero_epochs_changes_nothing():
    model = _model()
    U, Y = _data()
    a = finetune_model(model, U, Y, epochs=3, batch_size=50, seed=4)
    b = finetune_model(model, U, Y, epochs=3, batch_size=50, seed=4)
    for x, y in zip((a.A, a.B, a.C), (b.A, b.B, b.C)):
        np.testing.assert_array_equal(x, y)
    c = finetune_model(model, U, Y, epochs=3, batch_size=50, seed=5)
    assert not np.array_equal(a.B, c.B)  # another batch order
    zero = finetune_model(model, U, Y, epochs=0)  # only the balancing rescale: the same function
    same = ImplicitModel(zero.A, zero.B, zero.C, block_sizes=model.block_sizes, input_bias=True)
    np.testing.assert_allclose(same.predict(U), model.predict(U), rtol=1e-5, atol=1e-5)
    assert zero.steps == 0 and zero.loss_after == pytest.approx(zero.loss_before, rel=1e-5)


def test_balancing_keeps_the_function_and_equalises_each_state_in_and_out():
    model = _model(seed=3)
    model = ImplicitModel(model.A * 5, model.B * np.array([[0.01], [3], [1], [0.2], [7], [1], [0.5]]), model.C,
                          block_sizes=model.block_sizes, input_bias=True)
    U, _ = _data()
    net = _Network(model)
    net.balance()
    A = np.zeros_like(model.A)
    for s, block in zip(net.slices, net.A):
        A[s, : s.start] = block
    balanced = ImplicitModel(A, net.B.astype(float), net.C.astype(float), block_sizes=model.block_sizes,
                             input_bias=True)
    np.testing.assert_allclose(balanced.predict(U), model.predict(U), rtol=1e-4, atol=1e-4)
    total = lambda M: np.sum(M.A**2) + np.sum(M.B**2) + np.sum(M.C**2)  # noqa: E731
    assert total(balanced) < total(model)
    incoming = np.sum(A**2, axis=1) + np.sum(balanced.B**2, axis=1)
    outgoing = np.sum(A**2, axis=0) + np.sum(balanced.C**2, axis=0)
    np.testing.assert_allclose(incoming, outgoing, rtol=1e-2)  # the stationarity of the rescaling


def test_weight_decay_shrinks_the_weights():
    model = _model()
    U, Y = _data()
    plain = finetune_model(model, U, Y, epochs=20, batch_size=50, lr=1e-2)
    decayed = finetune_model(model, U, Y, epochs=20, batch_size=50, lr=1e-2, weight_decay=5.0)
    norm = lambda r: np.linalg.norm(r.A) ** 2 + np.linalg.norm(r.B) ** 2 + np.linalg.norm(r.C) ** 2  # noqa: E731
    assert norm(decayed) < 0.8 * norm(plain)


def test_finetune_refuses_bad_options_models_and_shapes():
    model = _model()
    U, Y = _data()
    with pytest.raises(ValidationError, match=r"unknown option\(s\) \['epoch'\]; valid options are"):
        check_finetune_options({"epoch": 3})
    with pytest.raises(ValidationError, match="weight_decay"):
        check_finetune_options({"weight_decay": -1.0})
    with pytest.raises(ValidationError, match="must be a dict"):
        check_finetune_options(5)
    with pytest.raises(ValidationError, match="lr"):
        finetune_model(model, U, Y, lr=0.0)
    with pytest.raises(ValidationError, match="U must be"):
        finetune_model(model, U[:2], Y)
    full = ImplicitModel(model.A + np.triu(np.full_like(model.A, 0.01)), model.B, model.C,
                         block_sizes=model.block_sizes, input_bias=True)
    with pytest.raises(ValidationError, match="strictly block lower-triangular"):
        finetune_model(full, U, Y)
    tanh = ImplicitModel(model.A, model.B, model.C, activation="tanh", block_sizes=model.block_sizes,
                         input_bias=True)
    with pytest.raises(ValidationError, match="ReLU"):
        finetune_model(tanh, U, Y)


def test_train_greedy_finetune_reports_a_local_step_then_a_certified_output_step(capsys):
    U, Y = _data()
    plain = train_greedy(U, Y, block_sizes=partition(9, 3), block_solver="random_features", verbose=0)
    result = train_greedy(U, Y, block_sizes=partition(9, 3), block_solver="random_features", verbose=1,
                          finetune={"epochs": 30, "batch_size": 40, "lr": 1e-2})
    record = result.finetune
    assert plain.finetune is None
    assert record["certified"] is False and record["epochs"] == 30
    assert record["output_step"]["certificate"] == "normal_equations"
    # the blocks and their reports are those of the greedy pass; the model is the fine-tuned one
    assert [b.objective for b in result.blocks] == [b.objective for b in plain.blocks]
    assert record["loss_before"] == pytest.approx(plain.blocks[-1].objective, rel=1e-9)
    final = block_loss(Y, result.model.predict(U), "squared")
    assert final == pytest.approx(record["final_loss"], rel=1e-12) and record["refit_output"] is True
    # the least-squares output step is exact for the fine-tuned states: no worse than the fine-tune's C
    assert final <= record["loss_after"] * (1 + 1e-9)
    assert result.model.wellposedness().strictly_block_triangular
    assert result.train_time_s >= record["time_s"]
    assert "fine-tune: 30 epochs of every block jointly (AdamW, weight decay 0; a local step, not certified)" \
        in capsys.readouterr().err
    with pytest.raises(ValidationError, match="valid options are"):
        train_greedy(U, Y, block_sizes=[3, 3], block_solver="random_features", finetune={"rate": 1})


def test_train_greedy_finetune_without_the_output_step_keeps_the_finetuned_output_weights():
    U, Y = _data()
    options = {"epochs": 10, "batch_size": 40, "lr": 1e-2}
    kept = train_greedy(U, Y, block_sizes=partition(9, 3), block_solver="random_features", verbose=0,
                        finetune={**options, "refit_output": False})
    refit = train_greedy(U, Y, block_sizes=partition(9, 3), block_solver="random_features", verbose=0,
                         finetune=options)
    assert kept.finetune["output_step"] is None and kept.finetune["refit_output"] is False
    # same fine-tune, so the same states; only C differs, and the fine-tune's own C is what the record says
    np.testing.assert_array_equal(kept.model.B, refit.model.B)
    assert kept.finetune["final_loss"] == pytest.approx(kept.finetune["loss_after"], rel=1e-12)
    assert refit.finetune["final_loss"] <= kept.finetune["final_loss"] * (1 + 1e-9)


def test_stage_chooses_no_finetune_when_the_greedy_model_is_exact():
    # Targets produced by the model itself: the greedy model has zero loss everywhere, and a fine-tune with a
    # strong weight decay can only lose on the held-out samples, so "no fine-tune" is chosen; its output step
    # is then re-fitted on every sample (exact here too).
    from cvximplicit.training.finetune_stage import finetune_stage, holdout_split

    model = _model()
    U, _ = _data()
    Y = model.predict(U)
    options = {"epochs": 20, "batch_size": 32, "weight_decay": [50.0]}
    split = holdout_split(U.shape[1], check_finetune_options(options), 0)
    tuned, record = finetune_stage(model, U, Y, loss="squared", seed=0, options=options, split=split)
    np.testing.assert_array_equal(tuned.B, model.B)
    assert block_loss(Y, tuned.predict(U), "squared") < 1e-20
    selection = record["selection"]
    assert selection["chosen"] is None and record["epochs"] == 0 and "did best" in record["skipped"]
    assert [c["weight_decay"] for c in selection["candidates"]] == [None, 50.0]
    assert selection["candidates"][0]["validation_loss"] == pytest.approx(0.0, abs=1e-20)
    assert selection["n_validation"] == 40 and selection["validation_fraction"] == 0.2
    assert record["output_step"]["certificate"] == "normal_equations"
    with pytest.raises(ValidationError, match="need the held-out split"):
        finetune_stage(model, U, Y, loss="squared", seed=0, options=options)


def test_selection_holds_samples_out_of_the_greedy_pass_and_scores_them_independently():
    U, Y = _data(m=300)
    options = {"epochs": 40, "batch_size": 32, "lr": 1e-2, "weight_decay": [0.0, 3.0], "validation_fraction": 0.25}
    result = train_greedy(U, Y, block_sizes=partition(9, 3), block_solver="random_features", verbose=0, seed=7,
                          finetune=options)
    held = np.sort(np.random.default_rng(7).permutation(300)[:75])  # the documented split: seeded by the seed
    kept = np.setdiff1d(np.arange(300), held)
    # the greedy pass saw only the kept samples: the same blocks as a run on them alone
    alone = train_greedy(U[:, kept], Y[:, kept], block_sizes=partition(9, 3), block_solver="random_features",
                         verbose=0, seed=7)
    assert [b.objective for b in result.blocks] == [b.objective for b in alone.blocks]
    candidates = result.finetune["selection"]["candidates"]
    assert candidates[0]["validation_loss"] == pytest.approx(
        block_loss(Y[:, held], alone.model.predict(U[:, held]), "squared"), rel=1e-12)
    best = min(candidates, key=lambda c: c["validation_loss"])
    assert result.finetune["selection"]["chosen"] == best["weight_decay"] == 0.0  # random features: tuning helps
    assert result.finetune["options"]["weight_decay"] == 0.0 and result.finetune["epochs"] == 40
    assert result.finetune["final_loss"] < block_loss(Y, alone.model.predict(U), "squared")


def test_stage_options_are_checked():
    with pytest.raises(ValidationError, match="applies when weight_decay is a list"):
        check_finetune_options({"validation_fraction": 0.2})
    with pytest.raises(ValidationError, match="non-empty list"):
        check_finetune_options({"weight_decay": []})
    with pytest.raises(ValidationError, match="non-empty list"):
        check_finetune_options({"weight_decay": [0.1, -1]})
    with pytest.raises(ValidationError, match="validation_fraction"):
        check_finetune_options({"weight_decay": [0.1], "validation_fraction": 0.9})
    assert check_finetune_options({"weight_decay": (0, 1)})["weight_decay"] == [0.0, 1.0]
