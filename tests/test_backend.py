"""Solver-name checking, the MOSEK licence probe, and the status-checked solve with fallback."""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
import pytest

from cvximplicit.exceptions import (
    InaccurateSolutionWarning,
    MosekLicenseError,
    SolverFailedError,
    SolverUnavailableError,
    ValidationError,
)
from cvximplicit.solvers import SOLVER_NAMES, available_solvers, check_solver, mosek_licensed, solve_cvxpy
from cvximplicit.solvers.engines import is_engine

#: Clarabel solves this tiny QP to its default gap tolerance (1e-8).
CLARABEL_ATOL = 1e-7
#: SCS (first-order, default eps 1e-4 relative).
SCS_ATOL = 1e-3


def _toy_problem():
    """``min ‖x − (1, 2)‖²  s.t. x ≥ 1.5``: optimum ``x = (1.5, 2)``, value 0.25."""
    x = cp.Variable(2)
    return cp.Problem(cp.Minimize(cp.sum_squares(x - np.array([1.0, 2.0]))), [x >= 1.5]), x


def test_names_are_normalised():
    assert check_solver("clarabel") == "CLARABEL"
    assert check_solver("Auto") == "auto"
    assert check_solver("fista") == "FISTA"
    assert {"auto", "FISTA", "CLARABEL", "SCS", "MOSEK"} <= set(SOLVER_NAMES)


def test_unknown_name_lists_valid_ones():
    with pytest.raises(SolverUnavailableError, match="unknown solver 'NOPE'") as info:
        check_solver("NOPE")
    assert "CLARABEL" in str(info.value) and "FISTA" in str(info.value)


def test_not_installed_solver_gives_pip_hint():
    missing = [s for s in SOLVER_NAMES if s != "auto" and not is_engine(s) and s not in cp.installed_solvers()]
    if not missing:
        pytest.skip("every cvxpy solver is installed here; nothing to test")
    with pytest.raises(SolverUnavailableError, match="not installed.*pip install"):
        check_solver(missing[0])


def test_mosek_unlicensed_raises_licence_error_with_real_probe():
    if "MOSEK" not in cp.installed_solvers():
        pytest.skip("MOSEK is not installed, so the licence path cannot be exercised")
    if mosek_licensed():
        pytest.skip("MOSEK is licensed on this machine; the unlicensed path cannot be exercised")
    with pytest.raises(MosekLicenseError) as info:
        check_solver("mosek")
    msg = str(info.value)
    assert "unlicensed" in msg and "MOSEKLM_LICENSE_FILE" in msg and "mosek.lic" in msg
    assert "solver='auto'" in msg and "CLARABEL" in msg
    assert isinstance(info.value, SolverUnavailableError)  # callers catching the parent see it too
    assert "MOSEK" not in available_solvers()


@pytest.mark.mosek
def test_mosek_solves_when_licensed():
    if not mosek_licensed():
        pytest.skip("needs a licensed MOSEK (mosek.Env().checkoutlicense failed: no licence file here)")
    problem, x = _toy_problem()
    out = solve_cvxpy(problem, solver="MOSEK")
    assert out.solver == "MOSEK" and out.status == "optimal"
    np.testing.assert_allclose(x.value, [1.5, 2.0], atol=CLARABEL_ATOL)


def test_available_solvers_are_usable():
    names = available_solvers()
    assert "CLARABEL" in names
    for name in names:
        assert check_solver(name) == name


def test_solve_returns_tuple_and_solution():
    problem, x = _toy_problem()
    solver, status, compile_s, solve_s, iters, reason = solve_cvxpy(problem, solver="auto")
    assert (solver, status) == ("CLARABEL", "optimal") and reason.startswith("auto: CLARABEL")
    assert compile_s >= 0 and solve_s >= 0 and iters is not None
    assert problem.value == pytest.approx(0.25, abs=CLARABEL_ATOL)
    np.testing.assert_allclose(x.value, [1.5, 2.0], atol=CLARABEL_ATOL)


def test_fista_is_not_a_cvxpy_solver():
    problem, _ = _toy_problem()
    with pytest.raises(SolverUnavailableError, match="an engine of the convex ReLU program"):
        solve_cvxpy(problem, solver="FISTA")


def _failing_solve(problem, fail_for, status="solver_error"):
    """Make ``problem.solve`` fail for the solvers in ``fail_for`` (raise or bad status)."""
    real = problem.solve
    calls = []

    def fake(*, solver, **opts):
        calls.append(solver)
        if solver in fail_for:
            if status == "raise":
                raise cp.error.SolverError(f"injected failure of {solver}")
            problem._status = status
            return None
        return real(solver=solver, **opts)

    problem.solve = fake
    return calls


@pytest.mark.parametrize("how", ["raise", "solver_error"])
def test_auto_falls_back_to_next_solver_and_says_why(how):
    problem, x = _toy_problem()
    calls = _failing_solve(problem, {"CLARABEL"}, status=how)
    out = solve_cvxpy(problem, solver="auto", fallback=("SCS",))
    assert calls == ["CLARABEL", "SCS"]
    assert out.solver == "SCS" and out.reason.startswith("auto: fallback after CLARABEL:")
    np.testing.assert_allclose(x.value, [1.5, 2.0], atol=SCS_ATOL)


@pytest.mark.parametrize("how", ["raise", "solver_error"])
def test_named_solver_never_falls_back(how):
    problem, _ = _toy_problem()
    calls = _failing_solve(problem, {"CLARABEL"}, status=how)
    with pytest.raises(SolverFailedError, match="the requested solver failed on toy: CLARABEL") as info:
        solve_cvxpy(problem, solver="CLARABEL", fallback=("SCS",), problem_name="toy")
    assert calls == ["CLARABEL"] and info.value.solver == "CLARABEL"


@pytest.mark.parametrize("solver", ["CLARABEL", "SCS", "ECOS", "auto"])
def test_unknown_option_raises_and_never_changes_solver(solver):
    problem, _ = _toy_problem()
    calls = _failing_solve(problem, set(), status="raise")
    with pytest.raises(ValidationError, match="bogus_opt"):
        solve_cvxpy(problem, solver=solver, solver_opts={"bogus_opt": 5})
    assert len(calls) <= 1  # rejected before or by the first solver, never retried on another


def test_unknown_clarabel_option_lists_the_valid_ones():
    problem, _ = _toy_problem()
    with pytest.raises(ValidationError, match=r"unknown option\(s\) \['bogus_opt'\] for solver 'CLARABEL'.*tol_gap_rel"):
        solve_cvxpy(problem, solver="CLARABEL", solver_opts={"bogus_opt": 5})


def test_exhausted_chain_raises_solver_failed_error():
    problem, _ = _toy_problem()
    calls = _failing_solve(problem, {"CLARABEL", "SCS"}, status="raise")
    with pytest.raises(SolverFailedError, match="no solver of the 'auto' chain succeeded on toy") as info:
        solve_cvxpy(problem, solver="auto", problem_name="toy")
    assert calls == ["CLARABEL", "SCS"]
    assert info.value.solver == "SCS" and "injected failure" in info.value.status


def test_infeasible_problem_raises_with_status():
    x = cp.Variable()
    problem = cp.Problem(cp.Minimize(x), [x >= 1, x <= 0])
    with pytest.raises(SolverFailedError) as info:
        solve_cvxpy(problem, solver="CLARABEL", fallback=())
    assert info.value.solver == "CLARABEL" and info.value.status == "infeasible"


def test_optimal_inaccurate_warns_with_numbers():
    problem, _ = _toy_problem()
    real = problem.solve

    def inaccurate(*, solver, **opts):
        real(solver=solver, **opts)
        problem._status = "optimal_inaccurate"

    problem.solve = inaccurate
    with pytest.warns(InaccurateSolutionWarning, match=r"CLARABEL returned 'optimal_inaccurate' on toy: objective=0\.25"):
        out = solve_cvxpy(problem, problem_name="toy")
    assert out.status == "optimal_inaccurate"


def test_solver_opts_reach_the_requested_solver_only():
    problem, _ = _toy_problem()
    seen = []
    real = problem.solve

    def spy(*, solver, **opts):
        seen.append((solver, opts))
        if solver == "CLARABEL":
            raise cp.error.SolverError("injected")
        return real(solver=solver, **opts)

    problem.solve = spy
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a successful fallback must not warn
        solve_cvxpy(problem, solver="auto", solver_opts={"max_iter": 50}, fallback=("SCS",),
                    default_opts={"SCS": {"eps_abs": 1e-6}})
    # Clarabel gets every one of its settings (its defaults, then the caller's): see the cached-problem test below
    from cvximplicit.solvers.core.backend import _clarabel_settings

    assert [name for name, _ in seen] == ["CLARABEL", "SCS"] and seen[1][1] == {"eps_abs": 1e-6}
    assert seen[0][1] == {**_clarabel_settings(), "max_iter": 50}


def test_a_cached_problem_does_not_keep_an_earlier_calls_clarabel_options():
    """cvxpy re-solves a cached problem by updating its Clarabel solver from the last call's settings: an option
    of one call (here ``max_iter=1``) must not leak into the next call with default options (it did: a later
    default solve of the same block stopped at ``user_limit``)."""
    import numpy as np

    from cvximplicit.exceptions import SolverFailedError
    from cvximplicit.solvers import solve_convex_relu

    rng = np.random.default_rng(7)
    M, y = np.c_[rng.uniform(-1, 1, 30), np.ones(30)], rng.standard_normal(30)
    with pytest.raises(SolverFailedError, match="user_limit"):
        solve_convex_relu(M, y, beta=0.5, patterns="exact", solver="CLARABEL", solver_opts={"max_iter": 1})
    again = solve_convex_relu(M, y, beta=0.5, patterns="exact", solver="CLARABEL")
    assert again.report.status == "optimal" and again.report.certificate == "global"
