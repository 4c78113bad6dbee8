"""Compare every solver of the Ergen–Pilanci program (12) on named block problems, each under a hard time limit.
=============================================================================================================

A thin call of :mod:`cvximplicit.compare` (the same as ``cvximplicit compare``):
problems ``exact-1d`` (m = 500, ``M = [u, 1]``, all arrangements), ``sampled-d50``
(m = 2000, d = 50, 50 sampled patterns) and ``wide`` (m = 500, d = 401, 2 outputs,
20 sampled patterns); every solver runs in a child process that is stopped at
``--time-limit`` seconds. Prints a table (time, objective, bound, certified gap,
certificate kind, status, peak memory) and optionally writes JSON and a PNG.

    python examples/compare_solvers.py --time-limit 10 --json compare.json --plot compare.png
"""

from __future__ import annotations

import argparse
import json

from cvximplicit.compare import PROBLEMS, TABLE_HEADER, compare_solvers, format_row, plot_comparison, summarize


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--problems", default=",".join(PROBLEMS), help="comma-separated problem names")
    parser.add_argument("--solvers", default=None, help="comma-separated solver names (default: all usable)")
    parser.add_argument("--time-limit", type=float, default=10.0, help="hard limit per solver and problem, seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="write the rows as a JSON list to PATH")
    parser.add_argument("--plot", metavar="PNG", help="save a time vs certified-gap figure")
    args = parser.parse_args(argv)

    solvers = None if args.solvers is None else args.solvers.split(",")
    print(TABLE_HEADER)
    rows = []
    for problem in args.problems.split(","):
        rows += compare_solvers(problem, solvers, args.time_limit, seed=args.seed,
                                progress=lambda row: print(format_row(row), flush=True))
    print(summarize(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2, default=float)
        print(f"wrote {args.json}")
    if args.plot:
        print(f"wrote {plot_comparison(rows, args.plot)}")
    return 0


if __name__ == "__main__":
    main()
