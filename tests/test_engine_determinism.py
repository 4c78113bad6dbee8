"""Our engines give the same answer whatever the speed of the clock (budgets count work, never seconds).

Each engine runs three times on the same call: with the real clock, with a clock that runs 10× fast
(a slower or busier machine) and with one that runs 10× slow (a faster machine). ``V, W`` must be
bit-identical and every report field equal, timings aside. No ``time_limit_s`` is set: the clock
may act only through a limit the caller set.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from cvximplicit.solvers import exact_patterns_1d
from cvximplicit.solvers.engines.active_set import solve_convex_relu_active_set
from cvximplicit.solvers.engines.admm import clear_admm_cache, solve_convex_relu_admm
from cvximplicit.solvers.engines.first_order import solve_convex_relu_first_order

#: Engine and certificate tests: .ci/run runs them a second time with one BLAS thread.
pytestmark = pytest.mark.engine

#: Report fields (and ``extra`` keys) that are measurements of time, or of the cache's state: free to differ.
TIMING_FIELDS = {"compile_time_s", "solve_time_s", "total_time_s"}


def _warped_clock(monkeypatch, speed):
    """Make ``time.perf_counter`` (and ``time.time``) run ``speed`` times as fast from now on."""
    real_pc, real_t = time.perf_counter, time.time
    pc0, t0 = real_pc(), real_t()
    monkeypatch.setattr(time, "perf_counter", lambda: pc0 + speed * (real_pc() - pc0))
    monkeypatch.setattr(time, "time", lambda: t0 + speed * (real_t() - t0))


def _comparable(report):
    fields = {k: v for k, v in report.to_dict().items() if k not in TIMING_FIELDS and k != "extra"}
    extra = {k: v for k, v in report.extra.items() if "time" not in k and k != "cache_hit"}
    return fields, extra


def _exact_1d_block():
    rng = np.random.default_rng(3)
    u = np.sort(rng.uniform(-2, 2, 25))
    y = np.sin(2 * u) + 0.05 * rng.standard_normal(u.size)
    M = np.c_[u, np.ones_like(u)]
    patterns = exact_patterns_1d(u)
    bmax = max(float(np.linalg.norm(M.T @ (patterns[:, k] * y))) for k in range(patterns.shape[1]))
    return M, y, patterns, 0.05 * bmax


def _sampled_block():
    rng = np.random.default_rng(7)
    M = np.c_[rng.standard_normal((120, 4)), np.ones(120)]
    y = np.maximum(M @ rng.standard_normal(5), 0.0) - np.maximum(M @ rng.standard_normal(5), 0.0)
    patterns = M @ rng.standard_normal((5, 24)) >= 0
    bmax = max(float(np.linalg.norm(M.T @ (patterns[:, k] * y))) for k in range(patterns.shape[1]))
    return M, y, patterns, 0.02 * bmax


def _admm(M, y, patterns, beta):
    clear_admm_cache()
    return solve_convex_relu_admm(M, y, patterns, beta, tol=1e-8, max_iter=600)


def _fista(M, y, patterns, beta):
    return solve_convex_relu_first_order(M, y, patterns, beta, tol=1e-8, max_iter=1500)


def _active_set(M, y, patterns, beta):
    return solve_convex_relu_active_set(M, y, patterns, beta, tol=1e-8)


@pytest.mark.parametrize("engine", [_admm, _fista, _active_set], ids=["ADMM", "FISTA", "ACTIVE_SET"])
@pytest.mark.parametrize("block", [_exact_1d_block, _sampled_block], ids=["exact-1d", "sampled"])
def test_same_answer_under_a_fast_or_slow_clock(monkeypatch, engine, block):
    data = block()
    V, W, rep = engine(*data)
    for speed in (10.0, 0.1):
        with monkeypatch.context() as mp:
            _warped_clock(mp, speed)
            V2, W2, rep2 = engine(*data)
        assert np.array_equal(V, V2) and np.array_equal(W, W2), f"clock ×{speed} changed the solution"
        assert _comparable(rep2) == _comparable(rep), f"clock ×{speed} changed the report"
