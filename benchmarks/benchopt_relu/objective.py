"""The objective of the benchmark: program (12) (Ergen–Pilanci), or on request its gated-ReLU relaxation.

Program (12) on a block ``M`` ``(m, d)`` (rows are samples), targets ``Y``, patterns ``D_k``, weight β:

    min_{V,W} ½ Σ_c ‖Σ_k D_k M (V_kc − W_kc) − Y_c‖² + β Σ_{k,c} (‖V_kc‖ + ‖W_kc‖)
    s.t. (2D_k − I) M V_kc ≥ 0, (2D_k − I) M W_kc ≥ 0.

Reported per result: ``value`` (the objective at the returned point, recomputed here in float64),
``gap_rel`` (``(value − bound) / max(1, |value|)`` with the certified bound of the solver's report,
recomputed by ``dual_bound`` inside ``solve_convex_relu``; NaN when the solve earned no certificate),
``constraint_violation`` (the largest relative cone violation) and ``certified`` (1 or 0).

With ``-o "convex-relu[program=gated]"`` the program is the gated-ReLU group lasso
``min_U ½ Σ_c ‖Σ_k D_k M U_kc − Y_c‖² + β Σ ‖U_kc‖`` and the objective certifies every result
itself: the residual scaled into the dual-feasible set gives ``dual_bound`` with zero cone
multipliers, whichever solver produced ``U`` (ours or skglm).
"""

from __future__ import annotations

import math

import numpy as np
from benchopt import BaseObjective

from cvximplicit.solvers import ReluProgram, dual_bound

PROGRAMS = ("relu", "gated")


class Objective(BaseObjective):
    name = "convex-relu"
    min_benchopt_version = "1.5"
    requirements = []
    parameters = {"program": ["relu"]}

    def skip(self, M, Y, patterns, beta, skip_reason):
        if skip_reason:
            return True, skip_reason
        if self.program not in PROGRAMS:
            return True, f"program must be one of {PROGRAMS}; got {self.program!r}"
        return False, None

    def set_data(self, M, Y, patterns, beta, skip_reason):
        self.M, self.Y, self.patterns, self.beta = M, Y, patterns, beta
        self.relu = ReluProgram.from_data(M, Y, patterns, beta)

    def get_objective(self):
        return dict(M=self.M, Y=self.Y, patterns=self.patterns, beta=self.beta, program=self.program)

    def evaluate_result(self, V, W, bound, failed=False):
        if self.program == "gated":  # the gated solvers hand back U as V (and W = 0)
            U = V - W
            residual = self.relu.Y - self.relu.fit(U)
            value = 0.5 * float(np.sum(residual**2)) + self.beta * float(np.linalg.norm(U, axis=1).sum())
            bound, _ = dual_bound(self.M, self.Y, self.patterns, self.beta, residual)
            violation = 0.0
        else:
            value, violation = self.relu.objective(V, W), self.relu.violation(V, W)
        gap = (value - bound) / max(1.0, abs(value)) if math.isfinite(bound) else math.nan
        return dict(value=value, gap_rel=gap, constraint_violation=violation, certified=float(math.isfinite(gap)), failed=float(failed))

    def get_one_result(self):
        P, d = self.patterns.shape[1], self.M.shape[1]
        q = self.relu.Y.shape[1]
        return dict(V=np.zeros((P, d, q)), W=np.zeros((P, d, q)), bound=math.nan, failed=False)
