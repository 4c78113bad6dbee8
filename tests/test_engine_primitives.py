"""The primitives every engine shares (``cvximplicit.solvers.engines``), each against an independent reference."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy.optimize import minimize

from cvximplicit.exceptions import ValidationError
from cvximplicit.solvers import constraint_violation, sample_patterns
from cvximplicit.solvers.engines.cones import nnls_multipliers, project_on_face, project_onto_cone
from cvximplicit.solvers.engines.feasibility import exact_point
from cvximplicit.solvers.engines.groups import (
    add_norm_curvature,
    block_pairs,
    group_soft_threshold,
    multipliers_from_work,
)
from cvximplicit.solvers.engines.iterations import armijo, backtrack, momentum, power_iteration, prox_step
from cvximplicit.solvers.engines.judge import judge
from cvximplicit.solvers.engines.options import reject_unknown
from cvximplicit.solvers.relu.certificate import scaled_bound, scaled_bound_one

#: Engine and certificate tests: .ci/run runs them a second time with one BLAS thread.
pytestmark = pytest.mark.engine


def test_group_soft_threshold_is_the_prox_in_both_layouts():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 2, 3, 2))  # (d, 2, P, q)
    X[:, 0, 1, 0] *= 1e-3  # a group below the threshold
    out = group_soft_threshold(X, 0.7)
    for s, k, c in np.ndindex(2, 3, 2):
        z = X[:, s, k, c]
        np.testing.assert_allclose(out[:, s, k, c], z * max(0.0, 1 - 0.7 / np.linalg.norm(z)), rtol=1e-14)
    rows = np.moveaxis(X, 0, -1).reshape(-1, 5)  # groups as rows (n, d)
    np.testing.assert_allclose(group_soft_threshold(rows, 0.7, axis=-1),
                               np.moveaxis(out, 0, -1).reshape(-1, 5), rtol=1e-14)


def test_norm_curvature_is_the_hessian_of_the_group_norms():
    """``add_norm_curvature`` adds ∇²(β Σ‖z_j‖) = blockdiag (β/‖z_j‖)(I − u_j u_jᵀ): checked by finite differences."""
    rng = np.random.default_rng(1)
    sizes, beta = [3, 1, 4], 0.8
    z = rng.standard_normal(sum(sizes))
    offs = np.cumsum([0] + sizes)
    norms = np.array([np.linalg.norm(z[a:b]) for a, b in zip(offs[:-1], offs[1:])])
    u = np.concatenate([z[a:b] / n for a, b, n in zip(offs[:-1], offs[1:], norms)])
    H = np.zeros((z.size, z.size))
    add_norm_curvature(H, block_pairs(offs), u, beta / norms)

    def grad(x):
        return np.concatenate([beta * x[a:b] / np.linalg.norm(x[a:b]) for a, b in zip(offs[:-1], offs[1:])])

    eps = 1e-6
    fd = np.stack([(grad(z + eps * e) - grad(z - eps * e)) / (2 * eps) for e in np.eye(z.size)], axis=1)
    np.testing.assert_allclose(H, fd, atol=1e-7)


def test_power_iteration_finds_the_largest_eigenvalue():
    A = np.diag([1.0, 3.0, 10.0, 2.0])
    assert power_iteration(lambda v: A @ v, np.ones(4), 200) == pytest.approx(10.0, rel=1e-12)
    assert power_iteration(lambda v: 0.0 * v, np.ones(4), 5) == 0.0


def test_backtracking_takes_the_first_armijo_step_and_reports_none_below_the_floor():
    f = lambda x: (x - 1.0) ** 2  # noqa: E731
    # from x = 0 along d = 4 (slope −8): 1 and 0.5 fail Armijo (f(4) = 9, f(2) = 1 > 1 − 4e-4), 0.25 passes
    alpha, value = backtrack(lambda a: f(4.0 * a), 1.0, armijo(f(0.0), -8.0))
    assert alpha == 0.25 and value == 0.0
    alpha, value = backtrack(lambda a: 1.0, 1.0, lambda a, v: False, min_step=1e-3)
    assert value is None and alpha < 1e-3 <= 2 * alpha


def test_fista_step_and_momentum():
    # L doubles until the test passes, never beyond the cap, and the cap is taken untested
    seen = []
    point, L = prox_step(lambda L: seen.append(L) or L, 1.0, lambda p, L: L >= 8.0)
    assert (point, L, seen) == (8.0, 8.0, [1.0, 2.0, 4.0, 8.0])
    assert prox_step(lambda L: L, 1.0, lambda p, L: False, L_max=3.0) == (3.0, 3.0)
    theta, w = momentum(1.0, np.zeros(2), np.ones(2), np.zeros(2))  # no restart: ⟨y − x⁺, x⁺ − x⟩ = −2
    assert theta == pytest.approx((1 + 5**0.5) / 2) and w == 0.0
    assert momentum(2.0, 2 * np.ones(2), np.ones(2), np.zeros(2)) == (1.0, None)  # restart: ⟨1, 1⟩ > 0


def _cone(seed=2, m=30, d=4):
    rng = np.random.default_rng(seed)
    M = np.c_[rng.standard_normal((m, d - 1)), np.ones(m)]
    sign = 2.0 * (M @ rng.standard_normal(d) >= 0) - 1.0
    A = sign[:, None] * M
    return A, np.linalg.norm(A, axis=1), rng.standard_normal(d)


def _projection_reference(A, a):
    """``argmin ‖h − a‖ s.t. A h ≥ 0`` by SLSQP (the projection, independent of NNLS)."""
    res = minimize(lambda h: 0.5 * np.sum((h - a) ** 2), np.zeros_like(a), jac=lambda h: h - a,
                   constraints=[{"type": "ineq", "fun": lambda h: A @ h, "jac": lambda h: A}], method="SLSQP",
                   options={"ftol": 1e-14, "maxiter": 500})
    return res.x


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_projection_onto_a_groups_cone(seed):
    A, row_norm, a = _cone(seed)
    proj = project_onto_cone(A, a, row_norm)
    np.testing.assert_allclose(proj.h, _projection_reference(A, a), atol=1e-7)
    assert np.all(proj.mu > 0) and np.allclose(proj.h, a + A[proj.rows].T @ proj.mu)
    assert (A @ proj.h).min() >= -1e-12 * np.linalg.norm(a) * row_norm.max()  # inside, to round-off
    if seed == 4:  # ``a`` is in the polar cone: the projection is the apex
        assert np.linalg.norm(proj.h) <= 1e-12 * np.linalg.norm(a)
    else:  # the face it found gives the same projection in one small solve
        again = project_on_face(A, a, proj.rows, row_norm)
        assert again is not None and np.allclose(again.h, proj.h, atol=1e-10)
    assert project_on_face(A, a, np.zeros(0, dtype=int), row_norm) is None


def test_nnls_multipliers_without_rows_is_the_point_itself():
    a = np.array([1.0, -2.0])
    mu, h, rnorm = nnls_multipliers(np.zeros((0, 2)), a, 10)
    assert mu.size == 0 and np.array_equal(h, a) and rnorm == pytest.approx(np.sqrt(5.0))


def test_exact_point_is_feasible_and_never_worse_than_zero():
    rng = np.random.default_rng(5)
    M = np.c_[rng.standard_normal((40, 2)), np.ones(40)]
    y = np.abs(M[:, 0])[:, None]
    patterns = sample_patterns(M, 6, seed=0)
    P = patterns.shape[1]
    V, W = rng.standard_normal((P, 3, 1)), np.zeros((P, 3, 1))  # far outside the cones
    assert constraint_violation(M, patterns, V, W) > 0
    V2, W2, obj, dropped = exact_point(M, y, patterns, 0.1, V, W)
    assert constraint_violation(M, patterns, V2, W2) == 0.0
    assert obj <= 0.5 * float(np.sum(y * y)) and 0 <= dropped <= P


def test_multipliers_layout():
    work = np.arange(3 * 2 * 4 * 2, dtype=np.float32).reshape(3, 2, 4, 2)  # (m, 2, P, q)
    mu = multipliers_from_work(work)
    assert mu.shape == (2, 4, 3, 2) and mu.dtype == np.float64 and mu.flags.c_contiguous
    assert mu[1, 3, 2, 0] == work[2, 1, 3, 0]


def test_scaled_bound_of_one_output_is_the_array_rule():
    lin, quad, rho = np.array([3.0, -1.0, 2.0, 0.0]), np.array([2.0, 1.0, 4.0, 0.0]), np.array([0.5, 1.0, 4.0, 0.0])
    bounds, ts = scaled_bound(lin, quad, rho, 1.0)
    for c in range(4):
        assert scaled_bound_one(lin[c], quad[c], rho[c], 1.0) == (bounds[c], ts[c])
    # t = clip(lin/quad, 0, β/ρ): 1.5 capped at 2; −1 clipped to 0; 0.5 capped at 0.25; no λ gives 0
    assert ts.tolist() == [1.5, 0.0, 0.25, 0.0] and bounds[0] == 1.5 * 3.0 - 0.5 * 1.5**2 * 2.0


@pytest.mark.parametrize("gap, violation, status, expected", [
    (1e-9, 0.0, "max_iter", ("optimal", "restricted")),  # certified at a cap: the status follows the certificate
    (1e-3, 0.0, "optimal", ("max_iter", "none")),  # thought done, not certified
    (1e-3, 0.0, "time_limit", ("time_limit", "none")),
    (1e-9, 1e-3, "optimal", ("max_iter", "none")),  # infeasible beyond max(tol, 1e-6)
])
def test_the_final_judgement_is_the_one_rule(gap, violation, status, expected):
    verdict = judge(1.0 + gap, 1.0, violation, 1e-6, status)
    assert (verdict.status, verdict.certificate) == expected and verdict.gap_abs == pytest.approx(gap)


def test_unknown_engine_options_name_the_valid_ones():
    reject_unknown("X", {}, ("a", "b"))
    with pytest.raises(ValidationError, match=r"unknown X option\(s\) \['zz'\]; valid options are a, b"):
        reject_unknown("X", {"zz": 1}, ("a", "b"))


@pytest.mark.parametrize("engine", ["ACTIVE_SET", "ADMM", "FISTA"])
def test_verbose_progress_goes_to_the_engines_logger(engine, caplog):
    from cvximplicit.solvers.engines.registry import get_engine
    from cvximplicit.solvers.relu.program import ReluProgram

    rng = np.random.default_rng(0)
    M = np.c_[rng.standard_normal((30, 2)), np.ones(30)]
    program = ReluProgram.from_data(M, np.abs(M[:, 0]), sample_patterns(M, 5, seed=0), 0.3)
    opts = {"verbose": True, "max_iter": 40} if engine != "ACTIVE_SET" else {"verbose": True}
    with caplog.at_level(logging.INFO, logger="cvximplicit.solvers.engines"):
        get_engine(engine).solve(program, None, opts)
    lines = [r.getMessage() for r in caplog.records if r.name == "cvximplicit.solvers.engines"]
    assert lines and all(line.startswith(("pass ", "it=", "         rigorous")) for line in lines)


def test_signed_rows_are_the_formed_cone_matrix():
    """``SignedRows(s, M)`` stands for ``diag(s) M`` (``s ∈ {±1}``): its row blocks equal the formed matrix's exactly
    (a sign flip does not round), its products up to the BLAS's summation order, and the cone projections give the
    same point with either."""
    from cvximplicit.solvers.engines.cones import SignedRows, project_onto_cone

    rng = np.random.default_rng(3)
    M = rng.standard_normal((300, 7))
    s = np.where(rng.random(300) < 0.5, -1.0, 1.0)
    A, lazy = s[:, None] * M, SignedRows(s, M)
    v, V = rng.standard_normal(7), rng.standard_normal((7, 3))
    assert lazy.shape == A.shape
    np.testing.assert_allclose(lazy @ v, A @ v, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(lazy @ V, A @ V, rtol=1e-13, atol=1e-13)
    rows = np.array([4, 0, 299, 17])
    assert np.array_equal(lazy[rows], A[rows])
    row_norm = np.linalg.norm(M, axis=1)
    a = rng.standard_normal(7)
    formed, signed = project_onto_cone(A, a, row_norm), project_onto_cone(lazy, a, row_norm)
    assert formed.rows.size > 0 and np.array_equal(formed.rows, signed.rows)
    np.testing.assert_allclose(signed.h, formed.h, rtol=1e-10, atol=1e-12)


def test_face_updates_keep_the_basis_and_its_products_exact():
    """Rows joining (Householder reflections) and leaving (appended directions) update a group's face in place:
    after each change the basis is orthonormal, spans exactly the null space of the tight rows (checked against
    an SVD written here), and ``M N`` and ``B N`` are the products with it."""
    from cvximplicit.solvers.engines.active_set.working_set import WorkingSet

    rng = np.random.default_rng(11)
    m, d = 200, 9
    M = rng.standard_normal((m, d))
    D = (rng.random((m, 3)) < 0.5).astype(float)
    ws = WorkingSet(M, rng.standard_normal(m), D, 2 * D - 1, np.linalg.norm(M, axis=1), 0.1)
    ws.add(1, 0, rng.standard_normal(d), np.array([3, 7]))
    ws.bn(0)  # from scratch

    def check():
        rows = np.flatnonzero(ws.act[0])
        A = (2 * D[rows, 1] - 1)[:, None] * M[rows]
        N = ws.N[0]
        s = np.linalg.svd(A, compute_uv=False) if rows.size else np.zeros(0)
        assert N.shape[1] == d - int(np.sum(s > 1e-10 * max(s.max(initial=0), 1)))
        np.testing.assert_allclose(N.T @ N, np.eye(N.shape[1]), atol=1e-12)
        assert np.abs(A @ N).max(initial=0) <= 1e-12 * np.abs(A).max()
        np.testing.assert_allclose(ws.MN[0], M @ N, atol=1e-11)
        np.testing.assert_allclose(ws.BN[0], D[:, [1]] * (M @ N), atol=1e-11)

    check()
    ws.join(0, [11, 12, 40])  # rows join
    assert ws.faces[0] is not None and ws.MN[0] is not None  # updated, not dropped
    check()
    ws.act[0, [7, 12]] = False  # rows leave
    ws.update_face(0)
    check()
    ws.act[0, [7, 50]] = True  # rows join and one leaves in the same change
    ws.act[0, 11] = False
    ws.update_face(0)
    check()
