"""examples/certified_mnist_relu.py runs end to end on a small MNIST subsample (600 images, 8 gates, 7 × 7 pixels):
it prints a certified gap per output, the network's size and its test accuracy. Skipped when MNIST is missing
(a failure with ``CVXIMPLICIT_REQUIRE_DATA=1``, as the other data tests)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "certified_mnist_relu.py"


def test_example_on_a_small_subsample(tmp_path, mnist):
    png = tmp_path / "mnist.png"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--n-samples", "600", "--n-patterns", "8", "--pool", "4",
                           "--png", str(png)], capture_output=True, text=True, timeout=240, cwd=ROOT, env=env,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout
    assert "m = 600, d = 50 (bias included), q = 10" in out
    gaps = re.findall(r"^output (\d): gap_rel (\S+) \((\w+)\).*gated lower bound (\S+)", out, flags=re.M)
    assert [int(g[0]) for g in gaps] == list(range(10))
    for _, gap, certificate, _ in gaps:  # every output certified (the engine's tolerance: 1e-6)
        assert certificate == "restricted" and float(gap) <= 1e-6
    objectives = [float(x) for x in re.findall(r"objective (\S+), \d+ neurons", out)]
    for (_, _, _, lower), objective in zip(gaps, objectives):  # the gated optimum bounds program (12) below
        assert float(lower) <= objective * (1 + 1e-6)
    accuracy = float(re.search(r"^test accuracy ([\d.]+) % on 10000 test images", out, flags=re.M).group(1))
    assert 20.0 < accuracy <= 100.0  # 10 classes: well above chance
    assert re.search(r"^network: \d+ ReLU neurons, \d+ parameters", out, flags=re.M)
    assert png.stat().st_size > 0


def test_example_rejects_bad_options():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--beta-frac", "0"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env=env, check=False)
    assert proc.returncode == 2 and "--beta-frac must be > 0" in proc.stderr
