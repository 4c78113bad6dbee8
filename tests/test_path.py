"""Certified regularization paths of program (12): warm starts, agreement with cold solves, honest labels, plot."""

from __future__ import annotations

import numpy as np
import pytest

from cvximplicit.exceptions import InaccurateSolutionWarning, ValidationError
from cvximplicit.solvers import (
    ConvexReLUPath,
    sample_patterns,
    solve_convex_relu,
    solve_convex_relu_path,
)
from cvximplicit.solvers.relu import path as path_module

#: The engines' default relative gap tolerance is their ``tol``; two certified solves of one program agree to
#: within the sum of their gaps (both objectives lie in [optimum, optimum + gap]).
ENGINE_TOL = 1e-6


def _block(m=60, seed=0):
    rng = np.random.default_rng(seed)
    M = np.c_[rng.standard_normal((m, 2)), np.ones(m)]
    y = np.maximum(M[:, 0], 0.0) - 0.5 * np.maximum(-M[:, 1], 0.0) + 0.05 * rng.standard_normal(m)
    P = sample_patterns(M, 8, seed=1)
    beta_max = float(np.linalg.norm(M.T @ (P * y[:, None]), axis=0).max())
    return M, y, P, beta_max


def test_path_matches_cold_solves_and_is_certified():
    M, y, P, beta_max = _block()
    betas = np.geomspace(0.5, 0.02, 4) * beta_max
    path = solve_convex_relu_path(M, y, betas, patterns=P, solver="ADMM", solver_opts={"tol": ENGINE_TOL})
    assert isinstance(path, ConvexReLUPath) and len(path) == 4
    assert path.certified and path.certificates == ["restricted"] * 4
    np.testing.assert_array_equal(path.betas, betas)
    for beta, sol in zip(betas, path.solutions):
        assert sol.beta == beta
        cold = solve_convex_relu(M, y, beta=beta, patterns=P, solver="ADMM", solver_opts={"tol": ENGINE_TOL})
        assert cold.report.certificate == "restricted"
        scale = max(1.0, abs(cold.report.objective))
        assert abs(sol.report.objective - cold.report.objective) <= 2 * ENGINE_TOL * scale
    # the path's summary arrays are the reports' numbers
    np.testing.assert_array_equal(path.objectives, [s.report.objective for s in path.solutions])
    assert np.all(path.gaps <= ENGINE_TOL) and np.all(path.bounds <= path.objectives + ENGINE_TOL)
    # fewer active groups at larger β (the support grows along a decreasing path here)
    assert path.n_active[0] <= path.n_active[-1]
    records = path.to_records()
    assert [r["beta"] for r in records] == list(betas) and records[0]["certificate"] == "restricted"


def test_conic_path_equals_cold_conic_solves():
    u = np.linspace(-1.0, 1.0, 25)
    M, y = np.c_[u, np.ones_like(u)], np.abs(u) - 0.3
    betas = [0.5, 0.2, 0.05]
    path = solve_convex_relu_path(M, y, betas, patterns="exact", solver="CLARABEL")
    assert path.certificates == ["global"] * 3
    for beta, sol in zip(betas, path.solutions):
        cold = solve_convex_relu(M, y, beta=beta, patterns="exact", solver="CLARABEL")
        assert sol.report.objective == pytest.approx(cold.report.objective, rel=1e-6)


def test_each_solve_starts_from_the_previous_solution(monkeypatch):
    calls = []
    real = path_module.solve_convex_relu

    def spy(*args, **kwargs):
        calls.append(kwargs.get("warm_start"))
        sol = real(*args, **kwargs)
        calls[-1] = (calls[-1], sol)
        return sol

    monkeypatch.setattr(path_module, "solve_convex_relu", spy)
    M, y, P, beta_max = _block(m=40, seed=3)
    solve_convex_relu_path(M, y, [0.3 * beta_max, 0.1 * beta_max, 0.05 * beta_max], patterns=P, solver="ADMM")
    assert calls[0][0] is None
    for (start, _), (_, previous) in zip(calls[1:], calls[:-1]):
        assert start[0] is previous.V and start[1] is previous.W
    calls.clear()
    solve_convex_relu_path(M, y, [0.3 * beta_max, 0.1 * beta_max], patterns=P, solver="ADMM", warm_start=False)
    assert [c[0] for c in calls] == [None, None]


def test_uncertified_points_are_labelled_none():
    M, y, P, beta_max = _block(m=80, seed=5)
    with pytest.warns(InaccurateSolutionWarning):
        path = solve_convex_relu_path(M, y, [0.1 * beta_max, 0.01 * beta_max], patterns=P, solver="FISTA",
                                      solver_opts={"max_iter": 2})
    assert path.certificates == ["none", "none"] and not path.certified


def test_plot_draws_objective_active_groups_and_gap():
    matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is the [plot] extra")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    M, y, P, beta_max = _block(m=40, seed=7)
    path = solve_convex_relu_path(M, y, [0.3 * beta_max, 0.1 * beta_max, 0.03 * beta_max], patterns=P,
                                  solver="CLARABEL")
    axes = path.plot()
    assert len(axes) == 3
    np.testing.assert_allclose(axes[0].lines[0].get_ydata(), path.objectives)
    np.testing.assert_array_equal(axes[1].lines[0].get_ydata(), path.n_active)
    assert axes[2].get_yscale() == "log" and all(a.get_xscale() == "log" for a in axes)
    _, own = plt.subplots(3, 1)
    assert list(path.plot(ax=own)) == list(own)
    with pytest.raises(ValidationError, match="ax must hold three matplotlib Axes"):
        path.plot(ax=own[:2])
    plt.close("all")


@pytest.mark.parametrize("betas", [[], [1.0, -1.0], [[1.0]], [np.nan], "0.5"])
def test_bad_betas_are_refused(betas):
    M, y, P, _ = _block(m=20)
    with pytest.raises(ValidationError, match="betas must be a non-empty 1-D sequence of positive finite numbers"):
        solve_convex_relu_path(M, y, betas, patterns=P)


def test_bad_warm_start_flag_is_refused():
    M, y, P, _ = _block(m=20)
    with pytest.raises(ValidationError, match="warm_start must be True or False"):
        solve_convex_relu_path(M, y, [1.0], patterns=P, warm_start="yes")


def test_plot_without_matplotlib_names_the_extra(monkeypatch):
    import sys

    from cvximplicit.exceptions import MissingDependencyError

    M, y, P, beta_max = _block(m=20)
    path = solve_convex_relu_path(M, y, [0.5 * beta_max], patterns=P, solver="CLARABEL")
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # `import matplotlib.pyplot` now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"matplotlib is needed for ConvexReLUPath.plot: pip install "
                                                     r"'cvximplicit\[plot\]'"):
        path.plot()
