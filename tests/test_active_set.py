"""The working-set engine ``ACTIVE_SET`` for program (12) against the conic reference (Clarabel through cvxpy)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from cvximplicit.exceptions import ValidationError
from cvximplicit.solvers import constraint_violation, convex_objective, sample_patterns, solve_convex_relu
from cvximplicit.solvers.engines.active_set import ACTIVE_SET_OPTIONS
from cvximplicit.solvers.engines.active_set import solve_convex_relu_active_set as solve
from tests.test_admm import beta_max, clarabel, make_problem

#: Engine and certificate tests: .ci/run runs them a second time with one BLAS thread.
pytestmark = pytest.mark.engine

#: The engine's certified relative gap in these tests, and the agreement asked with Clarabel (whose own
#: relative gap tolerance is 1e-8): both far above round-off, far below any real error.
TOL = 1e-8
AGREE_REL = 1e-6


@pytest.mark.parametrize("m, d, P, q, frac, seed", [
    (40, 3, 8, 1, 0.3, 21), (40, 3, 8, 2, 0.1, 22), (120, 5, 20, 1, 0.02, 5), (80, 4, 16, 3, 0.05, 8),
    (200, 8, 30, 1, 0.01, 13),
])
def test_agrees_with_clarabel(m, d, P, q, frac, seed):
    M, Y, patterns = make_problem(m=m, d=d, P=P, q=q, seed=seed)
    beta = frac * beta_max(M, Y, patterns)
    opt, _ = clarabel(M, Y, patterns, beta)
    V, W, rep = solve(M, Y, patterns, beta, tol=TOL)
    assert rep.status == "optimal" and rep.certificate == "restricted", rep.summary()
    assert rep.solver == "ACTIVE_SET" and V.shape == W.shape == (patterns.shape[1], d, q)
    assert abs(rep.objective - opt) <= AGREE_REL * max(1.0, opt)
    assert abs(rep.bound - opt) <= AGREE_REL * max(1.0, opt)
    assert rep.bound <= opt * (1 + 1e-8) + 1e-12  # a lower bound (Clarabel's accuracy 1e-8)
    # exactly feasible, and the objective is the float64 one at the returned point
    assert constraint_violation(M, patterns, V, W) == 0.0 and rep.residual == 0.0
    assert rep.objective == pytest.approx(convex_objective(M, Y, patterns, V, W, beta), rel=1e-13)


def _degenerate_block(seed=32, m=60, k=8, P=20):
    """A block like the trainer's later ones: ReLU states (many exact zeros) beside the input and a bias.

    Many rows share their zero pattern, so a group's point meets far more than ``d`` rows at zero, with
    dependent and duplicate rows among them (a degenerate face).
    """
    from cvximplicit.solvers import sample_patterns

    rng = np.random.default_rng(seed)
    u = rng.uniform(-1, 1, (m, 1))
    H = np.maximum(u @ rng.standard_normal((1, k)) + 0.3 * rng.standard_normal(k), 0.0)
    M = np.c_[u, H, np.ones(m)]
    y = np.sin(3 * u[:, 0]) + 0.1 * rng.standard_normal(m)
    return M, y[:, None], sample_patterns(M, P, seed=seed)


def test_degenerate_faces_do_not_cycle():
    """Found on a Table I block: least-squares multipliers split arbitrarily between dependent tight rows, a
    row left and re-entered at a zero step, and the engine spent its Newton budget at gap 1.0 (this block:
    1 500 steps, gap 0.997). NNLS multipliers over every row at zero and a Cauchy step along the tangent-cone
    projection make every face change a strict decrease."""
    M, Y, patterns = _degenerate_block()
    beta = 0.01 * beta_max(M, Y, patterns)
    opt, _ = clarabel(M, Y, patterns, beta)
    V, W, rep = solve(M, Y, patterns, beta, tol=TOL, max_newton=1500)
    assert rep.status == "optimal" and rep.certificate == "restricted", rep.summary()
    assert rep.extra["newton_steps"] < 500
    assert abs(rep.objective - opt) <= AGREE_REL * max(1.0, opt)
    assert constraint_violation(M, patterns, V, W) == 0.0


def test_bound_takes_nonnegative_multipliers_on_degenerate_faces():
    """Duplicated and scaled samples make faces with dependent tight rows. On this block (seed 0, 0.02 β_max) a
    working-set group was stationary on its face, but the least-squares split of its multipliers had a negative
    entry; the full pass clipped it to zero, the group's dual value read 14 β, and 60 passes ended at gap 0.34.
    The bound now takes that group's NNLS multipliers over its rows at zero (the best ``μ ≥ 0``)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    X = np.vstack([X, X, 2 * X[:20]])
    M = np.c_[X, np.ones(len(X))]
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    patterns = sample_patterns(M, 20, seed=0)
    beta = 0.02 * float(np.linalg.norm(M.T @ (patterns * y[:, None]), axis=0).max())  # 0.02 β_max
    opt, _ = clarabel(M, y[:, None], patterns, beta)
    V, W, rep = solve(M, y, patterns, beta, tol=1e-6)
    assert rep.status == "optimal" and rep.certificate == "restricted", rep.summary()
    assert rep.iterations < 30
    assert abs(rep.objective - opt) <= AGREE_REL * max(1.0, opt)
    assert constraint_violation(M, patterns, V, W) == 0.0


def _recorded(name):
    """A program recorded where the engine once stalled (``tests/data/active_set_regressions.npz``): ``zigzag`` and
    ``shrinking`` are Table I blocks (100 rows, the pool rule's warm-started third solve), ``stall`` is output 0 of an
    MNIST block (block 5 of the wide preset with the convex step on 1 000 rows and all ten outputs: 30 principal
    directions of the block input plus its bias, 120 sampled and guided patterns)."""
    from pathlib import Path

    data = np.load(Path(__file__).parent / "data" / "active_set_regressions.npz")
    warm = {k: data[f"{name}_{k}"] for k in ("V0", "W0") if f"{name}_{k}" in data}
    return data[f"{name}_M"], data[f"{name}_y"], data[f"{name}_patterns"], float(data[f"{name}_beta"]), warm


@pytest.mark.parametrize("name, newton_before, newton_max", [("zigzag", 2162, 300), ("shrinking", 4000, 300)])
def test_recorded_blocks_converge_in_few_newton_steps(name, newton_before, newton_max):
    """Two ways the inner solve crawled on recorded Table I blocks. ``zigzag``: at a coarse inner tolerance the
    tight rows' multipliers were inaccurate, a row left and re-joined 700 times for decreases of 3e-6 each (2 162
    Newton steps); a Cauchy step that would gain less than the inner tolerance now ends the inner solve.
    ``shrinking`` (seen once that fix alone was in): a group bound for zero oscillated near it, where its norm
    bends, and the damping it set off slowed every other group (the whole 4 000-step budget, no certificate); a
    group whose ray minimiser ``t* ≤ 0`` now steps to zero."""
    M, y, patterns, beta, warm = _recorded(name)
    opt, _ = clarabel(M, y, patterns, beta)
    V, W, rep = solve(M, y, patterns, beta, tol=1e-6, **warm)
    assert rep.status == "optimal" and rep.certificate == "restricted", rep.summary()
    assert rep.extra["newton_steps"] <= newton_max < newton_before
    assert abs(rep.objective - opt) <= 1e-6 * max(1.0, opt)
    assert constraint_violation(M, patterns, V, W) == 0.0


def test_recorded_stall_at_a_near_zero_step_is_certified():
    """A recorded MNIST block output (seen with the zigzag fix alone): a row 1.2e-12 of the Newton step away,
    just above the degenerate threshold of 1e-12, blocked every step; the short step to it was found, then
    rejected as "no decrease", and 54 passes repeated one point (gap 1.4e-4; in the trainer the ADMM fallback then
    took 200 s). Rows met within 1e-9 of the step now join at once, and a short step to a blocking row is taken."""
    M, y, patterns, beta, _ = _recorded("stall")
    V, W, rep = solve(M, y, patterns, beta, tol=1e-6, max_outer=20)
    assert rep.status == "optimal" and rep.certificate == "restricted", rep.summary()
    assert rep.gap_rel <= 1e-6 and constraint_violation(M, patterns, V, W) == 0.0


def test_stopped_early_is_honest():
    M, Y, patterns = make_problem(m=200, d=8, P=30, q=1, seed=13)
    beta = 0.01 * beta_max(M, Y, patterns)
    opt, _ = clarabel(M, Y, patterns, beta)
    V, W, rep = solve(M, Y, patterns, beta, tol=1e-12, max_newton=2)
    assert rep.status == "max_iter" and rep.certificate == "none" and rep.gap_rel > 1e-12
    assert rep.bound <= opt * (1 + 1e-8) and rep.objective >= opt * (1 - 1e-8)
    assert constraint_violation(M, patterns, V, W) == 0.0


def test_warm_start_from_the_solution_is_cheaper_than_cold():
    M, Y, patterns = make_problem(m=120, d=5, P=20, q=2, seed=5)
    beta = 0.02 * beta_max(M, Y, patterns)
    V, W, cold = solve(M, Y, patterns, beta, tol=TOL)
    V2, W2, warm = solve(M, Y, patterns, beta, tol=TOL, V0=V, W0=W)
    assert warm.status == "optimal" and warm.certificate == "restricted"
    assert warm.iterations <= cold.iterations and warm.extra["newton_steps"] < cold.extra["newton_steps"]
    assert warm.objective == pytest.approx(cold.objective, rel=1e-7)


def test_zero_solution_above_beta_max():
    M, Y, patterns = make_problem(m=60, d=4, P=10, q=1, seed=3)
    V, W, rep = solve(M, Y, patterns, 1.01 * beta_max(M, Y, patterns))
    assert rep.status == "optimal" and not V.any() and not W.any()
    assert rep.objective == pytest.approx(0.5 * float(np.sum(Y**2)))


def test_through_solve_convex_relu_and_strict_options():
    M, Y, patterns = make_problem(m=60, d=4, P=10, q=1, seed=3)
    beta = 0.05 * beta_max(M, Y, patterns)
    sol = solve_convex_relu(M, Y, beta=beta, patterns=patterns, solver="active_set", solver_opts={"tol": 1e-9})
    assert sol.report.solver == "ACTIVE_SET" and sol.report.certificate == "restricted"
    with pytest.raises(ValidationError, match="unknown option.*'step'.*ACTIVE_SET"):
        solve_convex_relu(M, Y, beta=beta, patterns=patterns, solver="ACTIVE_SET", solver_opts={"step": 1})
    with pytest.raises(ValidationError, match="unknown ACTIVE_SET option.*valid options are tol"):
        solve(M, Y, patterns, beta, step=1)
    with pytest.raises(ValidationError, match="max_newton"):
        solve(M, Y, patterns, beta, max_newton=0)
    assert set(ACTIVE_SET_OPTIONS) >= {"tol", "max_outer", "max_newton", "time_limit_s"}


def test_outputs_in_two_processes_are_bit_identical():
    """``n_jobs=2`` forks two workers (one BLAS thread each, as on this small block the sequential solve runs): the
    same point, objective and bound to the bit, assembled in output order; the deadline holds in the workers."""
    M, Y, patterns = make_problem(m=80, d=4, P=16, q=3, seed=8)
    beta = 0.05 * beta_max(M, Y, patterns)
    V1, W1, one = solve(M, Y, patterns, beta, tol=TOL, n_jobs=1)
    V2, W2, two = solve(M, Y, patterns, beta, tol=TOL, n_jobs=2)
    assert one.extra["n_jobs"] == 1 and two.extra["n_jobs"] == 2 and two.certificate == "restricted"
    assert np.array_equal(V1, V2) and np.array_equal(W1, W2)
    assert (two.objective, two.bound, two.extra["working_set"]) == (one.objective, one.bound, one.extra["working_set"])
    _, _, late = solve(M, Y, patterns, beta, tol=TOL, n_jobs=2, time_limit_s=1e-9)
    assert late.status == "time_limit" and late.extra["outer_passes"] == 0


@pytest.mark.parametrize("bad", [0, -2, 1.5, "x"])
def test_bad_n_jobs_is_named(bad):
    M, Y, patterns = make_problem(m=30, d=3, P=6, q=1, seed=1)
    with pytest.raises(ValidationError, match="n_jobs"):
        solve(M, Y, patterns, 1.0, n_jobs=bad)


def test_small_block_is_solved_in_this_process_by_default():
    M, Y, patterns = make_problem(m=60, d=4, P=10, q=2, seed=3)
    _, _, rep = solve(M, Y, patterns, 0.05 * beta_max(M, Y, patterns))
    assert rep.extra["n_jobs"] == 1


def test_a_workers_exception_reaches_the_caller(monkeypatch):
    """Patched before the fork, the failing output function is the workers' too; its error comes back as it was."""
    from cvximplicit.solvers.engines.active_set import solve as solve_module

    real = solve_module._solve_one_output

    def failing(c, shared):
        if c == 1:
            raise FloatingPointError("output 1 failed")
        return real(c, shared)

    monkeypatch.setattr(solve_module, "_solve_one_output", failing)
    M, Y, patterns = make_problem(m=40, d=3, P=8, q=2, seed=22)
    with pytest.raises(FloatingPointError, match="^output 1 failed$"):
        solve(M, Y, patterns, 0.1 * beta_max(M, Y, patterns), n_jobs=2)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux-only")
def test_workers_die_with_a_killed_parent(tmp_path):
    """A parent killed mid-solve (e.g. by a caller's timeout) must not leave forked workers solving on."""
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(f"""
        import os, numpy as np
        from cvximplicit.solvers.engines.active_set import outputs
        def slow(c, shared):
            open(os.path.join({str(tmp_path)!r}, f"w{{os.getpid()}}"), "w").close()
            import time; time.sleep(60)
        class Shared(tuple):
            deadline = None
            def _replace(self, **kw): return self
        outputs.map_outputs(slow, Shared(), 2, 2)
    """))
    proc = subprocess.Popen([sys.executable, str(script)])
    for _ in range(200):
        pids = [int(p.name[1:]) for p in tmp_path.glob("w*")]
        if len(pids) == 2:
            break
        time.sleep(0.05)
    assert len(pids) == 2
    proc.kill()
    proc.wait()
    for _ in range(100):
        alive = [p for p in pids if _running(p)]
        if not alive:
            break
        time.sleep(0.05)
    assert not alive


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
