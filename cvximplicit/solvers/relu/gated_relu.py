"""The gated-ReLU program (Mishkin, Sahiner & Pilanci 2022): its public solve, its certificate, its decomposition.

Orientation: ``M`` is ``(m, d)`` with **rows as samples** (``M = Ũ_iᵀ``, bias column
included); ``Y`` is ``(m, q)`` (a 1-D ``y`` is ``q = 1``); ``gates`` is an ``(m, P)`` bool
pattern matrix whose column ``k`` is the diagonal of ``D_k`` (the same layout as the
``patterns`` of program (12)); the variables ``U`` (and the decomposition ``V, W``) are
``(P, d, q)``.

**The program.** A gated-ReLU network keeps the activation patterns fixed
(``D_k = diag(1[M g_k ≥ 0])`` for gate vectors ``g_k``) and learns one linear map per
pattern; with the weight decay of program (12) its convex form is an unconstrained group
lasso, one-vs-all over the outputs like program (12):

.. math::

    \\min_{U}\\; \\tfrac12 \\sum_c \\Big\\|\\sum_k D_k M U_{k,:,c} - Y_{:,c}\\Big\\|^2
    + \\beta \\sum_{k,c} \\|U_{k,:,c}\\|_2 .

**Lower bound for program (12).** A feasible ``(V, W)`` of program (12) on the same
patterns gives ``U = V − W`` with the same fit and ``‖U_k‖ ≤ ‖V_k‖ + ‖W_k‖``, so the gated
optimum is at most program (12)'s. The dual bound below is therefore a certified lower
bound of program (12) as well: it is exactly :func:`~cvximplicit.solvers.dual_bound` of
program (12) with zero cone multipliers (``μ = 0``), and the report carries it as
``extra["lower_bound_for_program_12"]``.

**Certificate.** The group-lasso dual: any ``λ_c`` with ``max_k ‖Mᵀ D_k λ_c‖ ≤ β`` gives
``Σ_c (½‖Y_c‖² − ½‖Y_c − λ_c‖²) ≤`` optimum. The residual ``r = Y − Σ_k D_k M U_k``, scaled
per output by ``t_c = clip(r_cᵀY_c/‖r_c‖², 0, β/ρ_c)`` with ``ρ_c = max_k ‖Mᵀ D_k r_c‖``,
is such a point (the standard one; at the optimum ``t_c = 1`` and the gap is zero). The
bound is recomputed in float64 over *every* gate; the certificate kind follows the rule of
program (12) (:func:`~cvximplicit.solvers.report.relu_certificate_kind`): ``"restricted"``
(optimal, within ``tol``, for the gated program actually solved: never a claim about ReLU
networks) or ``"none"``.

**Method** (:mod:`cvximplicit.solvers.relu.group_lasso`): working sets of groups, each solved in Gram form by
restarted FISTA and a Newton polish; the budget counts FISTA iterations (``max_iter``) and working-set rounds.
**Cone decomposition** (:mod:`cvximplicit.solvers.relu.cone_decomposition`): one least-distance problem (NNLS)
per non-zero group gives a feasible point of program (12).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..._deprecation import deprecated_call_forms
from ..._params import BOOL, Int, Real, check_params
from ...exceptions import ValidationError
from ..core._checks import _as_groups, _as_matrix, _program_data
from ..core.bias import apply_bias, bias_scope, prediction_input
from ..core.report import (
    CERTIFIED_CLASS,
    SolveReport,
    relu_certificate_kind,
    warn_uncertified,
)
from .arrangements import DEFAULT_N_PATTERNS, resolve_patterns
from .certificate import bound_kernel, pattern_fit
from .cone_decomposition import cone_decomposition
from .group_lasso import solve_output
from .program import NEURON_TOL, ReluProgram, decode, relu_network

__all__ = ["GATED_SOLVER_NAME", "GatedReLUSolution", "cone_decomposition", "solve_gated_relu"]

#: The ``solver`` field of a gated solve's report.
GATED_SOLVER_NAME = "GATED_WS"


# --------------------------------------------------------------------------- solution
@dataclass
class GatedReLUSolution:
    """Solution of the gated-ReLU program, its certificate, and its cone decomposition.

    Attributes
    ----------
    U : ndarray, shape (P, d, q)
        ``U[k, :, c]``: the linear map of gate ``k`` for output ``c``.
    gates : ndarray of bool, shape (m, P)
        The gate patterns (column ``k`` is the diagonal of ``D_k``); also :attr:`patterns`, the name
        the other solutions use.
    beta : float
        The regularisation weight β.
    report : SolveReport
        ``problem="gated_relu"``; ``objective`` the gated objective at ``U``, ``bound`` its
        certified lower bound, ``certificate`` ``"restricted"`` or ``"none"``; ``extra`` holds
        ``lower_bound_for_program_12`` (the same bound: a lower bound of program (12) on the
        same patterns), ``n_active_groups``, ``rounds``, ``newton_iterations`` and, when the
        decomposition ran, ``program_12_objective`` and ``program_12_violation`` of ``(V, W)``,
        ``n_groups_not_decomposed`` and ``decomposition_time_s``.
    V, W : ndarray, shape (P, d, q), or None
        The cone decomposition ``U = V − W`` (``None`` when ``decompose=False``): a feasible
        point of program (12) on the same patterns.
    scale : float
        ``‖Y‖_F / ‖M‖_F`` (the neuron threshold's floor, as in program (12)).
    bias : bool
        Whether the solve appended a column of ones to ``M`` (``bias=True``; the last of the ``d``
        columns); :meth:`predict` appends it to new inputs.
    """

    U: np.ndarray
    gates: np.ndarray
    beta: float
    report: SolveReport
    V: np.ndarray | None = None
    W: np.ndarray | None = None
    scale: float = 0.0
    bias: bool = False

    @property
    def patterns(self) -> np.ndarray:
        """The gate patterns ``(m, P)`` (the same array as :attr:`gates`)."""
        return self.gates

    def neurons(self, tol: float = NEURON_TOL) -> tuple[np.ndarray, np.ndarray]:
        """The ReLU network of the cone decomposition: ``W1`` ``(k, d)``, ``W2`` ``(q, k)``.

        Decoded from ``(V, W)`` as for program (12) (``V/√‖V‖`` with output weight ``+√‖V‖``,
        ``W`` groups with ``−√‖W‖``). Prediction: ``relu(M @ W1.T) @ W2.T``.

        Raises
        ------
        ValidationError
            If the solve ran with ``decompose=False``.
        """
        if self.V is None or self.W is None:
            raise ValidationError("this gated-ReLU solution has no cone decomposition: solve with decompose=True")
        return decode(self.V, self.W, tol, self.scale)

    def predict(self, M) -> np.ndarray:
        """Prediction ``relu(M W1ᵀ) W2ᵀ`` of the cone decomposition's ReLU network, ``(m, q)``, for ``M`` ``(m, d)``.

        Rows are samples; after a solve with ``bias=True`` ``M`` has one column fewer (the ones are
        appended here). A gated network needs its gate vectors to predict on new inputs, and the solve
        keeps only the patterns, so the prediction is the ReLU network of :meth:`neurons` (every
        non-zero group): on the training ``M`` it equals the gated fit ``Σ_k D_k M U_k``.

        Raises
        ------
        ValidationError
            ``M`` has the wrong shape, or the solve ran with ``decompose=False``.
        """
        return relu_network(prediction_input(M, self.U.shape[1], self.bias), *self.neurons(tol=0.0))

    def summary(self) -> str:
        """A few lines: the groups, the decomposition's network, then the report's description."""
        extra = self.report.extra
        head = f"GatedReLUSolution: {extra.get('n_active_groups', 'n/a')} active groups"
        if self.V is None:
            head += "; no cone decomposition (decompose=False), so no ReLU network and no predict"
        else:
            head += (f"; cone decomposition: {self.neurons()[0].shape[0]} ReLU neurons, program (12) objective "
                     f"{extra['program_12_objective']:.10g} (a feasible point; program (12)'s optimum is between "
                     f"the lower bound {extra['lower_bound_for_program_12']:.10g} and it)")
        return f"{head}\n{self.report.describe()}"


# --------------------------------------------------------------------------- public entry point
@deprecated_call_forms(positional=("beta",), renamed=(("gates", "patterns"),))
def solve_gated_relu(M, Y, *, beta, patterns="auto", n_patterns=DEFAULT_N_PATTERNS, seed=0, bias=None, tol=1e-8,
                     max_iter=20_000, max_rounds=50, warm_start=None, decompose=True,
                     reductions=()) -> GatedReLUSolution:
    """Solve the gated-ReLU program (a group lasso), certify it, and decompose it into a ReLU network.

    .. math::

        \\min_{U}\\; \\tfrac12 \\sum_c \\Big\\|\\sum_k D_k M U_{k,:,c} - Y_{:,c}\\Big\\|^2
        + \\beta \\sum_{k,c} \\|U_{k,:,c}\\|_2

    Its optimum is a lower bound of program (12) on the same patterns (see the module
    docstring for the method, the certificate and the decomposition).

    The arguments follow :func:`~cvximplicit.solvers.solve_convex_relu` (``beta`` keyword-only,
    ``patterns="auto"``, ``bias``). The old call form ``solve_gated_relu(M, Y, beta, gates=P)`` still
    works, with a :class:`FutureWarning`.

    Parameters
    ----------
    M, Y
        As for :func:`~cvximplicit.solvers.solve_convex_relu`: block input ``(m, d)`` and targets, samples as rows.
    beta : float
        Regularisation weight β > 0.
    patterns : {"auto", "exact", "sampled"} or ndarray of bool, shape (m, P)
        The gates: column ``k`` is the diagonal of ``D_k``; the modes and ``n_patterns``, ``seed`` as
        in :func:`~cvximplicit.solvers.solve_convex_relu` (an array, e.g. from
        :func:`~cvximplicit.solvers.sample_patterns`, is used as given). Formerly ``gates``.
    n_patterns, seed, bias
        As in :func:`~cvximplicit.solvers.solve_convex_relu` (``bias=True`` appends a column of ones,
        and :meth:`GatedReLUSolution.predict` appends it to new inputs).
    tol : float
        Relative gap ``(objective − bound) / max(1, |objective|)`` to certify.
    max_iter : int
        Budget of FISTA iterations (all outputs and working-set rounds together).
    max_rounds : int
        Budget of working-set rounds per output.
    warm_start : array_like, shape (P, d, q), optional
        A starting ``U`` (its non-zero groups start in the working set).
    decompose : bool
        Compute the cone decomposition ``(V, W)`` and program (12)'s objective at it.
    reductions : sequence of str
        How ``M`` and ``Y`` were derived from the block's data, recorded in the report.

    Returns
    -------
    GatedReLUSolution
        ``report.certificate`` is ``"restricted"`` when the gap meets ``tol`` (else ``"none"``,
        with an :class:`~cvximplicit.exceptions.InaccurateSolutionWarning`).

    Raises
    ------
    ValidationError
        Bad shapes or non-finite data, ``β ≤ 0``, ``patterns`` not a mode or an ``(m, P)`` bool array,
        options out of range, malformed ``reductions``, a bad ``bias``.

    Examples
    --------
    >>> import numpy as np
    >>> from cvximplicit.solvers import sample_patterns, solve_gated_relu
    >>> rng = np.random.default_rng(0)
    >>> M = np.c_[rng.standard_normal((50, 2)), np.ones(50)]
    >>> y = np.abs(M[:, 0])
    >>> sol = solve_gated_relu(M, y, beta=0.5, patterns=sample_patterns(M, 10, seed=0))
    >>> sol.report.certificate
    'restricted'
    >>> sol.report.extra["lower_bound_for_program_12"] <= sol.report.extra["program_12_objective"]
    True
    """
    M, appended = apply_bias(_as_matrix(M).astype(float, copy=False), bias, where="solve_gated_relu", stacklevel=4)
    pattern_set = resolve_patterns(M, patterns, n_patterns, seed)
    M, Y, gates, beta = _program_data(M, Y, pattern_set.patterns, beta)
    check_params("solve_gated_relu", {"tol": tol, "max_iter": max_iter, "max_rounds": max_rounds,
                                      "decompose": decompose},
                 {"tol": [Real(0.0, 1.0, closed="neither")], "max_iter": [Int(1)], "max_rounds": [Int(1)],
                  "decompose": [BOOL]})
    if isinstance(reductions, str) or not all(isinstance(r, str) and r for r in reductions):
        raise ValidationError(f"reductions must be a sequence of non-empty strings; got {reductions!r}")
    reductions = tuple(reductions)
    m, d = M.shape
    P, q = gates.shape[1], Y.shape[1]
    U0 = None if warm_start is None else _as_groups(np.asarray(warm_start, dtype=float), P, d, q, "warm_start")
    t0 = time.perf_counter()
    D = gates.astype(float)
    U = np.zeros((P, d, q))
    iters = rounds = newton = 0
    budget_hit = False
    for c in range(q):
        u0 = None if U0 is None else U0[:, :, c]
        out = solve_output(M, D, Y[:, c], beta, tol / q, max_iter - iters, max_rounds, u0)
        U[:, :, c] = out.U
        iters, rounds, newton = iters + out.iterations, max(rounds, out.rounds), newton + out.newton
        budget_hit |= out.budget_hit
    solve_s = time.perf_counter() - t0
    r = Y - pattern_fit(M, gates, U)
    objective = 0.5 * float(np.sum(r * r)) + beta * float(np.linalg.norm(U, axis=1).sum())
    bound, info = bound_kernel(M, Y, gates, beta, r)
    gap_abs, gap_rel = SolveReport.gaps(objective, bound)
    certified = gap_rel is not None and -tol <= gap_rel <= tol
    kind = relu_certificate_kind(all_arrangements=False, q=q, reductions=reductions, certified=certified)
    status = "optimal" if certified else ("max_iter" if budget_hit else "stalled")
    if not certified:
        warn_uncertified("gated-ReLU program", GATED_SOLVER_NAME, status, objective, bound, tol, 0.0, iters,
                         "; raise max_iter or max_rounds")
    program = ReluProgram(M, Y, gates, beta)
    extra = {
        "n_patterns": P, "beta": beta, "m": m, "d": d, "q": q, "rounds": rounds, "newton_iterations": newton,
        "n_active_groups": int(np.count_nonzero(np.linalg.norm(U, axis=1))),
        "lower_bound_for_program_12": float(bound),
        "dual_bound_info": {k: v for k, v in info.items() if np.isscalar(v)},
    }
    V = W = None
    if decompose:
        t_dec = time.perf_counter()
        V, W, failed = cone_decomposition(M, gates, U)
        extra.update(program_12_objective=program.objective(V, W), program_12_violation=program.violation(V, W),
                     n_groups_not_decomposed=failed, decomposition="least-distance problem per group (NNLS)",
                     decomposition_time_s=time.perf_counter() - t_dec)
    scope = {
        "program": "gated ReLU (group lasso; Mishkin, Sahiner & Pilanci 2022)", "loss": "squared", "rows": m,
        "features": d, "outputs": q, "patterns": pattern_set.source, "all_arrangements": False, "n_patterns": P,
        "network_class": CERTIFIED_CLASS[kind][0], "gap_tol": float(tol), "bias": bias_scope(M, appended),
    }
    report = SolveReport(
        problem="gated_relu", solver=GATED_SOLVER_NAME, status=status, objective=objective, bound=float(bound),
        gap_abs=gap_abs, gap_rel=gap_rel, iterations=iters, compile_time_s=0.0, solve_time_s=float(solve_s),
        certificate=kind, residual=0.0, requested_solver=GATED_SOLVER_NAME, solver_reason="requested",
        reductions=reductions, scope=scope, extra=extra,
    )
    return GatedReLUSolution(U=U, gates=gates, beta=beta, report=report, V=V, W=W, scale=program.scale,
                             bias=appended)
