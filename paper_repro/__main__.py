"""Reproduce Tables I–III and Figures 3–4 of Gautam et al. with cvximplicit's public API.

    python -m paper_repro table1|table2|table3|figures|all [--quick] [--out DIR] [--n-jobs K] [--resume]

Default = the paper's settings (Section V); ``--quick`` = a small version that
finishes in about a minute (run by the test-suite).  Every row of a table is
timed in the same run.  When times are compared, run nothing else beside the
sweep: ``--n-jobs K`` gives each joblib worker ``cores // K`` threads, so
``--n-jobs 2`` on 2 cores runs two single-threaded runs side by side.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from .figures import function_figure, loss_per_block_figure
from .runner import run_sweep
from .specs import TABLES, run_specs
from .tables import write_table

TARGETS = ("table1", "table2", "table3", "figures", "all")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paper_repro", description=__doc__.split("\n")[0])
    parser.add_argument("target", choices=TARGETS)
    parser.add_argument("--quick", action="store_true", help="small settings (about a minute per table)")
    parser.add_argument("--out", default="results", help="output folder (default: results/)")
    parser.add_argument("--n-jobs", type=int, default=1, help="parallel runs through joblib (default 1)")
    parser.add_argument("--resume", action="store_true", help="skip runs already finished in OUT/runs.jsonl")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the epochs of the gradient-based rows (shorter than the paper's 200)")
    parser.add_argument("--models", nargs="+", default=None, metavar="NAME",
                        help="run only the model rows whose label contains one of these strings (case-insensitive), "
                             "e.g. --models FFN cross-entropy (default: every row)")
    args = parser.parse_args(argv)
    command = "python -m paper_repro " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))

    tables = {"table1": ["table1"], "table2": ["table2"], "table3": ["table3"],
              "figures": ["table1", "table2"], "all": ["table1", "table2", "table3"]}[args.target]
    start = time.perf_counter()
    for table in tables:
        out = Path(args.out) / table
        specs = select_models(run_specs(table, quick=args.quick, epochs=args.epochs), args.models)
        rows = run_sweep(specs, out, n_jobs=args.n_jobs, resume=args.resume)
        if args.target != "figures":
            doc = write_table(table, rows, out, command=command, quick=args.quick)
            print((out / f"{table}.md").read_text())
            failed = sum(r["n_failed"] for r in doc["rows"])
            if failed:
                print(f"{failed} run(s) failed; see {out / 'runs.jsonl'}", file=sys.stderr)
        for task in TABLES[table]:  # Figs 3–4 (regression) and the loss after each block, for every table
            if task in ("smooth", "nonsmooth"):
                print(f"figure: {function_figure(task, rows, out, quick=args.quick)}")
            print(f"figure: {loss_per_block_figure(task, rows, out, quick=args.quick)}")
    print(f"total wall time {time.perf_counter() - start:.1f} s")
    return 0


def select_models(specs, patterns):
    """The runs of the model rows whose label contains one of ``patterns`` (all when None); an error when none does."""
    if not patterns:
        return specs
    chosen = [s for s in specs if any(p.lower() in s.model.lower() for p in patterns)]
    if not chosen:
        labels = sorted({s.model for s in specs})
        raise SystemExit(f"--models {' '.join(patterns)} matches no model row; the rows are {labels}")
    return chosen


if __name__ == "__main__":
    sys.exit(main())
