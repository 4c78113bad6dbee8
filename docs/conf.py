"""Sphinx configuration of the cvximplicit documentation (numpydoc, PyData theme, myst-parser, sphinx-gallery).

Build offline, warnings as errors::

    python -m sphinx -W -b html docs docs/_build/html

The gallery runs the short examples (``EXECUTED_EXAMPLES``); the long ones are listed with their code and not run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # document this checkout (the package is also importable when installed)
os.environ.setdefault("MPLBACKEND", "Agg")

import cvximplicit

project = "cvximplicit"
author = "cvximplicit developers"
copyright = "cvximplicit developers, BSD-3-Clause"
release = version = cvximplicit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_generated", "results/*.md", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.json", "auto_examples/*.md5"]

# --- API reference from the docstrings
autosummary_generate = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # the numpydoc sections state the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# --- the existing Markdown pages
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# --- the gallery: run the short examples only (one clean build on 2 shared, loaded cores: quickstart 16 s,
#     certified_block_solve 3 s, plot_researcher_workbench 35 s, of which the benchopt run is most; the whole
#     build 70 s); compare_solvers (minutes: a hard time limit per solver and problem), finetune_torch
#     (MNIST and torch, minutes) and certified_mnist_relu (program (12) on full MNIST, minutes per output) are
#     listed with their code, not run.
EXECUTED_EXAMPLES = ("quickstart", "certified_block_solve", "plot_researcher_workbench")
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"[\\/](" + "|".join(EXECUTED_EXAMPLES) + r")\.py$",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "min_reported_time": 0,
    "show_memory": False,
    "plot_gallery": "True",
}

# --- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"cvximplicit {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path: list[str] = []


# --- numbers the pages quote from the code, generated at each build (never retyped): the presets' options
GENERATED = Path(__file__).resolve().parent / "_generated"


def presets_table() -> str:
    """A Markdown table of :data:`cvximplicit.presets.PRESETS`, with the block solver's defaults where unset."""
    import inspect

    from cvximplicit.presets import PRESETS
    from cvximplicit.training import AlternatingBlockSolver

    defaults = inspect.signature(AlternatingBlockSolver.__init__).parameters
    keys = list(dict.fromkeys(k for options in PRESETS.values() for k in options))
    rows = ["| option | " + " | ".join(f"`{name}`" for name in PRESETS) + " |",
            "| --- |" + " --- |" * len(PRESETS)]
    for key in keys:
        cells = [f"`{options[key]!r}`" if key in options else f"`{defaults[key].default!r}` (default)"
                 for options in PRESETS.values()]
        rows.append(f"| `{key}` | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def _write_generated(app) -> None:
    GENERATED.mkdir(exist_ok=True)
    target = GENERATED / "presets.md"
    text = presets_table()
    if not target.is_file() or target.read_text() != text:  # rewritten only when it changes
        target.write_text(text)


def setup(app):
    app.connect("builder-inited", _write_generated)
