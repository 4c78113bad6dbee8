"""The engines benchmark runs end to end on its smallest block (so it cannot rot)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_bench_engines_runs_on_the_d6_block(tmp_path):
    out = tmp_path / "rows.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_engines.py"), "--problems", "d6", "--repeats", "1",
         "--references", "--sweep-m", "--sweep-P", "--time-limit", "60", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert [r["engine"] for r in rows] == ["ACTIVE_SET"]
    row = rows[0]
    assert row["status"] == "optimal" and 0 <= row["gap_rel"] <= row["tol"] == 1e-6, row
    assert row["full_pass_s"] > 0 and row["m"] == 1000 and row["d"] == 6
