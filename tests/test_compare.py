"""Solver comparison (cvximplicit.compare / `cvximplicit compare`): rows, hard time limit, block files, output."""

from __future__ import annotations

import json
import time

import cvxpy as cp
import numpy as np
import pytest

from cvximplicit import compare
from cvximplicit.cli import main
from cvximplicit.exceptions import DataError, ValidationError
from cvximplicit.solvers import exact_patterns_1d

pytestmark = pytest.mark.filterwarnings("ignore")

#: Clarabel at its default tolerances (1e-8) vs our own cvxpy program: objectives agree to this (relative).
OBJECTIVE_RTOL = 1e-6


def tiny_1d(m=30, seed=0):
    rng = np.random.default_rng(seed)
    u = np.sort(rng.uniform(-2, 2, m))
    y = np.sin(2 * u) + 0.1 * rng.standard_normal(m)
    return compare.BlockProblem("tiny-1d", np.c_[u, np.ones(m)], y, "exact", beta=0.5)


def reference_objective(M, y, patterns, beta):
    """Program (12) written out directly in cvxpy (one V, W column per pattern)."""
    d, P = M.shape[1], patterns.shape[1]
    D = patterns.astype(float)
    V, W = cp.Variable((d, P)), cp.Variable((d, P))
    fit = cp.sum(cp.multiply(D, M @ (V - W)), axis=1)
    S = 2 * D - 1
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(fit - y) + beta * (cp.sum(cp.norm(V, 2, axis=0))
                                                                           + cp.sum(cp.norm(W, 2, axis=0)))),
                      [cp.multiply(S, M @ V) >= 0, cp.multiply(S, M @ W) >= 0])
    prob.solve(solver="CLARABEL")
    return prob.value


def test_named_problems_have_the_documented_shapes():
    shapes = {name: compare.make_problem(name).M.shape for name in compare.PROBLEMS}
    assert shapes == {"exact-1d": (500, 2), "sampled-d50": (2000, 50), "wide": (500, 401)}
    wide = compare.make_problem("wide")
    assert wide.Y.shape == (500, 2) and np.all(wide.M[:, -1] == 1.0)
    with pytest.raises(ValidationError, match="problem must be one of"):
        compare.make_problem("nope")


def test_rows_match_an_independent_solve():
    problem = tiny_1d()
    rows = compare.compare_solvers(problem, ["CLARABEL", "ECOS"], time_limit_s=60)
    assert [r["solver"] for r in rows] == ["CLARABEL", "ECOS"]
    ref = reference_objective(problem.M, problem.Y, exact_patterns_1d(problem.M[:, 0]), problem.beta)
    clarabel = rows[0]
    assert clarabel["status"] == "optimal" and clarabel["error"] is None
    assert clarabel["certificate"] == "global"
    assert clarabel["objective"] == pytest.approx(ref, rel=OBJECTIVE_RTOL)
    assert clarabel["bound"] <= clarabel["objective"] + 1e-9
    assert 0 < clarabel["time_s"] < 60 and clarabel["peak_rss_mib"] > 10
    assert clarabel["solver_used"] == "CLARABEL"
    # ECOS solves the same program: its objective cannot be below the certified bound of Clarabel's.
    assert rows[1]["objective"] >= clarabel["bound"] - 1e-6 * abs(clarabel["bound"])


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(),
                    reason="the stubbed solve reaches the child process through fork only")
def test_a_solver_past_the_limit_is_stopped_and_reported(monkeypatch):
    """The hard stop of a solver without a time-limit option. Its solve is forced past the limit (a stub that
    sleeps, in the forked child), so the test does not depend on how long ECOS takes on this machine."""
    import cvximplicit.compare.run as run_module

    assert "ECOS" not in compare.TIME_LIMIT_OPTIONS  # ECOS has no time-limit option: only the hard stop applies
    monkeypatch.setattr(run_module, "_solve_row", lambda problem, solver, own_limit_s: time.sleep(600))
    problem = tiny_1d()
    start = time.perf_counter()
    (row,) = compare.compare_solvers(problem, ["ECOS"], time_limit_s=1.5, start_method="fork")
    wall = time.perf_counter() - start
    assert row["status"] == "time_limit" and row["certificate"] is None and row["objective"] is None
    assert 1.5 <= row["time_s"] < 3.0 and wall < 6.0
    assert "stopped at the 1.5 s limit" in row["error"]
    assert row["peak_rss_mib"] is None or row["peak_rss_mib"] > 10  # read from /proc before the stop
    assert "none" in compare.format_row(row) and "time_limit" in compare.format_row(row)


def test_unknown_solver_is_an_error_row_not_a_crash():
    (row,) = compare.compare_solvers(tiny_1d(), ["NOPE"], time_limit_s=30)
    assert row["status"] == "error" and "NOPE" in row["error"]


def test_argument_checks():
    with pytest.raises(ValidationError, match=r"time_limit_s must be a finite number > 0.0; got time_limit_s="):
        compare.compare_solvers(tiny_1d(), ["CLARABEL"], time_limit_s=0)
    with pytest.raises(ValidationError, match="solver_share"):
        compare.compare_solvers(tiny_1d(), ["CLARABEL"], time_limit_s=1, solver_share=1.5)
    with pytest.raises(ValidationError, match="at least one solver"):
        compare.compare_solvers(tiny_1d(), [], time_limit_s=1)


def test_default_solvers_take_second_order_cones():
    names = compare.default_solvers()
    assert "FISTA" in names and "ECOS_BB" not in names
    assert not {"OSQP", "HIGHS", "SCIPY"} & set(names)


def test_default_solvers_include_the_engine_auto_runs():
    names = compare.default_solvers()
    assert {"ACTIVE_SET", "FISTA", "ADMM"} <= set(names) and "ACTIVE_SET" in compare.TIME_LIMIT_OPTIONS


def test_the_shape_states_the_pattern_count_actually_used():
    rng = np.random.default_rng(2)
    M = np.c_[rng.standard_normal((40, 2)), np.ones(40)]
    problem = compare.BlockProblem("b", M, M[:, 0], "auto", n_patterns=500)
    P = problem.pattern_set.patterns.shape[1]
    assert P < 500 and problem.shape == f"m=40, d=3, q=1, P={P}"  # duplicates of 500 gates removed
    exact = tiny_1d()
    assert exact.shape == f"m=30, d=2, q=1, P={2 * 30 - 1} (every arrangement)"
    (row,) = compare.compare_solvers(problem, ["ACTIVE_SET"], time_limit_s=60)
    assert row["n_patterns"] == P and row["shape"] == problem.shape and row["certificate"] == "restricted"


def test_beta_as_a_ratio_of_beta_max():
    from cvximplicit.solvers import beta_max

    problem = tiny_1d()
    bm = beta_max(problem.M, problem.Y, problem.pattern_set.patterns)
    assert problem.beta_max == pytest.approx(bm, rel=1e-12)
    scaled = problem.with_beta(beta_ratio=0.1)
    assert scaled.beta == pytest.approx(0.1 * bm) and scaled.beta_ratio == pytest.approx(0.1)
    assert "= 0.1 β_max" in scaled.beta_text and "zero network" not in scaled.beta_text
    assert "β ≥ β_max: the zero network is optimal" in problem.with_beta(beta=2 * bm).beta_text
    assert problem.with_beta() is problem
    with pytest.raises(ValidationError, match="give beta or beta_ratio, not both"):
        problem.with_beta(beta=1.0, beta_ratio=0.1)
    with pytest.raises(ValidationError, match="beta_ratio must be a positive finite number; got beta_ratio=0"):
        problem.with_beta(beta_ratio=0)


def test_block_file(tmp_path):
    problem = tiny_1d()
    pats = exact_patterns_1d(problem.M[:, 0])
    np.savez(tmp_path / "block.npz", M=problem.M, Y=problem.Y, patterns=pats, beta=0.5)
    loaded = compare.load_problem(tmp_path / "block.npz")
    assert loaded.beta == 0.5 and loaded.patterns.shape == pats.shape and loaded.name == "block"
    assert compare.load_problem(tmp_path / "block.npz", beta=2.0).beta == 2.0
    np.savez(tmp_path / "noY.npz", M=problem.M)
    with pytest.raises(DataError, match=r"lacks \['Y'\]"):
        compare.load_problem(tmp_path / "noY.npz")
    np.save(tmp_path / "arr.npy", problem.M)
    with pytest.raises(DataError, match="not an .npz block file"):
        compare.load_problem(tmp_path / "arr.npy")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="cannot read"):
        compare.load_problem(tmp_path / "bad.npz")
    np.savez(tmp_path / "complex.npz", M=problem.M + 0j, Y=problem.Y)
    with pytest.raises(ValidationError, match="omplex"):
        compare.load_problem(tmp_path / "complex.npz")
    (tmp_path / "text.npz").write_text("M,Y\n1,2\n")
    with pytest.raises(DataError, match="is not an .npz archive"):
        compare.load_problem(tmp_path / "text.npz")


def test_table_marks_uncertified_gaps():
    base = {"problem": "p", "solver": "S", "time_s": 1.0, "objective": 2.0, "bound": 1.0, "gap_rel": None,
            "bound_gap_rel": 0.5, "certificate": "none", "status": "time_limit", "peak_rss_mib": 100.0}
    assert "(5.0e-01)" in compare.format_row(base)
    assert "1.0e-09" in compare.format_row({**base, "gap_rel": 1e-9, "certificate": "global"})
    table = compare.format_table([base])
    assert table.splitlines()[0].startswith("problem") and len(table.splitlines()) == 3


def test_cli_compare_writes_json_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the comparison figure needs matplotlib")
    problem = tiny_1d()
    np.savez(tmp_path / "block.npz", M=problem.M, Y=problem.Y, beta=0.5)
    rc = main(["compare", str(tmp_path / "block.npz"), "--solvers", "clarabel", "--time-limit", "30",
               "--json", str(tmp_path / "rows.json"), "--plot", str(tmp_path / "fig.png")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "cert. gap" in out and "fastest certified: CLARABEL" in out
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert len(rows) == 1 and rows[0]["solver"] == "CLARABEL" and rows[0]["certificate"] == "global"
    assert (tmp_path / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["compare", "no-such-problem"]) == 2
    assert "unknown problem 'no-such-problem'" in capsys.readouterr().err


def test_cli_compare_beta_ratio_and_the_header(tmp_path, capsys):
    problem = tiny_1d()
    np.savez(tmp_path / "block.npz", M=problem.M, Y=problem.Y)
    rc = main(["compare", str(tmp_path / "block.npz"), "--solvers", "ACTIVE_SET", "--beta-ratio", "0.25",
               "--json", str(tmp_path / "rows.json")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "  block: m=30, d=2, q=1, P=59 (every arrangement); β = " in out and "= 0.25 β_max" in out
    (row,) = json.loads((tmp_path / "rows.json").read_text())
    assert row["beta_ratio"] == pytest.approx(0.25) and row["beta"] == pytest.approx(0.25 * row["beta_max"])
    assert row["n_patterns"] == 59 and row["solver"] == "ACTIVE_SET"
    assert main(["compare", str(tmp_path / "block.npz"), "--solvers", "ACTIVE_SET", "--beta", "1e6"]) == 0
    assert "(β ≥ β_max: the zero network is optimal)" in capsys.readouterr().out
    assert main(["compare", str(tmp_path / "block.npz"), "--beta-ratio", "-1"]) == 2
    assert "--beta-ratio must be a positive finite number; got --beta-ratio -1" in capsys.readouterr().err


def test_every_engine_is_compared_and_benchmarked():
    # our engines (the registry solve_convex_relu dispatches to) are in `compare`'s default list and each has a
    # solver file in the benchopt benchmark, whose `name` is the engine's
    from pathlib import Path

    from cvximplicit.solvers.engines.registry import ENGINES

    assert set(ENGINES) <= set(compare.default_solvers())
    solvers = Path(__file__).resolve().parents[1] / "benchmarks" / "benchopt_relu" / "solvers"
    names = {line.split("=", 1)[1].strip().strip('"') for f in solvers.glob("*.py")
             for line in f.read_text().splitlines() if line.strip().startswith("name = ")}
    assert set(ENGINES) <= names
