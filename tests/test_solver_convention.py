"""One convention for the public solvers of program (12): arguments, the bias column, β_max, predict and summary."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

from cvximplicit import MissingBiasWarning, ValidationError
from cvximplicit.solvers import (
    DEFAULT_N_PATTERNS,
    beta_max,
    sample_patterns,
    solve_convex_relu,
    solve_convex_relu_ce,
    solve_convex_relu_path,
    solve_gated_relu,
)

SOLVERS = {
    "solve_convex_relu": lambda M, y, **kw: solve_convex_relu(M, y, beta=0.3, **kw),
    "solve_gated_relu": lambda M, y, **kw: solve_gated_relu(M, y, beta=0.3, **kw),
    "solve_convex_relu_path": lambda M, y, **kw: solve_convex_relu_path(M, y, [0.5, 0.3], **kw),
    "solve_convex_relu_ce": lambda M, y, **kw: solve_convex_relu_ce(M, np.eye(2)[(y > 0.5).astype(int)], beta=0.3,
                                                                    **kw),
    "beta_max": lambda M, y, **kw: beta_max(M, y, **kw),
}
#: The solution objects of every solver (a path's solutions included).
SOLUTIONS = ("solve_convex_relu", "solve_gated_relu", "solve_convex_relu_path", "solve_convex_relu_ce")


def _scalar_input(m=40, seed=4):
    rng = np.random.default_rng(seed)
    u = rng.uniform(-3, 3, m)
    return u, np.abs(np.sin(u))


def _solutions(result):
    return list(result.solutions) if hasattr(result, "solutions") else [result]


@pytest.mark.parametrize("name", list(SOLVERS))
def test_a_missing_constant_column_is_said_and_bias_false_silences_it(name):
    u, y = _scalar_input()
    with pytest.warns(MissingBiasWarning, match=rf"{name}: M \(40 × 1, rows are samples\) has no constant column.*"
                                                r"bias=True.*bias=False"):
        SOLVERS[name](u[:, None], y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingBiasWarning)
        SOLVERS[name](u[:, None], y, bias=False)
        SOLVERS[name](np.c_[u, np.ones_like(u)], y)  # a constant column: nothing to say


@pytest.mark.parametrize("name", SOLUTIONS)
def test_bias_true_solves_the_program_with_ones_and_predict_appends_them(name):
    u, y = _scalar_input()
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingBiasWarning)
        appended = _solutions(SOLVERS[name](u[:, None], y, bias=True))
    explicit = _solutions(SOLVERS[name](np.c_[u, np.ones_like(u)], y))
    u_new = np.linspace(-2.5, 2.5, 7)
    for a, e in zip(appended, explicit):
        assert a.bias and not e.bias
        assert a.report.certificate == e.report.certificate
        assert a.report.objective == pytest.approx(e.report.objective, rel=1e-6, abs=1e-9)
        assert "appended by bias=True" in a.report.scope["bias"] and "constant column 1" in e.report.scope["bias"]
        np.testing.assert_allclose(a.predict(u_new[:, None]), e.predict(np.c_[u_new, np.ones(7)]), rtol=1e-5,
                                   atol=1e-6)
        with pytest.raises(ValidationError, match=r"M must have shape \(m, 1\).*appended by predict"):
            a.predict(np.c_[u_new, np.ones(7)])


def test_bias_true_with_a_constant_column_and_bad_values_are_refused():
    u, y = _scalar_input()
    with pytest.raises(ValidationError, match=r"already has a constant column \(column 1\); bias=True would append "
                                              "a second one"):
        solve_convex_relu(np.c_[u, np.ones_like(u)], y, beta=0.1, bias=True)
    with pytest.raises(ValidationError, match=r"bias must be None .*, True .* or False .*; got bias=1"):
        solve_gated_relu(u[:, None], y, beta=0.1, bias=1)


def test_a_scalar_input_with_bias_true_gets_every_arrangement_and_a_global_certificate():
    u, y = _scalar_input()
    with pytest.warns(MissingBiasWarning):
        plain = solve_convex_relu(u[:, None], y, beta=0.1)
    assert plain.report.certificate == "restricted"  # sampled patterns of hyperplanes through the origin
    assert solve_convex_relu(u[:, None], y, beta=0.1, bias=True).report.certificate == "global"


def test_beta_max_is_the_largest_group_score_over_patterns_and_outputs():
    rng = np.random.default_rng(1)
    M = np.c_[rng.standard_normal((50, 3)), np.ones(50)]
    Y = rng.standard_normal((50, 2)) * [1.0, 5.0]
    P = rng.random((50, 7)) > 0.5
    expected = max(np.linalg.norm(M.T @ (P[:, k] * Y[:, c])) for k in range(7) for c in range(2))
    assert beta_max(M, Y, P) == pytest.approx(expected, rel=1e-12)
    assert beta_max(M, Y[:, 1], P) == pytest.approx(expected, rel=1e-12)  # output 1 holds the maximum
    # the zero network is optimal from β_max on (certified: the bound at λ = Y is the zero network's objective)
    bm = beta_max(M, Y, P)
    at = solve_convex_relu(M, Y, beta=1.001 * bm, patterns=P)
    assert at.report.extra["n_active_neurons"] == 0 and at.report.certificate == "restricted"
    assert at.report.objective == pytest.approx(0.5 * float(np.sum(Y**2)), rel=1e-9)
    # patterns="auto" and the keywords give the patterns of the solve with the same arguments
    sol = solve_convex_relu(M, Y, beta=bm, n_patterns=30, seed=2)
    assert beta_max(M, Y, n_patterns=30, seed=2) == pytest.approx(beta_max(M, Y, sol.patterns), rel=1e-12)


def test_beta_max_validates_its_data():
    M = np.c_[np.ones(5), np.arange(5.0)]
    with pytest.raises(ValidationError, match=r"Y must have shape \(m, q\) or \(m,\) with m = M.shape\[0\] = 5"):
        beta_max(M, np.ones(4), np.ones((5, 2), bool))
    with pytest.raises(ValidationError, match=r"patterns array must have shape \(m, P\)"):
        beta_max(M, np.ones(5), np.ones((4, 2), bool))


def test_the_solvers_share_one_signature_convention():
    params = {f.__name__: inspect.signature(f).parameters
              for f in (solve_convex_relu, solve_gated_relu, solve_convex_relu_path, solve_convex_relu_ce, beta_max)}
    for name, p in params.items():
        assert list(p)[:2] == ["M", "Y"], name
        assert p["patterns"].default == "auto", name
        assert p["n_patterns"].default == DEFAULT_N_PATTERNS, name
        assert p["seed"].default == 0 and p["bias"].default is None, name
        for key in ("n_patterns", "seed", "bias"):
            assert p[key].kind is inspect.Parameter.KEYWORD_ONLY, (name, key)
    for name in ("solve_convex_relu", "solve_gated_relu", "solve_convex_relu_ce"):
        assert params[name]["beta"].kind is inspect.Parameter.KEYWORD_ONLY, name
    assert params["solve_convex_relu_path"]["betas"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD


@pytest.mark.parametrize("name", SOLUTIONS)
def test_every_solution_has_predict_and_a_readable_summary(name):
    rng = np.random.default_rng(3)
    M = np.c_[rng.standard_normal((60, 3)), np.ones(60)]
    y = np.abs(M[:, 0]) + 0.1 * rng.standard_normal(60)
    for sol in _solutions(SOLVERS[name](M, y, patterns=sample_patterns(M, 15, seed=0))):
        pred = sol.predict(M[:5])
        assert pred.shape == (5, sol.V.shape[2])
        text = sol.summary()
        assert text.startswith(type(sol).__name__) and f"certificate: {sol.report.certificate}: " in text
        assert len(text.splitlines()) >= 8


def test_a_path_summary_has_one_line_per_beta():
    u, y = _scalar_input()
    path = solve_convex_relu_path(u[:, None], y, [0.5, 0.2, 0.1], bias=True)
    lines = path.summary().splitlines()
    assert lines[0].startswith("ConvexReLUPath: 3 values of β") and len(lines) == 2 + 3
    assert all(line.rstrip().endswith(("CLARABEL", "ACTIVE_SET")) and " global " in line for line in lines[2:])


def test_gated_predict_is_the_gated_fit_on_the_training_input():
    rng = np.random.default_rng(5)
    M = np.c_[rng.standard_normal((70, 2)), np.ones(70)]
    y = np.maximum(M[:, 0], 0) - 0.5 * np.maximum(M[:, 1], 0)
    sol = solve_gated_relu(M, y, beta=0.05, patterns=sample_patterns(M, 12, seed=1))
    fit = np.einsum("mk,mkq->mq", sol.patterns.astype(float), np.einsum("md,kdq->mkq", M, sol.U))
    np.testing.assert_allclose(sol.predict(M), fit, atol=1e-8 * max(1.0, float(np.abs(fit).max())))
    assert sol.patterns is sol.gates
    bare = solve_gated_relu(M, y, beta=0.05, patterns=sol.patterns, decompose=False)
    with pytest.raises(ValidationError, match="no cone decomposition: solve with decompose=True"):
        bare.predict(M)
    assert "no cone decomposition" in bare.summary()


def test_the_old_gated_call_form_still_works_with_a_future_warning():
    rng = np.random.default_rng(6)
    M = np.c_[rng.standard_normal((40, 2)), np.ones(40)]
    y = np.abs(M[:, 0])
    G = sample_patterns(M, 8, seed=0)
    with pytest.warns(FutureWarning, match=r"solve_gated_relu: pass beta as a keyword \(beta=...\), not "
                                           r"positionally; gates= is now patterns="):
        old = solve_gated_relu(M, y, 0.2, gates=G)
    new = solve_gated_relu(M, y, beta=0.2, patterns=G)
    np.testing.assert_array_equal(old.U, new.U)
    with pytest.raises(TypeError, match="got both gates= .* and patterns="):
        solve_gated_relu(M, y, beta=0.2, gates=G, patterns=G)
    with pytest.raises(TypeError, match="multiple values for argument 'beta'"):
        solve_gated_relu(M, y, 0.2, beta=0.2)
    with pytest.raises(TypeError, match=r"takes 2 positional arguments but 4 were given"):
        solve_gated_relu(M, y, 0.2, G)


def test_print_report_is_several_readable_lines():
    u, y = _scalar_input()
    report = solve_convex_relu(u[:, None], y, beta=0.1, bias=True).report
    lines = str(report).splitlines()
    assert lines[0] == "convex_relu: Ergen-Pilanci program (12), squared loss"
    assert max(len(line) for line in lines) < 160 and len(lines) >= 8
    assert any(line.startswith("  certificate: global: two-layer ReLU networks") for line in lines)
    assert any("patterns (exact, every arrangement)" in line for line in lines)
    assert "\n" not in report.summary() and repr(report).startswith("SolveReport(")
