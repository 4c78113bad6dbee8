"""The engine protocol: FISTA, ADMM and the conic engine behind one ``solve(program, warm_start, options)``."""

import numpy as np
import pytest

from cvximplicit.exceptions import ValidationError
from cvximplicit.solvers import solve_convex_relu
from cvximplicit.solvers.engines import (
    Engine,
    EngineSolution,
    FunctionEngine,
    WarmStart,
    get_engine,
)
from cvximplicit.solvers.relu.arrangements import resolve_patterns
from cvximplicit.solvers.relu.conic import ConicEngine
from cvximplicit.solvers.relu.program import ReluProgram

#: Engine and certificate tests: .ci/run runs them a second time with one BLAS thread.
pytestmark = pytest.mark.engine


def _program(m=30, d=3, q=1, seed=0):
    rng = np.random.default_rng(seed)
    M = np.c_[rng.standard_normal((m, d - 1)), np.ones(m)]
    Y = rng.standard_normal((m, q))
    patterns = resolve_patterns(M, "sampled", 12, seed).patterns
    return ReluProgram.from_data(M, Y, patterns, 0.1)


@pytest.mark.parametrize("name", ["FISTA", "ADMM", "CLARABEL", "auto"])
def test_every_engine_follows_the_protocol(name):
    engine = get_engine(name)
    assert isinstance(engine, Engine)
    assert isinstance(engine, ConicEngine if name in ("CLARABEL", "auto") else FunctionEngine)
    program = _program()
    options = engine.check_options({"tol": 1e-7} if isinstance(engine, FunctionEngine) else None)
    sol = engine.solve(program, None, options)
    assert isinstance(sol, EngineSolution)
    P, d, q = program.patterns.shape[1], program.M.shape[1], program.Y.shape[1]
    assert sol.V.shape == sol.W.shape == (P, d, q)
    assert sol.solver == ("CLARABEL" if name == "auto" else name)
    if isinstance(engine, FunctionEngine):  # the engine's own float64 certificate
        assert sol.certificate.bound == sol.report.bound and sol.multipliers is None and sol.report.solver == name
        assert engine.gap_tol(options) == 1e-7
    else:  # the caller recomputes the bound from the duals
        assert sol.certificate is None and len(sol.multipliers) == 2
        assert engine.gap_tol(options, "SCS") == 1e-3 and engine.gap_tol(options) == 1e-6


def test_engine_options_are_strict_and_name_the_valid_ones():
    engine = get_engine("FISTA")
    assert "V0" not in engine.option_names and "max_iter" in engine.option_names
    with pytest.raises(ValidationError, match=r"unknown option\(s\) \['nope'\] for engine 'FISTA'; valid options"):
        engine.check_options({"nope": 1})
    with pytest.raises(ValidationError, match="solver='auto' chose"):
        rng = np.random.default_rng(1)
        solve_convex_relu(rng.standard_normal((400, 60)), rng.standard_normal(400), beta=0.1, patterns="sampled",
                          n_patterns=60, solver_opts={"nope": 1})


@pytest.mark.parametrize("name", ["FISTA", "ADMM"])
def test_warm_start_argument_equals_options_spelling(name):
    program = _program(seed=3)
    data = dict(beta=program.beta, patterns=program.patterns, solver=name)
    cold = solve_convex_relu(program.M, program.Y, solver_opts={"tol": 1e-4}, **data)
    warm = solve_convex_relu(program.M, program.Y, solver_opts={"tol": 1e-4}, warm_start=WarmStart(cold.V, cold.W),
                             **data)
    legacy = solve_convex_relu(program.M, program.Y, solver_opts={"tol": 1e-4, "V0": cold.V, "W0": cold.W}, **data)
    np.testing.assert_allclose(warm.V, legacy.V, rtol=1e-8, atol=1e-10)  # ADMM's cache re-uses the last duals
    assert max(warm.report.iterations, legacy.report.iterations) <= cold.report.iterations
    assert warm.report.certificate == legacy.report.certificate
    with pytest.raises(ValidationError, match="warm_start must be None or a pair"):
        solve_convex_relu(program.M, program.Y, warm_start=cold.V, **data)


def test_conic_engine_refines_only_clarabel_without_options():
    program = _program()
    engine = get_engine("auto")
    sol = engine.solve(program, None, None)
    assert len(list(engine.refine(program, sol, {"max_iter": 50}))) == 0
    assert len(list(engine.refine(program, sol._replace(solver="SCS"), None))) == 0
    first = next(engine.refine(program, sol, None))
    assert first.solver == "CLARABEL" and "1/3 of the refinement ladder" in first.note
