"""Algorithm 2 (alternating LS ↔ Ergen–Pilanci) inside Algorithm 1, on small problems; its random-neuron twin."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvximplicit import ImplicitRegressor, ValidationError, partition, train_greedy
from cvximplicit.datasets import make_smooth
from cvximplicit.training.alternating import AlternatingBlockSolver
from cvximplicit.training.block import BlockProblem, block_loss
from cvximplicit.training.greedy import block_summary, format_block_table
from cvximplicit.training.reduction import input_basis

# The reduced LS problem is solved by an interior-point method at its default tolerance (~1e-8 relative), so the
# normal-equation residual on the full data is of that order, not machine precision.
LS_RESIDUAL_TOL = 1e-6


@pytest.fixture(scope="module")
def smooth_run():
    data = make_smooth(n_train=80, seed=3)
    U, Y = data.inputs_train.T, data.targets_train[None, :]
    result = train_greedy(U, Y, block_sizes=partition(6, 3), block_solver="alternating",
                          block_solver_options={"T": 2, "n_patterns": 20}, verbose=0)
    return U, Y, result


def test_loss_decreases_block_to_block_and_matches_model(smooth_run):
    U, Y, result = smooth_run
    losses = [b["objective"] for b in result.blocks]
    assert all(b <= a * (1 + 1e-9) for a, b in zip(losses, losses[1:])), losses
    # The least-squares step makes block 1's loss at most the best constant/linear-free fit: ‖Y‖²/m.
    assert losses[0] < np.mean(Y**2)
    assert block_loss(Y, result.model.predict(U), "squared") == pytest.approx(losses[-1], rel=1e-8)


def test_certificates_reported(smooth_run):
    _, _, result = smooth_run
    first = result.blocks[0]["reports"]
    kinds = {r["certificate"] for r in first}
    # block 1 sees a 1-D input plus bias: exact arrangements, a global certificate; LS: normal equations
    assert kinds == {"global", "normal_equations"}
    assert {r["certificate"] for r in result.blocks[1]["reports"]} == {"restricted", "normal_equations"}
    for block in result.blocks:
        for r in block["reports"]:
            if r["certificate"] == "normal_equations":
                assert r["residual"] < LS_RESIDUAL_TOL
            else:
                assert r["bound"] <= r["objective"] + 1e-9 * max(1, abs(r["objective"]))


def test_block_gets_exactly_n_i_neurons(smooth_run):
    _, _, result = smooth_run
    model = result.model
    assert model.block_sizes == [2, 2, 2]
    assert model.A.shape == (6, 6) and model.B.shape == (6, 2)


def test_alternating_rejects_what_it_cannot_solve():
    rng = np.random.default_rng(0)
    U, Y = rng.standard_normal((2, 10)), rng.standard_normal((1, 10))
    solver = AlternatingBlockSolver()
    with pytest.raises(ValidationError, match="probability vectors"):
        solver.solve(BlockProblem(U, np.zeros((0, 10)), Y, 2, loss="cross_entropy"))
    with pytest.raises(ValidationError, match="exact for ReLU only"):
        solver.solve(BlockProblem(U, np.zeros((0, 10)), Y, 2, activation="tanh"))
    with pytest.raises(ValidationError, match=r"AlternatingBlockSolver: T must be an integer >= 1; got T="):
        AlternatingBlockSolver(T=0)


def test_regressor_fits_better_than_mean():
    data = make_smooth(n_train=120, seed=1)
    reg = ImplicitRegressor(n=6, L=2, T=1, n_patterns=20).fit(data.inputs_train, data.targets_train)
    assert reg.score(data.inputs_test, data.targets_test) > 0.2


# --------------------------------------------------------------------------- the random-neuron twin (neurons=)
def _tiny_regression(seed=3, m=80):
    data = make_smooth(n_train=m, seed=seed)
    return data.inputs_train.T, data.targets_train[None, :]


def _assert_no_solve(report):
    """A report of the random twin's step: nothing solved, nothing claimed."""
    assert (report.problem, report.solver, report.status, report.certificate) == \
        ("random_init", "none", "not_solved", "none")
    assert np.isnan(report.objective) and report.bound is None and report.gap_abs is None and report.gap_rel is None


def test_neurons_option_is_validated():
    assert AlternatingBlockSolver().neurons == "convex"
    for bad in ("gaussian", "Random", None, 1):
        with pytest.raises(ValidationError, match=r"AlternatingBlockSolver: neurons must be one of "
                                                  r"\['convex', 'random'\]; got neurons="):
            AlternatingBlockSolver(neurons=bad)
    U, Y = _tiny_regression(m=30)
    with pytest.raises(ValidationError, match=r"neurons must be one of \['convex', 'random'\]"):
        train_greedy(U, Y, block_sizes=[2], block_solver_options={"neurons": "uniform"}, verbose=0)
    with pytest.raises(ValidationError, match=r"neurons must be one of \['convex', 'random'\]"):
        ImplicitRegressor(n=4, L=2, block_solver_options={"neurons": "uniform"}).fit(U.T, Y[0])


def test_random_neurons_train_and_report_no_certificate(tmp_path):
    U, Y = _tiny_regression()
    result = train_greedy(U, Y, block_sizes=partition(6, 3), block_solver_options={"neurons": "random"},
                          checkpoint_dir=tmp_path, verbose=0)
    losses = [b.objective for b in result.blocks]
    assert all(np.isfinite(losses)) and losses[0] < np.mean(Y**2)
    assert all(b <= a * (1 + 1e-9) for a, b in zip(losses, losses[1:])), losses  # LS over a superset, as before
    assert block_loss(Y, result.model.predict(U), "squared") == pytest.approx(losses[-1], rel=1e-8)
    for block in result.blocks:
        twin = [r for r in block.reports if r.problem != "least_squares"]
        assert len(twin) == 1
        _assert_no_solve(twin[0])
        assert {r.certificate for r in block.reports if r.problem == "least_squares"} == {"normal_equations"}
        info = block.info
        assert info["neurons"] == "random" and info["certificate"] == "none" and info["solver"] == "none"
        assert info["beta"] is None and info["relu_objective"] is None and info["convex_bound"] is None
        assert info["relu_gap_rel"] is None
    row = format_block_table(result.blocks)
    assert row.count(" none ") >= 3 and "global" not in row and "restricted" not in row
    # The checkpoint holds the twin's NaN objective and reads back (resume) without complaint.
    resumed = train_greedy(U, Y, block_sizes=partition(6, 3), block_solver_options={"neurons": "random"},
                           checkpoint_dir=tmp_path, resume=True, verbose=0)
    assert resumed.resumed_from == 3
    _assert_no_solve(resumed.blocks[0].reports[0])


def test_random_neurons_resume_equals_uninterrupted(tmp_path):
    U, Y = _tiny_regression()
    kw = dict(block_sizes=partition(8, 4), block_solver_options={"neurons": "random", "polish": 5}, seed=2,
              verbose=0)

    def stop(record):
        if record.block == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_greedy(U, Y, checkpoint_dir=tmp_path, callback=stop, **kw)
    resumed = train_greedy(U, Y, checkpoint_dir=tmp_path, resume=True, **kw)
    fresh = train_greedy(U, Y, **kw)
    assert resumed.resumed_from == 2
    for name in "ABC":
        np.testing.assert_array_equal(getattr(resumed.model, name), getattr(fresh.model, name))
    with pytest.raises(ValidationError, match="different data or options"):  # the option is part of the run
        train_greedy(U, Y, checkpoint_dir=tmp_path, resume=True,
                     **{**kw, "block_solver_options": {"neurons": "convex", "polish": 5}})


def test_random_neurons_cross_entropy_with_polish_and_reductions():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((240, 12))
    labels = np.argmax(X[:, :3] @ rng.standard_normal((3, 3)), axis=1)
    U, Y = X.T, np.eye(3)[labels].T
    options = {"neurons": "random", "max_rows": 100, "max_features": 4, "max_outputs": 2, "guided": True,
               "select_on": "all", "polish": 10}
    result = train_greedy(U, Y, block_sizes=[2, 2], loss="cross_entropy", block_solver_options=options, verbose=0)
    for block in result.blocks:
        (twin,) = [r for r in block.reports if r.problem == "random_init"]
        _assert_no_solve(twin)
        # Drawn on the rows and principal basis the convex step would see; patterns and outputs play no part.
        assert [r.split()[0] for r in twin.reductions] == ["rows", "features"]
        assert twin.extra["features"] == 5 and twin.extra["rows"] == 100
        assert block.info["polish"]["certified"] is False and block.info["polish"]["iterations"] >= 1
        assert {r.certificate for r in block.reports if r.problem != "random_init"} == {"multinomial_logistic"}
    accuracy = np.mean(np.argmax(result.model.predict(U), axis=0) == labels)
    assert accuracy > 0.6


def test_default_neurons_are_the_convex_step():
    U, Y = _tiny_regression()
    kw = dict(block_sizes=[2, 2], verbose=0)
    default = train_greedy(U, Y, block_solver_options={"n_patterns": 10}, **kw)
    convex = train_greedy(U, Y, block_solver_options={"n_patterns": 10, "neurons": "convex"}, **kw)
    for name in "ABC":  # the second run re-uses compiled, warm-started conic problems: equal to solver accuracy
        np.testing.assert_allclose(getattr(default.model, name), getattr(convex.model, name), rtol=1e-5, atol=1e-8)
    assert [b.info["certificate"] for b in default.blocks] == [b.info["certificate"] for b in convex.blocks]
    for block in default.blocks:
        assert block.info["neurons"] == "convex" and block.info["certificate"] in ("global", "restricted")
        assert not any(r.problem == "random_init" for r in block.reports)
        assert isinstance(block.info["beta"], float) and block.info["beta"] > 0


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(12, 60), sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       T=st.integers(1, 2))
def test_random_twin_reports_say_no_solve_happened(seed, m, sizes, T):
    """Property: on a regression task every report of the twin is a certified least squares or a non-solve."""
    rng = np.random.default_rng(seed)
    U = rng.uniform(-2, 2, (2, m))
    Y = np.sin(U[:1]) + 0.1 * rng.standard_normal((1, m))
    result = train_greedy(U, Y, block_sizes=sizes, block_solver_options={"neurons": "random", "T": T}, seed=seed,
                          verbose=0)
    for block in result.blocks:
        twins = [r for r in block.reports if r.problem != "least_squares"]
        assert 1 <= len(twins) == len(block.history) <= T
        for report in twins:
            _assert_no_solve(report)
        assert all(r.certificate == "normal_equations" for r in block.reports if r.problem == "least_squares")
        assert all(h["certificate"] == "none" and h["beta"] is None and h["relu_gap_rel"] is None
                   for h in block.history)
        assert block_summary(block)["certificate"] == "none" and block_summary(block)["max_gap_rel"] is None


def test_polish_starts_from_the_convex_directions_at_the_twins_scale():
    from cvximplicit.training.alternating import POLISH_START_NORM, _at_start_norm

    rng = np.random.default_rng(3)
    W1 = rng.standard_normal((4, 7)) * np.array([[10.0], [1e-3], [0.0], [2.0]])
    out = _at_start_norm(W1)
    norms = np.linalg.norm(out, axis=1)
    assert np.allclose(norms[[0, 1, 3]], POLISH_START_NORM) and norms[2] == 0.0  # padding neurons stay zero
    for i in (0, 1, 3):  # same directions
        assert np.allclose(out[i] / norms[i], W1[i] / np.linalg.norm(W1[i]))
    # the twin's draw has this norm on average: E||w||^2 = d * (1/d) / 3
    d = 31
    twin = rng.uniform(-1, 1, (20000, d)) / np.sqrt(d)
    assert np.mean(np.sum(twin ** 2, axis=1)) == pytest.approx(POLISH_START_NORM ** 2, rel=0.02)


def test_input_basis_spans_the_top_principal_directions_and_the_bias():
    rng = np.random.default_rng(4)
    raw = rng.standard_normal((6, 300)) * np.array([5.0, 4.0, 3.0, 0.5, 0.2, 0.1])[:, None]
    U = np.vstack([raw + 2.0, np.ones((1, 300))])  # an offset, then the bias row
    basis = input_basis(U, 3)
    np.testing.assert_allclose(basis.P.T @ basis.P, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(basis.U, basis.P.T @ U)
    # Independent: the centred data's top right singular vectors, and the bias coordinate, lie in span(P).
    top = np.linalg.svd((U - U.mean(axis=1, keepdims=True)).T, full_matrices=False)[2][:3].T
    inside = np.hstack([top, np.eye(7)[:, [6]]])
    np.testing.assert_allclose(basis.P @ (basis.P.T @ inside), inside, atol=1e-10)
    assert basis.reduction.startswith("inputs 4/7")
    assert input_basis(U, 7) is None


def test_input_basis_model_reproduces_training_and_lists_the_reduction():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((240, 12))
    labels = np.argmax(X[:, :3] @ rng.standard_normal((3, 3)), axis=1)
    U, Y = X.T, np.eye(3)[labels].T
    for neurons in ("convex", "random"):
        options = {"neurons": neurons, "input_basis": 5, "max_rows": 100, "max_features": 4, "max_outputs": 2,
                   "guided": True, "select_on": "all", "polish": 10}
        result = train_greedy(U, Y, block_sizes=[2, 2], loss="cross_entropy", block_solver_options=options,
                              verbose=0)
        basis = input_basis(np.vstack([U, np.ones((1, U.shape[1]))]), 5)
        outside = np.eye(basis.P.shape[0]) - basis.P @ basis.P.T
        np.testing.assert_allclose(result.model.B @ outside, 0.0, atol=1e-10)  # B's rows lie in span(P)
        # The model's forward pass gives the training loss the trainer reported for its last block.
        assert block_loss(Y, result.model.predict(U), "cross_entropy") == pytest.approx(
            result.blocks[-1].objective, rel=1e-9)
        for block in result.blocks:
            step = [r for r in block.reports if r.problem in ("convex_relu", "random_init")]
            assert step and all(r.reductions[0].startswith("inputs 6/13") for r in step)
