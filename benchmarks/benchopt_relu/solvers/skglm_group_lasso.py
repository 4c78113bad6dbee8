import numpy as np
from benchmark_utils import GatedRun
from benchopt import BaseSolver
from skglm import GroupLasso


class Solver(GatedRun, BaseSolver):
    """skglm's GroupLasso on the explicit ``m × P·d`` matrix ``[D_1 M, …, D_P M]``, one output at a time.

    skglm scales the data term by ``1/m``, so its ``alpha`` is ``β/m``. Its numba kernels are compiled in
    ``warm_up`` (not timed).
    """

    name = "SKGLM-GROUP-LASSO"
    requirements = ["pip::skglm"]

    def set_objective(self, M, Y, patterns, beta, program):
        super().set_objective(M, Y, patterns, beta, program)
        self.X = np.hstack([patterns[:, [k]] * M for k in range(patterns.shape[1])])

    def warm_up(self):
        self.solve_gated(1e-2)

    def solve_gated(self, tol):
        m, d = self.M.shape
        P = self.patterns.shape[1]
        Y = np.reshape(self.Y, (m, -1))
        U = np.zeros((P, d, Y.shape[1]))
        for c in range(Y.shape[1]):
            model = GroupLasso(groups=d, alpha=self.beta / m, fit_intercept=False, tol=tol, max_iter=200,
                               max_epochs=100_000).fit(self.X, Y[:, c])
            U[:, :, c] = model.coef_.reshape(P, d)
        return U
