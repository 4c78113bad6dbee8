"""The missing-torch hint and the README give the same CPU-wheel install command."""

from __future__ import annotations

from pathlib import Path

from cvximplicit.baselines._torch import INSTALL_HINT

CPU_COMMAND = "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
README = Path(__file__).resolve().parents[1] / "README.md"


def test_torch_hint_matches_readme():
    assert INSTALL_HINT.startswith(CPU_COMMAND)
    text = README.read_text(encoding="utf-8")
    assert f"\n{CPU_COMMAND}\n" in text  # a line of its own in a code block
    # ... and the README explains why plain `pip install torch==2.13.0` is not enough everywhere.
    assert "CUDA build" in text and ".ci/run" in text
