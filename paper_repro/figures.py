"""Figures 3–4 (true function, training samples, blockwise prediction) and loss-per-block curves.

Every figure draws a model in the same colour (:data:`MODEL_COLORS`, the Okabe–Ito colour-blind-safe
palette), keeps its legend outside the axes so it never hides data, and says in its title when it comes
from a ``--quick`` run (not the paper's scale).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import cvximplicit as ci
from cvximplicit.datasets import f_nonsmooth, f_smooth

from .specs import MODELS

FUNCTIONS = {"smooth": ("fig3", f_smooth, "f1(u) = 5 cos(πu) exp(−|u|/2)"),
             "nonsmooth": ("fig4", f_nonsmooth, "f2(u): sawtooth × exp(−|u|/2)")}

#: One colour per model row of the tables, the same in every figure (Okabe–Ito palette).
MODEL_COLORS = dict(zip((label for label, _, _ in MODELS), ("#0072B2", "#D55E00", "#E69F00", "#009E73", "#CC79A7")))
#: Said in the title of every figure made from a ``--quick`` run.
QUICK_LABEL = "quick (not paper scale)"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _title(text: str, quick: bool) -> str:
    return f"{text} — {QUICK_LABEL}" if quick else text


def _legend_below(ax, n_entries: int) -> None:
    """The legend under the axes (off the data), in up to two columns."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2 if n_entries > 2 else n_entries,
              fontsize=7, frameon=False)


def _plain(value, _pos=None) -> str:
    return f"{value:g}"


def _mantissa(value: float) -> float:
    """``2`` for 0.2, 2, 20 …: which minor ticks of a log axis get a label."""
    return round(value / 10 ** np.floor(np.log10(value)), 6) if value > 0 else 0.0


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def function_figure(task: str, rows: list[dict], out_dir: Path, *, quick: bool = False) -> Path:
    """True function, one seed's training samples, and the blockwise predictions of seed 0."""
    plt = _pyplot()
    name, f, title = FUNCTIONS[task]
    data = ci.load_task(task, seed=0)
    fig, ax = plt.subplots(figsize=(7, 4.6))
    u = np.linspace(-5, 5, 1000)
    ax.scatter(data.inputs_train[:, 0], data.targets_train, s=6, color="0.75", label="training samples (seed 0)")
    ax.plot(u, f(u), color="k", lw=1.5, label="true function")
    for row in rows:
        if row.get("task") == task and row.get("seed") == 0 and not row.get("error") \
                and row.get("method") == "greedy" and "test_predictions" in row:
            ax.plot(row["test_inputs"], row["test_predictions"], lw=1.2, color=MODEL_COLORS.get(row["model"]),
                    label=f"{row['model']} (RMSE {row['test_rmse']:.2f})")
    ax.set(xlabel="u", ylabel="y", title=_title(title, quick))
    _legend_below(ax, len(ax.get_legend_handles_labels()[0]))
    path = _save(fig, out_dir / f"{name}_{task}.png")
    plt.close(fig)
    return path


def loss_per_block_figure(task: str, rows: list[dict], out_dir: Path, *, quick: bool = False) -> Path:
    """Training loss after each block, for both block solvers (seed 0); the x-axis ticks are block numbers."""
    plt = _pyplot()
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 4.4))
    for row in rows:
        if row.get("task") == task and row.get("seed") == 0 and not row.get("error") and row.get("blocks"):
            blocks = row["blocks"]
            ax.plot([b["block"] for b in blocks], [b["train_loss"] for b in blocks], marker="o",
                    color=MODEL_COLORS.get(row["model"]), label=f"{row['model']} ({row['loss']} loss)")
    ax.set(xlabel="block i", ylabel="training loss after block i",
           title=_title(f"{task}: loss after each block", quick), yscale="log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # blocks are whole numbers
    ax.yaxis.set_major_formatter(FuncFormatter(_plain))  # "0.4", "2", not "4 × 10⁻¹"
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: _plain(v) if _mantissa(v) in (2, 4, 6) else ""))
    _legend_below(ax, len(ax.get_legend_handles_labels()[0]))
    path = _save(fig, out_dir / f"loss_per_block_{task}.png")
    plt.close(fig)
    return path
