"""benchmarks/adelie_peer.py: the block / solution exchange with adelie's child, and the judgement of a point on our
side. adelie itself runs only where ``ADELIE_PYTHON`` names a python that has it (its own environment: it pins
numpy < 2); ``python benchmarks/adelie_peer.py --setup VENV`` makes one."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "adelie_peer.py"


@pytest.fixture(scope="module")
def peer():
    spec = importlib.util.spec_from_file_location("adelie_peer", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _block(m=40, d=3, n_patterns=6, seed=0):
    rng = np.random.default_rng(seed)
    M = np.c_[rng.standard_normal((m, d - 1)), np.ones(m)]
    y = rng.standard_normal(m)
    patterns = M @ rng.standard_normal((d, n_patterns)) >= 0
    return M, y, patterns


def test_block_and_solution_exchange(peer, tmp_path):
    M, y, patterns = _block()
    block = tmp_path / "block.npz"
    peer.write_block(block, M, y, patterns, 0.5, tol=1e-6, pinball_tol=1e-8, nnls_tol=1e-9, path_size=7)
    with np.load(block) as data:  # exactly what adelie_child.py reads
        np.testing.assert_array_equal(data["M"], M)
        np.testing.assert_array_equal(data["y"], y)
        np.testing.assert_array_equal(data["patterns"], patterns)
        assert data["patterns"].dtype == bool
        assert (float(data["beta"]), float(data["tol"]), float(data["pinball_tol"]), float(data["nnls_tol"]),
                int(data["path_size"])) == (0.5, 1e-6, 1e-8, 1e-9, 7)
    P, d = patterns.shape[1], M.shape[1]
    V, W = np.arange(P * d, dtype=float).reshape(P, d), -np.ones((P, d))
    out = tmp_path / "out.npz"
    np.savez(out, V=V, W=W, time_s=0.25, n_solved=7, n_path=7, beta_reached=0.5, version="x")
    V2, W2, info = peer.read_solution(out, P, d)
    np.testing.assert_array_equal(V2, V)
    np.testing.assert_array_equal(W2, W)
    assert info["time_s"] == 0.25 and info["version"] == "x" and not peer.incomplete_path(info, 0.5)
    assert peer.incomplete_path({**info, "n_solved": 5, "beta_reached": 3.0}, 0.5)
    with pytest.raises(ValueError, match="expected"):
        peer.read_solution(out, P + 1, d)
    np.savez(out, V=V)
    with pytest.raises(ValueError, match="lacks"):
        peer.read_solution(out, P, d)
    with pytest.raises(ValueError, match="beta"):
        peer.write_block(block, M, y, patterns, 0.0, tol=1e-6, pinball_tol=1e-8, nnls_tol=1e-9, path_size=7)
    with pytest.raises(ValueError, match="boolean"):
        peer.write_block(block, M, y, patterns.astype(float), 1.0, tol=1e-6, pinball_tol=1e-8, nnls_tol=1e-9,
                         path_size=7)
    with pytest.raises(ValueError, match="pinball_tol"):
        peer.write_block(block, M, y, patterns, 1.0, tol=1e-6, pinball_tol=-1.0, nnls_tol=1e-9, path_size=7)


def test_judge_recomputes_objective_and_violations(peer):
    """On a point built by hand: the objective by its formula, zero violation inside the cones, and the exact
    violation of a point pushed out of one cone."""
    M, y, patterns = _block(m=50, d=3, n_patterns=5, seed=1)
    P, d = patterns.shape[1], M.shape[1]
    # a point inside its cone: an extra all-active pattern (D = I) whose groups hold only a bias weight c ≥ 0,
    # so (2D − I) M h = c on every row
    patterns = np.c_[patterns, np.ones(len(y), bool)]
    V, W = np.zeros((P + 1, d)), np.zeros((P + 1, d))
    V[P, -1], W[P, -1] = 0.7, 0.2
    beta = 0.3
    fit = patterns[:, P] * (M @ (V[P] - W[P]))
    expected = 0.5 * np.sum((fit - y) ** 2) + beta * (0.7 + 0.2)
    res = peer.judge(M, y, patterns, beta, V, W)
    assert res["objective"] == pytest.approx(expected, rel=1e-12)
    assert res["violation_abs"] == 0.0 and res["violation_rel"] == 0.0
    # out of cone 0 by a known amount: w_0 = −t e_bias gives (2D_0 − I) M w_0 = −t on the active rows of D_0
    t = 0.05
    W[0, -1] = -t
    res = peer.judge(M, y, patterns, beta, V, W)
    assert res["violation_abs"] == pytest.approx(t, rel=1e-12)
    assert res["violation_rel"] > 0
    fit = patterns[:, P] * (M @ (V[P] - W[P])) - patterns[:, 0] * (M @ W[0])
    expected = 0.5 * np.sum((fit - y) ** 2) + beta * (0.7 + 0.2 + t)
    assert res["objective"] == pytest.approx(expected, rel=1e-12)


def test_needs_a_python_with_adelie():
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={k: v for k, v in os.environ.items() if k != "ADELIE_PYTHON"}, check=False)
    assert proc.returncode == 2 and "--python PATH, $ADELIE_PYTHON, or --setup VENV" in proc.stderr


@pytest.mark.skipif(not os.environ.get("ADELIE_PYTHON"),
                    reason="ADELIE_PYTHON does not name a python with adelie (python benchmarks/adelie_peer.py "
                           "--setup VENV makes one; then ADELIE_PYTHON=VENV/bin/python)")
def test_adelie_solves_a_small_friedman_block(tmp_path):
    import json

    out = tmp_path / "peer.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, str(SCRIPT), "--m", "300", "--n-patterns", "20", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "pinball_tol 1e-07" in proc.stdout and "adelie " in proc.stdout and "ACTIVE_SET" in proc.stdout
    doc = json.loads(out.read_text())
    adelie, ours = doc["adelie"], doc["active_set"]
    assert not adelie["incomplete_path"]
    assert ours["certificate"] == "restricted" and ours["violation_abs"] == 0.0
    # the bound is certified: a point that is (nearly) feasible cannot lie far below it
    assert adelie["violation_rel"] < 1e-3
    assert adelie["objective"] >= ours["bound"] * (1 - 1e-3)
