"""adelie as a peer on program (12): its point judged by cvximplicit, beside cvximplicit's ACTIVE_SET solve.

adelie (PyPI ``adelie``) poses program (12) itself, for one output,

    min ½‖Σ_k D_k M (v_k − w_k) − y‖² + β Σ_k (‖v_k‖ + ‖w_k‖)   s.t. (2D_k − I) M v_k ≥ 0, (2D_k − I) M w_k ≥ 0,

as a group lasso on ``adelie.matrix.convex_relu`` with one ``adelie.constraint.linear`` per group. It pins
numpy < 2 and cannot share an environment with cvxpy, so it runs in its own virtual environment: this script
writes the block to an ``.npz``, runs ``benchmarks/adelie_child.py`` (numpy and adelie only) in that environment's
python, and reads adelie's ``(V, W)`` back. The objective and the cone violations of adelie's point are recomputed
here, by ``cvximplicit.solvers.ReluProgram`` (never taken from the peer), and printed beside ACTIVE_SET's
certified solve of the same block (its time, objective, certified bound and gap).

    python benchmarks/adelie_peer.py --setup ~/adelie-venv              # create the venv, install adelie, compare
    python benchmarks/adelie_peer.py --python ~/adelie-venv/bin/python  # compare (or set ADELIE_PYTHON)
    python benchmarks/adelie_peer.py --python … --npz block.npz         # your block (M, Y with q = 1, patterns, beta)

The default block is Friedman #1 as the benchopt dataset ``friedman-d6`` makes it (5 uniform inputs plus bias,
``m = 1000``, 100 sampled gates, β = 0.01 β_max). adelie's tolerances are options (``--tol``, its coordinate
descent's; ``--pinball-tol`` and ``--nnls-tol``, its constraint solver's, which govern feasibility) and are printed
with the results. Measured with adelie 1.1.52 at its defaults (1e-7): at 0.01 β_max (one active group) its point
is ACTIVE_SET's; at ``--beta-frac 0.001`` it violates the cones by 4.4e-4 (absolute; 1.4e-5 relative) and lies
3.3e-4 (relative) above ACTIVE_SET's certified bound. With ``--pinball-tol 1e-12 --nnls-tol 1e-12`` its constraint
solver failed at the 5th of 20 path points; adelie logs the error and returns the shorter path, which this script
flags (``WARNING: adelie stopped early``). An infeasible point's objective can lie below the optimum: read
adelie's objective with its violation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = Path(__file__).resolve().with_name("adelie_child.py")
sys.path.insert(0, str(CHILD.parent / "benchopt_relu"))  # the benchmark's blocks: one definition of each
import benchmark_utils  # noqa: E402
#: adelie's own defaults (``grpnet``'s ``tol``; ``constraint.linear``'s ``pinball_tol`` and ``nnls_tol``).
ADELIE_DEFAULTS = {"tol": 1e-7, "pinball_tol": 1e-7, "nnls_tol": 1e-7}


def npz_block(path, n_patterns=100, seed=0):
    """A user's block (``M``, ``Y`` with one output, optional ``patterns`` and ``beta``), read by cvximplicit."""
    data = benchmark_utils.npz_block(path, n_patterns, seed)
    Y = data["Y"]
    if Y.ndim == 2 and Y.shape[1] != 1:
        raise ValueError(f"adelie's peer poses one output; {path} has Y of shape {Y.shape}")
    return data["M"], Y.reshape(-1), data["patterns"], data["beta"]


def write_block(path, M, y, patterns, beta, *, tol, pinball_tol, nnls_tol, path_size):
    """Write the block and adelie's options to ``path`` (what ``adelie_child.py`` reads)."""
    M, y, patterns = np.asarray(M, dtype=float), np.asarray(y, dtype=float), np.asarray(patterns)
    if M.ndim != 2 or y.shape != (M.shape[0],) or patterns.ndim != 2 or patterns.shape[0] != M.shape[0]:
        raise ValueError(f"need M (m, d), y (m,), patterns (m, P); got {M.shape}, {y.shape}, {patterns.shape}")
    if patterns.dtype != bool:
        raise ValueError(f"patterns must be boolean; got {patterns.dtype}")
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be finite and > 0; got {beta!r}")
    for name, value in (("tol", tol), ("pinball_tol", pinball_tol), ("nnls_tol", nnls_tol)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be finite and > 0; got {value!r}")
    if int(path_size) < 1:
        raise ValueError(f"path_size must be >= 1; got {path_size!r}")
    np.savez(path, M=M, y=y, patterns=patterns, beta=float(beta), tol=float(tol), pinball_tol=float(pinball_tol),
             nnls_tol=float(nnls_tol), path_size=int(path_size))


def read_solution(path, P, d):
    """adelie's ``V``, ``W`` ``(P, d)`` and what it said about its run, from the child's ``.npz``."""
    with np.load(path) as out:
        missing = {"V", "W", "time_s"} - set(out.files)
        if missing:
            raise ValueError(f"{path} lacks {sorted(missing)}: not an adelie_child.py result")
        V, W = np.asarray(out["V"], float), np.asarray(out["W"], float)
        info = {k: out[k].item() for k in out.files if k not in ("V", "W")}
    if V.shape != (P, d) or W.shape != (P, d):
        raise ValueError(f"adelie returned V {V.shape} and W {W.shape}; expected ({P}, {d}) each")
    if not (np.all(np.isfinite(V)) and np.all(np.isfinite(W))):
        raise ValueError("adelie returned non-finite weights")
    return V, W, info


def judge(M, y, patterns, beta, V, W):
    """Program (12) at ``(V, W)`` ``(P, d)``, recomputed here: objective, relative and absolute cone violation.

    ``objective = ½‖Σ_k D_k M (v_k − w_k) − y‖² + β Σ_k (‖v_k‖ + ‖w_k‖)`` (``ReluProgram.objective``);
    ``violation_rel`` is ``ReluProgram.violation`` (the largest ``max(0, −(2D_k − I) M h)`` over a group's rows,
    relative to the group's size); ``violation_abs = max_{k, rows} max(0, −(2D_k − I) M h_k)`` over ``h = v, w``.
    """
    from cvximplicit.solvers import ReluProgram

    program = ReluProgram.from_data(M, y, patterns, beta)
    V3, W3 = np.asarray(V, float)[:, :, None], np.asarray(W, float)[:, :, None]
    signs = 2.0 * np.asarray(patterns, float) - 1.0  # (m, P)
    MV, MW = np.asarray(M, float) @ V3[:, :, 0].T, np.asarray(M, float) @ W3[:, :, 0].T  # (m, P)
    violation_abs = float(max(0.0, -(signs * MV).min(), -(signs * MW).min()))
    return {"objective": program.objective(V3, W3), "violation_rel": program.violation(V3, W3),
            "violation_abs": violation_abs}


def incomplete_path(info, beta):
    """Whether adelie stopped before the path's last point (it reports a solver error and returns fewer points)."""
    if "n_solved" not in info or "n_path" not in info:
        return False
    return int(info["n_solved"]) < int(info["n_path"]) or not np.isclose(info.get("beta_reached", beta), beta,
                                                                          rtol=1e-9)


def setup_venv(venv):
    """``python -m venv VENV`` and ``pip install adelie`` in it; its python, or SystemExit with pip's error."""
    venv = Path(venv).expanduser().resolve()
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        proc = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(proc.stdout + proc.stderr, file=sys.stderr)
            raise SystemExit(f"could not create the virtual environment {venv} (python -m venv exited {proc.returncode})")
    proc = subprocess.run([str(python), "-m", "pip", "install", "adelie"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(proc.stdout[-3000:] + proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"pip could not install adelie into {venv} (exit {proc.returncode}; pip's output above)")
    return python


def run_adelie(python, M, y, patterns, beta, *, timeout, **options):
    """Run ``adelie_child.py`` in ``python`` on the block; ``(V, W, info)`` with the wall time of the child."""
    with tempfile.TemporaryDirectory() as tmp:
        block, out = Path(tmp) / "block.npz", Path(tmp) / "adelie.npz"
        write_block(block, M, y, patterns, beta, **options)
        start = time.perf_counter()
        proc = subprocess.run([str(python), str(CHILD), str(block), str(out)], capture_output=True, text=True,
                              timeout=timeout, check=False)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"adelie_child.py exited {proc.returncode} under {python} (its stderr above)")
        if proc.stderr.strip():  # adelie's logger: solver errors that shorten the path
            print(f"adelie's log: {proc.stderr.strip()[-2000:]}")
        V, W, info = read_solution(out, patterns.shape[1], M.shape[1])
    info["wall_s"] = wall
    return V, W, info


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--setup", metavar="VENV", help="create VENV (python -m venv), pip install adelie, then compare")
    where.add_argument("--python", help="a python with adelie installed (default: $ADELIE_PYTHON)")
    parser.add_argument("--setup-only", action="store_true", help="with --setup: stop after the install")
    parser.add_argument("--npz", help="your block (M, Y with one output, optional patterns and beta) instead")
    parser.add_argument("--m", type=int, default=1000, help="Friedman block: samples (default 1000)")
    parser.add_argument("--n-patterns", type=int, default=100, help="gates drawn (default 100)")
    parser.add_argument("--beta-frac", type=float, default=0.01, help="Friedman block: β / β_max (default 0.01)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tol", type=float, default=ADELIE_DEFAULTS["tol"], help="adelie grpnet's tol (default 1e-7)")
    parser.add_argument("--pinball-tol", type=float, default=ADELIE_DEFAULTS["pinball_tol"],
                        help="adelie constraint.linear's pinball_tol: governs feasibility (default 1e-7)")
    parser.add_argument("--nnls-tol", type=float, default=ADELIE_DEFAULTS["nnls_tol"],
                        help="adelie constraint.linear's nnls_tol (default 1e-7)")
    parser.add_argument("--path-size", type=int, default=20,
                        help="adelie's λ path from λ_max down to β/m, geometric (default 20; 1: β alone)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed to adelie's run (default 600)")
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH")
    args = parser.parse_args(argv)

    if args.setup:
        python = setup_venv(args.setup)
        print(f"adelie installed in {args.setup} ({python})")
        if args.setup_only:
            return 0
    else:
        python = args.python or os.environ.get("ADELIE_PYTHON")
        if not python:
            parser.error("name adelie's python: --python PATH, $ADELIE_PYTHON, or --setup VENV to create one")
    if args.npz:
        M, y, patterns, beta = npz_block(args.npz, args.n_patterns, args.seed)
        name = args.npz
    else:
        M, y, patterns, beta = benchmark_utils.friedman_d6(args.m, args.n_patterns, args.beta_frac, args.seed)
        name = f"Friedman #1, m = {args.m}, β = {args.beta_frac} β_max"
    m, d = M.shape
    P = patterns.shape[1]
    options = {"tol": args.tol, "pinball_tol": args.pinball_tol, "nnls_tol": args.nnls_tol, "path_size": args.path_size}
    V, W, info = run_adelie(python, M, y, patterns, beta, timeout=args.timeout, **options)
    adelie = judge(M, y, patterns, beta, V, W)

    from cvximplicit.solvers import solve_convex_relu

    start = time.perf_counter()
    sol = solve_convex_relu(M, y, beta=beta, patterns=patterns, solver="ACTIVE_SET", bias=False)
    ours_wall = time.perf_counter() - start
    rep = sol.report
    ours = judge(M, y, patterns, beta, sol.V[:, :, 0], sol.W[:, :, 0])
    bound = rep.bound

    print(f"block: {name}; m = {m}, d = {d}, P = {P}, β = {beta:.6g}")
    print(f"adelie {info.get('version', '?')}: tol {args.tol:g}, pinball_tol {args.pinball_tol:g}, "
          f"nnls_tol {args.nnls_tol:g}, λ path of {args.path_size} down to β/m ({info.get('n_solved', '?')} solved)")
    if incomplete_path(info, beta):
        print(f"WARNING: adelie stopped early, at path point {info['n_solved']} of {info['n_path']} "
              f"(β = {info['beta_reached']:.6g}, not {beta:.6g}): its row below is that point, judged at β "
              "(see the child's log above; try other tolerances)")
    print(f"{'':12s} {'time [s]':>10s} {'objective (ours)':>20s} {'− bound':>10s} {'viol. rel':>10s} {'viol. abs':>10s}")
    for label, t, res in (("adelie", info["time_s"], adelie), ("ACTIVE_SET", ours_wall, ours)):
        excess = (res["objective"] - bound) / max(1.0, abs(res["objective"]))
        print(f"{label:12s} {t:10.3f} {res['objective']:20.10g} {excess:10.2e} {res['violation_rel']:10.2e} "
              f"{res['violation_abs']:10.2e}")
    print(f"ACTIVE_SET certified bound {bound:.10g}, gap_rel {rep.gap_rel:.2e} ({rep.certificate}); '− bound' is "
          "(objective − that bound) / max(1, |objective|); adelie's time is its solve inside the child "
          f"(child wall {info['wall_s']:.2f} s with the imports)")
    if args.json:
        doc = {"block": name, "m": m, "d": d, "P": P, "beta": beta, "adelie_options": options,
               "adelie": {**adelie, "time_s": info["time_s"], "wall_s": info["wall_s"],
                          "version": str(info.get("version")), "incomplete_path": incomplete_path(info, beta)},
               "active_set": {**ours, "time_s": ours_wall, "bound": bound, "gap_rel": rep.gap_rel,
                              "certificate": rep.certificate}}
        Path(args.json).write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
