"""A certified two-layer ReLU network on MNIST through program (12), beside its gated-ReLU relaxation.
===================================================================================================

The block is the MNIST training set: ``M = [X, 1]`` (pixels ``uint8 / 255``, rows are images, a bias column),
targets the one-hot labels centred per class, ``Y = onehot − mean`` (q = 10 outputs), ``P`` patterns
``D_k = diag(1[M g_k ≥ 0])`` from Gaussian gates, and β = ``beta_frac`` · β_max. Program (12),

    min ½ Σ_c ‖Σ_k D_k M (v_kc − w_kc) − Y_c‖² + β Σ_{k,c} (‖v_kc‖ + ‖w_kc‖)
    s.t. (2D_k − I) M v_kc ≥ 0,  (2D_k − I) M w_kc ≥ 0,

separates over the outputs: each digit's column is solved and certified on its own (``solver="auto"``), and the
network is the ten decoded networks side by side. Its prediction on the 10 000 test images is the argmax of the
ten outputs. The gated-ReLU relaxation (the same program without the cone constraints, a group lasso) is solved
on the same patterns: its optimum is a lower bound of program (12), and the plot shows, per output, the time of
both solves and the certified gap of program (12). (The solution's report carries no per-pass times, only the
pass and Newton-step counts, so the plot shows the time per output.)

    python examples/certified_mnist_relu.py                                  # full MNIST: minutes per output
    python examples/certified_mnist_relu.py --n-samples 2000 --n-patterns 16 --pool 2
    python examples/certified_mnist_relu.py --n-samples 600 --n-patterns 8 --pool 4 --png mnist.png

At full size (60 000 × 785, P = 50, 0.01 β_max) program (12) takes the engine ~35 s per output; the gated
relaxation, a group lasso on ``P · 785`` columns, can take longer (one output of a 600-image, 8-gate block at
all 785 pixels took it 67 s on 2 shared cores; ``--no-gated`` skips it). ``--pool s``
averages ``s × s`` pixel squares first (28 / s pixels a side) for a quick run. The gallery lists this example and
does not run it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cvximplicit.datasets import load_mnist
from cvximplicit.solvers import beta_max, sample_patterns, solve_convex_relu, solve_gated_relu


# %%
# The block
# ---------
def mnist_block(data, n_samples, pool):
    """``M = [X, 1]`` of the first ``n_samples`` training images (``pool × pool`` averaged), centred one-hot ``Y``,
    the test inputs with their bias column and the test labels."""
    if not 1 <= n_samples <= len(data.targets_train):
        raise ValueError(f"--n-samples must be in [1, {len(data.targets_train)}]; got {n_samples}")
    if pool not in (1, 2, 4, 7, 14):
        raise ValueError(f"--pool must divide 28 (1, 2, 4, 7 or 14); got {pool}")

    def pixels(X):
        X = np.asarray(X, dtype=float)
        side = 28 // pool
        return X.reshape(len(X), side, pool, side, pool).mean(axis=(2, 4)).reshape(len(X), side * side)

    X = pixels(data.inputs_train[:n_samples])
    labels = np.asarray(data.targets_train[:n_samples], dtype=int)
    Y = np.eye(10)[labels]
    Y -= Y.mean(axis=0)
    X_test = pixels(data.inputs_test)
    return (np.c_[X, np.ones(len(X))], Y, np.c_[X_test, np.ones(len(X_test))],
            np.asarray(data.targets_test, dtype=int))


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--n-samples", type=int, default=60_000, help="first N training images (default 60000)")
    parser.add_argument("--n-patterns", type=int, default=50, help="Gaussian gates drawn (default 50)")
    parser.add_argument("--beta-frac", type=float, default=0.01, help="β / β_max (default 0.01)")
    parser.add_argument("--pool", type=int, default=1, help="average POOL × POOL pixel squares first (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-gated", action="store_true", help="skip the gated-ReLU relaxation")
    parser.add_argument("--png", metavar="PATH", help="write the figure to PATH (default: show it)")
    args = parser.parse_args(argv)
    if not args.beta_frac > 0:
        parser.error(f"--beta-frac must be > 0; got {args.beta_frac}")

    M, Y, M_test, labels_test = mnist_block(load_mnist(), args.n_samples, args.pool)
    patterns = sample_patterns(M, args.n_patterns, seed=args.seed)
    beta = args.beta_frac * beta_max(M, Y, patterns)
    m, d = M.shape
    P = patterns.shape[1]
    print(f"MNIST block: m = {m}, d = {d} (bias included), q = 10, P = {P} patterns, β = {beta:.4g} "
          f"({args.beta_frac} β_max)")

    # Program (12), one certified solve per output; the gated relaxation on the same patterns.
    rows, scores, n_params = [], np.zeros((len(labels_test), 10)), 0
    for c in range(10):
        start = time.perf_counter()
        sol = solve_convex_relu(M, Y[:, c], beta=beta, patterns=patterns, solver="auto", bias=False)
        t_relu = time.perf_counter() - start
        rep = sol.report
        scores[:, c] = sol.predict(M_test)[:, 0]
        W1, W2 = sol.neurons()
        n_params += W1.size + W2.size
        row = {"output": c, "time_relu": t_relu, "objective": rep.objective, "bound": rep.bound,
               "gap_rel": rep.gap_rel, "certificate": rep.certificate, "neurons": W1.shape[0],
               "time_gated": np.nan, "gated_bound": np.nan}
        if not args.no_gated:
            start = time.perf_counter()
            gated = solve_gated_relu(M, Y[:, c], beta=beta, patterns=patterns, bias=False)
            row["time_gated"] = time.perf_counter() - start
            row["gated_bound"] = gated.report.extra["lower_bound_for_program_12"]
        gap = "none" if rep.gap_rel is None else f"{rep.gap_rel:.2e}"
        print(f"output {c}: gap_rel {gap} ({rep.certificate}), objective {rep.objective:.6g}, "
              f"{W1.shape[0]} neurons, {t_relu:.2f} s; gated lower bound {row['gated_bound']:.6g} "
              f"({row['time_gated']:.2f} s)")
        rows.append(row)

    accuracy = float(np.mean(np.argmax(scores, axis=1) == labels_test))
    n_neurons = sum(r["neurons"] for r in rows)
    print(f"network: {n_neurons} ReLU neurons, {n_params} parameters (input weights with biases, output weights)")
    print(f"test accuracy {100 * accuracy:.2f} % on {len(labels_test)} test images")
    gaps = [r["gap_rel"] for r in rows]
    worst = "none (an output is uncertified)" if any(g is None for g in gaps) else f"{max(gaps):.2e}"
    print(f"program (12): objective {sum(r['objective'] for r in rows):.8g}, worst gap_rel per output {worst}, "
          f"{sum(r['time_relu'] for r in rows):.1f} s in all")

    # Time and gap per output.
    import matplotlib

    if args.png:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_g) = plt.subplots(1, 2, figsize=(10, 3.5))
    outputs = np.arange(10)
    ax_t.bar(outputs - 0.2, [r["time_relu"] for r in rows], 0.4, label="program (12)")
    if not args.no_gated:
        ax_t.bar(outputs + 0.2, [r["time_gated"] for r in rows], 0.4, label="gated ReLU (lower bound)")
    ax_t.set(xlabel="output (digit)", ylabel="time [s]", title="time per output")
    ax_t.legend()
    ax_g.semilogy(outputs, [np.nan if g is None else max(g, 1e-17) for g in gaps], "o")
    ax_g.set(xlabel="output (digit)", ylabel="certified gap_rel", title="program (12): gap per output")
    fig.tight_layout()
    if args.png:
        fig.savefig(args.png, dpi=100)
        print(f"wrote {args.png}")
    else:
        plt.show()
    return 0


if __name__ == "__main__":
    main()
