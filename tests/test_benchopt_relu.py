"""The benchopt benchmark of program (12) runs offline on its smallest dataset and reports certified points."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = ROOT / "benchmarks" / "benchopt_relu"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("benchopt") is None,
    reason="benchopt is not installed (the [bench] extra: pip install -e '.[bench]')",
)

#: Clarabel's certificate tolerance (CONIC_GAP_TOL) and SCS's (a first-order conic solver).
CLARABEL_TOL, SCS_TOL = 1e-6, 1e-3


def test_benchmark_runs_on_exact_1d(tmp_path):
    import pandas as pd

    out = tmp_path / "results.parquet"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    cmd = [sys.executable, "-m", "benchopt", "run", str(BENCHMARK), "-d", "exact-1d", "-n", "5", "-r", "1",
           "--no-plot", "--no-cache", "--output", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    df = pd.read_parquet(out)
    solvers = set(df["solver_name"])
    assert {"CLARABEL", "SCS", "ECOS", "ACTIVE_SET", "FISTA", "ADMM"} <= solvers
    assert not solvers & {"GATED-RELU", "SKGLM-GROUP-LASSO"}  # they solve the gated program only
    # every curve starts at the zero network: ½‖y‖²
    from cvximplicit.datasets import make_smooth

    y = make_smooth(n_train=100, seed=0).targets_train
    zero = 0.5 * float(np.sum(y**2))
    for name in solvers:
        rows = df[df["solver_name"] == name]
        start = rows.loc[rows["time"].idxmin(), "objective_value"]
        assert start == pytest.approx(zero, rel=1e-12), name
    # Clarabel reaches a certified point; certified points agree within their gaps and are feasible
    certified = df[df["objective_certified"] == 1.0]
    assert (certified["solver_name"] == "CLARABEL").any()
    best = certified.loc[certified["solver_name"] == "CLARABEL", "objective_value"].min()
    for row in certified.itertuples():
        tol = SCS_TOL if row.solver_name == "SCS" else CLARABEL_TOL
        assert abs(row.objective_gap_rel) <= tol
        assert row.objective_constraint_violation <= max(tol, 1e-6)
        assert abs(row.objective_value - best) <= 2 * tol * max(1.0, best)
    uncertified = df[df["objective_certified"] == 0.0]
    assert uncertified["objective_gap_rel"].isna().all()
