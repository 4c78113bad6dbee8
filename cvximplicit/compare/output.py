"""The comparison's table, summary and figure (time vs certified gap)."""

from __future__ import annotations

import math
from pathlib import Path


# --------------------------------------------------------------------------- output
def _fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return format("-", ">" + spec.split(".")[0])
    return format(value, spec)


TABLE_HEADER = (f"{'problem':<12} {'solver':<10} {'time s':>7} {'objective':>14} {'bound':>14} {'cert. gap':>11} "
                f"{'certificate':>17} {'status':<16} {'peak MiB':>8}")


def _gap(row: dict) -> str:
    """The report's certified gap, or ``(objective − bound)`` in parentheses where the report certifies none."""
    if row.get("gap_rel") is not None:
        return f"{row['gap_rel']:.1e}"
    if row.get("bound_gap_rel") is not None:
        return f"({row['bound_gap_rel']:.1e})"
    return "-"


def format_row(row: dict) -> str:
    """One line of the comparison table."""
    line = (f"{row['problem']:<12} {row['solver']:<10} {_fmt(row.get('time_s'), '7.2f')} "
            f"{_fmt(row.get('objective'), '14.8g')} {_fmt(row.get('bound'), '14.8g')} "
            f"{_gap(row):>11} {row.get('certificate') or 'none':>17} "
            f"{row.get('status')!s:<16} {_fmt(row.get('peak_rss_mib'), '8.0f')}")
    if row.get("error"):
        line += f"  {row['error'][:100]}"
    return line


def format_table(rows: list[dict]) -> str:
    """A plain-text table: time, objective, certified bound and gap, certificate kind, status, peak memory.

    The gap column is the report's certified relative gap; in parentheses,
    ``(objective − bound) / max(1, |objective|)`` where the report certifies
    nothing (a point that violates the cone constraints or misses the tolerance).
    """
    return "\n".join([TABLE_HEADER, "-" * len(TABLE_HEADER)] + [format_row(r) for r in rows])


def _plot_gap(row: dict):
    gap = row.get("gap_rel")
    if gap is None:
        gap = row.get("bound_gap_rel")
    return gap if gap is not None and math.isfinite(gap) else None


def plot_comparison(rows: list[dict], path) -> Path:
    """Save a PNG of time vs certified relative gap, one panel per problem (matplotlib, imported here).

    Filled circles: certified gaps; hollow squares: ``(objective − bound)`` at a
    point the report does not certify; ``×`` at the top: no result (stopped, failed).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        from ..exceptions import MissingDependencyError

        raise MissingDependencyError("matplotlib is needed for the comparison plot: pip install matplotlib") from exc
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    solvers = list(dict.fromkeys(r["solver"] for r in rows))
    colours = {s: plt.get_cmap("tab10")(i % 10) for i, s in enumerate(solvers)}
    fig, axes = plt.subplots(1, len(problems), figsize=(4.2 * len(problems), 3.6), squeeze=False)
    for ax, prob in zip(axes[0], problems):
        sub = [r for r in rows if r["problem"] == prob]
        gaps = [abs(_plot_gap(r)) for r in sub if _plot_gap(r) is not None]
        top = max(gaps + [1.0]) * 10
        for r in sub:
            t, gap = r.get("time_s") or 0.0, _plot_gap(r)
            certified = (r.get("certificate") or "none") != "none"
            if gap is None:
                ax.scatter(t, top, color=colours[r["solver"]], label=r["solver"], marker="x", s=50)
            else:
                ax.scatter(t, max(abs(gap), 1e-12), label=r["solver"], s=40, marker="o" if certified else "s",
                           color=colours[r["solver"]] if certified else "none", edgecolors=colours[r["solver"]])
        limit = sub[0]["time_limit_s"]
        ax.axvline(limit, color="grey", lw=0.8, ls="--")
        ax.set_xlim(0, 1.05 * max([limit] + [r.get("time_s") or 0.0 for r in sub]))
        ax.set_yscale("log")
        ax.set_xlabel("wall-clock time (s); dashed: limit")
        ax.set_title(f"{prob} ({sub[0].get('shape', '')})", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("relative gap (objective − bound)\n● certified  □ not certified  × no result", fontsize=8)
    handles, labels = [], []
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h), labels.append(lab)
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _at_beta(row: dict) -> str:
    ratio = row.get("beta_ratio")
    return "" if ratio is None else f" at β = {ratio:.3g} β_max"


def summarize(rows: list[dict]) -> str:
    """One line per problem: the fastest solver that returned a certificate other than ``none``."""
    lines = []
    for prob in dict.fromkeys(r["problem"] for r in rows):
        ok = [r for r in rows if r["problem"] == prob and (r.get("certificate") or "none") != "none"]
        if ok:
            best = min(ok, key=lambda r: r["time_s"])
            lines.append(f"{prob}: fastest certified: {best['solver']} ({best['time_s']:.2f} s, "
                         f"gap {best['gap_rel']:.1e}, {best['certificate']}){_at_beta(best)}")
        else:
            lines.append(f"{prob}: no solver returned a certificate within the limit")
    return "\n".join(lines)
