"""The documentation matches the code: its Python snippets run, its command lines use real flags, and the numbers
it quotes from the presets are the presets'."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Pages whose ```python blocks run, in order, in one namespace per page.
RUN_PAGES = ("README.md", "docs/researchers.md")
#: Pages whose `cvximplicit COMMAND ...` lines are checked against the real parser.
COMMAND_PAGES = ("README.md", *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "docs").glob("*.md"))),
                 "benchmarks/benchopt_relu/README.md", "paper_repro/README.md")


def python_blocks(page: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", (ROOT / page).read_text(), flags=re.S | re.M)


@pytest.mark.parametrize("page", RUN_PAGES)
def test_every_python_snippet_runs(page, tmp_path, monkeypatch):
    blocks = python_blocks(page)
    assert blocks, f"{page} has no ```python block"
    needs = sorted({m for b in blocks for m in re.findall(r"^\s*import (torch|matplotlib)\b", b, flags=re.M)})
    for module in needs:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{page} has a snippet that needs {module}, which is not installed")
    monkeypatch.chdir(tmp_path)  # snippets may write files (model.npz)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": f"snippets of {page}"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"{page} (python block {i + 1})", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{page}: python block {i + 1} fails: {type(exc).__name__}: {exc}\n{block}") from exc
    if "matplotlib.pyplot" in __import__("sys").modules:
        import matplotlib.pyplot as plt

        plt.close("all")


def _subcommands():
    from cvximplicit.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return sub.choices


def test_documented_command_lines_use_real_options():
    commands = _subcommands()
    pattern = re.compile(r"cvximplicit (" + "|".join(commands) + r")\b([^`\n#]*)")
    seen, wrong = 0, []
    for page in COMMAND_PAGES:
        for match in pattern.finditer((ROOT / page).read_text()):
            options = commands[match.group(1)]._option_string_actions
            for token in shlex.split(match.group(2).replace("…", ""), posix=True):
                seen += 1
                flag = token.split("=", 1)[0]
                if flag.startswith("--") and flag not in options:
                    wrong.append(f"{page}: `cvximplicit {match.group(1)} … {flag}`")
    assert seen > 20 and wrong == []


def test_quoted_preset_numbers_are_the_presets():
    from cvximplicit.presets import PRESETS

    wide, narrow = PRESETS["wide"], PRESETS["narrow"]
    readme = " ".join((ROOT / "README.md").read_text().split())
    claims = {  # the sentence that states a preset's current value → the value
        r"the wide preset adds a \*\*polish step\*\* — (\d+) L-BFGS iterations": wide["polish"],
        r"poses every step of a block on the inputs' top (\d+) principal directions \(`input_basis`":
            wide["input_basis"],
        r"the first block's exact 1-D step on the preset's (\d+) rows": narrow["max_rows"],
    }
    for claim, value in claims.items():
        found = re.search(claim, readme)
        assert found is not None, claim
        assert int(found.group(1)) == value, (claim, value)
    certificates = " ".join((ROOT / "docs" / "certificates.md").read_text().split())
    assert f"(the wide preset: {wide['input_basis']})" in certificates
