"""Without torch: the package and the baseline modules import; training raises MissingDependencyError with the hint."""

from __future__ import annotations

import subprocess
import sys

# A meta-path hook that makes 'import torch' fail as if torch were not installed, injected
# before anything is imported.  (sys.modules['torch'] = None would break scipy, which
# inspects sys.modules for array libraries.)
HIDE_TORCH = (
    "import sys, importlib.abc\n"
    "class _Hide(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path, target=None):\n"
    "        if name.split('.')[0] == 'torch':\n"
    "            raise ImportError(f'{name} is hidden for this test')\n"
    "sys.meta_path.insert(0, _Hide())\n"
)

SCRIPT = HIDE_TORCH + r"""
import numpy as np
import cvximplicit
import cvximplicit.baselines
import cvximplicit.baselines.local_search
from cvximplicit.baselines import LocalSearchBlockSolver, fit_end_to_end, fit_ffn, project_inf_norm_ball
from cvximplicit.exceptions import MissingDependencyError
from cvximplicit.training.block import BlockProblem, get_block_solver

# the numpy projection works without torch
assert np.abs(project_inf_norm_ball(np.ones((2, 3)), 1.0)).sum(axis=1).max() <= 1.0 + 1e-12
U, Y = np.ones((1, 4)), np.zeros((1, 4))
problem = BlockProblem(U=U, X_prev=np.zeros((0, 4)), Y=Y, n_i=2)
calls = {
    "fit_ffn": lambda: fit_ffn(U, Y, epochs=1),
    "fit_end_to_end": lambda: fit_end_to_end(U, Y, n=2, epochs=1),
    "LocalSearchBlockSolver.solve": lambda: LocalSearchBlockSolver().solve(problem),
    "get_block_solver('local_search').solve": lambda: get_block_solver("local_search").solve(problem),
}
for name, call in calls.items():
    try:
        call()
    except MissingDependencyError as exc:
        assert isinstance(exc, ImportError)
        print(name, "|", exc)
    else:
        raise SystemExit(f"{name} did not raise MissingDependencyError")
assert "torch" not in sys.modules
"""


def test_baselines_without_torch():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 4
    for line in lines:
        assert "torch is needed for" in line
        assert "pip install 'cvximplicit[torch]'" in line and "torch==2.13.0" in line


def test_hook_really_hides_torch():
    """The hook must make torch unimportable, or the test above proves nothing."""
    code = HIDE_TORCH + "try:\n    import torch\nexcept ImportError:\n    print('hidden')\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "hidden", proc.stderr
