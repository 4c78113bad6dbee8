"""Quickstart: train an implicit model block by block with certified convex solves.
================================================================================

    python examples/quickstart.py

Fits the smooth regression task of the paper (Section V-A) with n=30 states in
L=10 blocks, each block solved by Algorithm 2 (least squares + Ergen–Pilanci
convex program), then prints the per-block certificates, the test RMSE and the
well-posedness numbers, and checks that the saved model round-trips.
"""

import tempfile
from pathlib import Path

import numpy as np

import cvximplicit as ci
from cvximplicit.datasets import make_smooth

data = make_smooth(seed=0)  # rows are samples: inputs (500, 1), targets (500,)
reg = ci.ImplicitRegressor(n=30, L=10, block_solver="alternating", solver="auto", random_state=0, verbose=1)
reg.fit(data.inputs_train, data.targets_train)

print(reg.report_table())
rmse = np.sqrt(np.mean((reg.predict(data.inputs_test) - data.targets_test) ** 2))
print(f"test RMSE {rmse:.3f}, training time {reg.train_time_s_:.1f} s")

model = reg.model_  # the ImplicitModel: columns are samples, state in computation order [X_1; …; X_L]
print(model.wellposedness().reason)
U_test = data.inputs_test.T
X = model.state(U_test)  # block forward substitution (eq. 5)
assert np.allclose(np.maximum(model.A @ X + model.B @ model.prepare_inputs(U_test), 0), X)  # x = φ(Ax + Bu)

with tempfile.TemporaryDirectory() as tmp:
    path = model.save(Path(tmp) / "model.npz")
    assert np.array_equal(ci.ImplicitModel.load(path).A, model.A)
    print(f"saved and reloaded {model}")
