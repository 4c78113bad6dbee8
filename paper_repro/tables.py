"""Aggregate run rows into Tables I–III and write them as Markdown, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from cvximplicit._environment import environment

from .figures import QUICK_LABEL
from .specs import PAPER, TABLES, models_for

TITLES = {
    "table1": "Table I — smooth function f1 (test RMSE over resampled training sets)",
    "table2": "Table II — non-smooth function f2 (test RMSE over resampled training sets)",
    "table3": "Table III — MNIST and Fashion-MNIST (test accuracy)",
}


def aggregate(table: str, rows: list[dict]) -> list[dict]:
    """One row per (task, model): mean ± std of the metric and time over seeds, paper numbers beside."""
    out = []
    for task in TABLES[table]:
        for label, _, _ in models_for(task):
            runs = [r for r in rows if r.get("task") == task and r.get("model") == label]
            ok = [r for r in runs if not r.get("error")]
            entry = {"task": task, "model": label, "n_runs": len(ok), "n_failed": len(runs) - len(ok),
                     "errors": sorted({r["error"] for r in runs if r.get("error")})}
            paper = PAPER[task].get(label)
            entry["paper_metric"], entry["paper_train_time_s"] = paper if paper else (None, None)
            if ok:
                times = [r["train_time_s"] for r in ok]
                entry["train_time_s"] = float(np.mean(times))  # every timed run follows a warm-up
                entry["train_time_s_std"] = float(np.std(times))
                warmups = [r["warmup_s"] for r in ok if r.get("warmup_s")]
                entry["warmup_s"] = float(np.max(warmups)) if warmups else None
                entry["n_params"] = int(ok[0]["n_params"])
                metric = "test_accuracy" if "test_accuracy" in ok[0] else "test_rmse"
                values = [r[metric] for r in ok]
                entry[f"{metric}_mean"] = float(np.mean(values))
                entry[f"{metric}_std"] = float(np.std(values))
                if metric == "test_accuracy":
                    entry["test_accuracy"] = entry["test_accuracy_mean"]
                    fits = [r["train_cross_entropy"] for r in ok if "train_cross_entropy" in r]
                    entry["train_cross_entropy"] = float(np.mean(fits)) if len(fits) == len(ok) else None
                entry["n"], entry["L"], entry["n_train"] = ok[0]["n"], ok[0].get("L"), ok[0]["n_train"]
                entry["epochs"] = ok[0].get("epochs")
            out.append(entry)
    return out


def write_table(table: str, rows: list[dict], out_dir: Path, *, command: str, quick: bool = False) -> dict:
    """Write ``tableN.md``, ``.csv`` and ``.json``; return the JSON document.

    ``quick``: the rows come from ``--quick`` runs; the title and ``scale`` say "quick (not paper scale)".
    """
    entries = aggregate(table, rows)
    title = f"{TITLES[table]} — {QUICK_LABEL}" if quick else TITLES[table]
    doc = {"table": table, "title": title, "scale": QUICK_LABEL if quick else "paper", "command": command,
           "rows": entries, "environment": environment()}
    (out_dir / f"{table}.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out_dir / f"{table}.csv").write_text(_csv(entries))
    (out_dir / f"{table}.md").write_text(_markdown(doc))
    return doc


def _metric(entry: dict) -> tuple[str, str, str]:
    """(column name, ours, paper) formatted; a row with no run at all (``--models``) says "not run"."""
    missing = "failed" if entry["n_failed"] else "not run"
    if "test_accuracy_mean" in entry or entry["task"] in ("mnist", "fashion-mnist"):
        ours = missing
        if "test_accuracy_mean" in entry:
            spread = f" ± {100 * entry['test_accuracy_std']:.2f}" if entry["n_runs"] > 1 else ""
            ours = f"{100 * entry['test_accuracy_mean']:.2f}{spread} %"
        paper = f"{100 * entry['paper_metric']:.2f} %" if entry["paper_metric"] is not None else "—"
        return "test accuracy", ours, paper
    ours = (f"{entry['test_rmse_mean']:.3f} ± {entry['test_rmse_std']:.3f}" if "test_rmse_mean" in entry
            else missing)
    paper = f"{entry['paper_metric']:.2f}" if entry["paper_metric"] is not None else "—"
    return "test RMSE", ours, paper


def _markdown(doc: dict) -> str:
    lines = [f"## {doc['title']}", "", f"Command: `{doc['command']}`", ""]
    if doc.get("scale", "paper") != "paper":
        lines += [f"**{doc['scale']}**: small models, few seeds and epochs; these numbers are not comparable "
                  "with the paper's.", ""]
    for task in dict.fromkeys(e["task"] for e in doc["rows"]):
        entries = [e for e in doc["rows"] if e["task"] == task]
        name = _metric(entries[0])[0]
        fit = name == "test accuracy"  # accuracy tables: the training cross-entropy beside the test accuracy
        lines += [f"### {task}", "",
                  f"| model | train time (s) | warm-up (s) | {name} |" + (" train CE |" if fit else "")
                  + f" params | runs | epochs | paper {name} | paper time (s) |",
                  "| --- | ---: | ---: | ---: |" + (" ---: |" if fit else "") + " ---: | ---: | ---: | ---: | ---: |"]
        for e in entries:
            _, ours, paper = _metric(e)
            time_s = f"{e['train_time_s']:.2f}" if "train_time_s" in e else "—"
            ptime = "—" if e["paper_train_time_s"] is None else f"{e['paper_train_time_s']}"
            runs = f"{e['n_runs']}" + (f" ({e['n_failed']} failed)" if e["n_failed"] else "")
            epochs = e.get("epochs") or ("—" if "convex" in e["model"] else "default")
            warm = f"{e['warmup_s']:.2f}" if e.get("warmup_s") else "—"
            ce = ""
            if fit:
                ce = f" {e['train_cross_entropy']:.4f} |" if e.get("train_cross_entropy") is not None else " — |"
            lines.append(f"| {e['model']} | {time_s} | {warm} | {ours} |{ce} {e.get('n_params', '—')} | {runs} | "
                         f"{epochs} | {paper} | {ptime} |")
        lines.append("")
    lines += ["Train time: mean over the runs, each timed after an untimed warm-up of the same method in the same "
              "process (imports, first solver call); warm-up: the longest such warm-up, not included in the "
              "mean.", ""]
    if any(e.get("train_cross_entropy") is not None for e in doc["rows"]):
        lines += ["Test accuracy: mean ± std over the runs (seeds) where there is more than one. Train CE: the "
                  "softmax cross-entropy of the model's outputs on the training set, mean over the runs, whatever "
                  "loss the row trained (the squared-loss row's outputs are not scaled for it).", ""]
    env = doc["environment"]
    lines.append(f"Environment: {env['cpu']} ({env['cpu_count']} CPUs), Python {env['python']}, "
                 f"{env['date_utc']}; packages: "
                 + ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v) + ".")
    return "\n".join(lines) + "\n"


def _csv(entries: list[dict]) -> str:
    fields = ["task", "model", "train_time_s", "train_time_s_std", "warmup_s", "test_rmse_mean", "test_rmse_std",
              "test_accuracy", "test_accuracy_std", "train_cross_entropy", "n_params", "n_runs", "n_failed",
              "paper_metric", "paper_train_time_s"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for e in entries:
        writer.writerow(e)
    return buf.getvalue()
