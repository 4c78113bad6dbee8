"""Figures 3–4 (true function, training samples, blockwise prediction) and loss-per-block curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import cvximplicit as ci
from cvximplicit.datasets import f_nonsmooth, f_smooth

FUNCTIONS = {"smooth": ("fig3", f_smooth, "f1(u) = 5 cos(πu) exp(−|u|/2)"),
             "nonsmooth": ("fig4", f_nonsmooth, "f2(u): sawtooth × exp(−|u|/2)")}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def function_figure(task: str, rows: list[dict], out_dir: Path) -> Path:
    """True function, one seed's training samples, and the blockwise predictions of seed 0."""
    plt = _pyplot()
    name, f, title = FUNCTIONS[task]
    data = ci.load_task(task, seed=0)
    fig, ax = plt.subplots(figsize=(7, 4))
    u = np.linspace(-5, 5, 1000)
    ax.scatter(data.inputs_train[:, 0], data.targets_train, s=6, color="0.7", label="training samples (seed 0)")
    ax.plot(u, f(u), color="k", lw=1.5, label="true function")
    for row in rows:
        if row.get("task") == task and row.get("seed") == 0 and not row.get("error") \
                and row.get("method") == "greedy" and "test_predictions" in row:
            ax.plot(row["test_inputs"], row["test_predictions"], lw=1.2,
                    label=f"{row['model']} (RMSE {row['test_rmse']:.2f})")
    ax.set(xlabel="u", ylabel="y", title=title)
    ax.legend(fontsize=7)
    path = out_dir / f"{name}_{task}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def loss_per_block_figure(task: str, rows: list[dict], out_dir: Path) -> Path:
    """Training loss after each block, for both block solvers (seed 0)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for row in rows:
        if row.get("task") == task and row.get("seed") == 0 and not row.get("error") and row.get("blocks"):
            blocks = row["blocks"]
            ax.plot([b["block"] for b in blocks], [b["train_loss"] for b in blocks], marker="o",
                    label=f"{row['model']} ({row['loss']} loss)")
    ax.set(xlabel="block i", ylabel="training loss after block i", title=f"{task}: loss after each block",
           yscale="log")
    ax.legend(fontsize=7)
    path = out_dir / f"loss_per_block_{task}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
