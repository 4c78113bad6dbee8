"""Local search block solver (Remark 2 of the paper): Adam on one block of Algorithm 1.

Block ``i`` of the sequential greedy method solves (7) — (6) for ``i = 1`` —

.. math::

    \\min_{A_{i,<i},\\, B_i,\\, C_{\\le i}}\\;
    \\mathcal{L}\\Big(Y,\\; C_{<i} X_{<i} + C_i\\, \\phi\\big(A_{i,<i} X_{<i} + B_i U\\big)\\Big)

with the earlier states ``X_{<i} = [X_1; …; X_{i-1}]`` frozen and ``𝓛`` the
squared loss (8) ``(1/m)‖Y − Ŷ‖_F²`` or the softmax cross-entropy (9).  This
module minimises it by gradient steps (Adam) on ``A_row = A_{i,<i}``
(``n_i × n_prev``), ``B_row = B_i`` (``n_i × p``) and ``C = [C_1 … C_i]``
(``q × (n_prev + n_i)``) — the "local search" variant the paper reports on
MNIST.  It is nonconvex and carries no certificate.

Orientation: the :class:`~cvximplicit.training.block.BlockProblem` arrays have
samples as columns; internally the tensors are transposed (samples as rows) so
that mini-batches are contiguous.

torch is imported lazily, when :meth:`LocalSearchBlockSolver.solve` runs.
"""

from __future__ import annotations

import numpy as np

from ..activations import check_activation, get_activation
from ..exceptions import ValidationError
from ..solvers.core.report import SolveReport
from ..training.block import (
    BlockProblem,
    BlockResult,
    block_loss,
    register_block_solver,
)
from . import _torch as engine
from ._torch import DEFAULT_EPOCHS

__all__ = ["LocalSearchBlockSolver", "DEFAULT_EPOCHS", "INITS", "C_INITS"]

#: How ``[A_row, B_row]`` start (``init=``): one fan-in over ``[X_prev; U]``, or one per input.
INITS = ("uniform", "uniform_split")
#: How ``C = [C_1 … C_i]`` starts (``C_init=``): carried from block ``i−1``, zero, or a fresh uniform draw.
C_INITS = ("previous", "zero", "uniform")


class LocalSearchBlockSolver:
    """Adam on one block's parameters (Remark 2), registered as ``"local_search"``.

    Parameters
    ----------
    lr : float, optional
        Adam step size; ``None`` → the paper's 0.01 (squared loss) or 0.001
        (cross-entropy).
    epochs : int, optional
        Passes over the ``m`` samples; ``None`` → :data:`DEFAULT_EPOCHS`.
    batch_size : int, optional
        Mini-batch size; ``None`` → full batch for ``m ≤ 4096`` samples, else 256.
    device : {"cpu", "cuda"}
        torch device.
    weight_decay : float
        Adam's L2 penalty on all block parameters (0: the unregularised (7)).
    tol : float
        Stop early when the epoch loss changes by less than ``tol · max(1, loss)``
        (status ``"converged"``); 0 runs all epochs (status ``"max_iter"``).
    dtype : {"float64", "float32"}
        Training precision (the returned arrays are float64 either way).
    init : {"uniform", "uniform_split"}
        How ``[A_row, B_row]`` start. ``"uniform"``: every entry uniform in
        ``±1/√(n_prev + p)``, one fan-in over the stacked input ``[X_prev; U]``
        (one torch ``Linear``). ``"uniform_split"``: ``A_row`` uniform in
        ``±1/√n_prev`` and ``B_row`` in ``±1/√p``, a fan-in per input (two
        ``Linear`` layers, one reading ``X_prev`` and one reading ``U``).
    C_init : {"previous", "zero", "uniform"}
        How ``C = [C_{<i}, C_i]`` starts. ``"previous"``: ``C_{<i}`` is block
        ``i−1``'s ``problem.C_prev`` and ``C_i = 0``, so block ``i`` starts at
        block ``i−1``'s objective. ``"zero"``: all of ``C`` restarts at 0.
        ``"uniform"``: all of ``C`` is drawn afresh, uniform in
        ``±1/√(n_prev + n_i)`` (a new ``Linear`` output layer per block).
    train_C_prev : bool
        ``True``: Adam re-optimises every output block ``C_1 … C_i``, as (7)
        states. ``False``: ``C_{<i}`` stays at ``problem.C_prev`` and only
        ``C_i`` (with ``A_row``, ``B_row``) is trained; needs
        ``C_init="previous"``.
    verbose : bool
        Print the loss ten times per block.

    Notes
    -----
    Initialisation is seeded by ``problem.seed``; ``[A_row, B_row]`` are drawn
    first, then (``C_init="uniform"``) ``C``. With ``problem.C_prev = None``
    (block 1) ``"previous"`` starts ``C`` at 0. The defaults (``"uniform"``,
    ``"previous"``, ``train_C_prev=True``) are the settings this solver always had.
    """

    name = "local_search"

    def __init__(self, *, lr=None, epochs=None, batch_size=None, device="cpu", weight_decay=0.0, tol=0.0,
                 dtype="float64", init="uniform", C_init="previous", train_C_prev=True, verbose=False):
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.device = device
        self.weight_decay = weight_decay
        self.tol = tol
        self.dtype = dtype
        self.init = init
        self.C_init = C_init
        self.train_C_prev = train_C_prev
        self.verbose = verbose

    def solve(self, problem: BlockProblem) -> BlockResult:
        """Minimise (7) for ``problem`` by Adam and return the block's weights.

        Returns
        -------
        BlockResult
            ``A_row`` ``(n_i, n_prev)``, ``B_row`` ``(n_i, p)``, ``C``
            ``(q, n_prev + n_i)``, ``X_new = φ(A_row X_prev + B_row U)``
            ``(n_i, m)``, ``objective`` = the block loss (8)/(9) of the
            returned weights (computed in float64 numpy), one
            :class:`SolveReport` (``solver="ADAM"``, ``certificate="none"``),
            ``history`` (per epoch) and ``info["initial_objective"]``.

        Raises
        ------
        MissingDependencyError
            If torch is not installed.
        ValidationError
            For an invalid option or ``C_prev`` of the wrong shape.
        """
        torch = engine.require_torch("the local-search block solver (block_solver='local_search')")
        options = self._options(torch, problem)
        U, X_prev, Y = (np.asarray(a, dtype=float) for a in (problem.U, problem.X_prev, problem.Y))
        n_prev, n_i, m = problem.n_prev, int(problem.n_i), problem.m
        W0, C0 = self._initial_weights(torch, problem, options)
        phi_np = get_activation(problem.activation)
        initial = _objective(W0, C0, X_prev, U, Y, problem.loss, phi_np)

        dev, dtype = options["device"], options["dtype"]
        with engine.threads(torch, m * (n_prev + U.shape[0] + n_i)):
            features = engine.as_rows(torch, np.vstack([X_prev, U]), dtype=dtype, device=dev)
            targets = engine.as_rows(torch, Y, dtype=dtype, device=dev)
            W = torch.tensor(W0, dtype=dtype, device=dev, requires_grad=True)
            # Trained output columns: all of C, or only C_i when C_{<i} is held at C_prev.
            first = 0 if options["train_C_prev"] else n_prev
            C_held = torch.tensor(C0[:, :first], dtype=dtype, device=dev)
            C_free = torch.tensor(C0[:, first:], dtype=dtype, device=dev, requires_grad=True)
            phi = engine.torch_activation(torch, problem.activation)

            def batch_loss(idx):
                F = features if idx is None else features.index_select(0, idx.to(dev))
                T = targets if idx is None else targets.index_select(0, idx.to(dev))
                states = torch.cat([F[:, :n_prev], phi(F @ W.T)], dim=1)  # [X_prev; X_new]ᵀ
                logits = states[:, first:] @ C_free.T
                if first:
                    logits = logits + states[:, :first] @ C_held.T
                return engine.torch_loss(torch, T, logits, problem.loss)

            run = engine.adam_loop(
                torch, [W, C_free], batch_loss, m=m, lr=options["lr"], epochs=options["epochs"],
                batch_size=options["batch_size"], weight_decay=options["weight_decay"], seed=problem.seed,
                tol=options["tol"], verbose=self.verbose, label=f"local_search block {problem.block_index}",
            )
            solve_time = run["time_s"]
            W_final = W.detach().cpu().numpy().astype(float)
            C_final = np.hstack([C0[:, :first], C_free.detach().cpu().numpy().astype(float)])

        A_row, B_row = W_final[:, :n_prev], W_final[:, n_prev:]
        X_new = phi_np(A_row @ X_prev + B_row @ U)
        objective = block_loss(Y, C_final @ np.vstack([X_prev, X_new]), problem.loss)
        trace = [h["loss"] for h in run["history"]]
        report = SolveReport(
            problem="local_search", solver="ADAM", status=run["status"], objective=objective,
            certificate="none", iterations=run["steps"], solve_time_s=solve_time,
            extra={"lr": options["lr"], "epochs": options["epochs"], "epochs_run": run["epochs_run"],
                   "batch_size": options["batch_size"], "weight_decay": options["weight_decay"],
                   "init": options["init"], "C_init": options["C_init"], "train_C_prev": options["train_C_prev"],
                   "initial_objective": initial, "loss_trace": engine.short_trace(trace)},
        )
        return BlockResult(
            A_row=A_row, B_row=B_row, C=C_final, X_new=X_new, objective=objective, reports=[report],
            history=run["history"],
            info={"initial_objective": initial, "solver": self.name, "lr": options["lr"],
                  "epochs": options["epochs"], "batch_size": options["batch_size"], "n_i": n_i,
                  "init": options["init"], "C_init": options["C_init"], "train_C_prev": options["train_C_prev"]},
        )

    # ---------------------------------------------------------------- helpers
    def _options(self, torch, problem: BlockProblem) -> dict:
        check_activation(problem.activation)
        epochs = DEFAULT_EPOCHS[problem.loss] if self.epochs is None else engine.check_positive_int(
            "epochs", self.epochs)
        for name, value, valid in (("init", self.init, INITS), ("C_init", self.C_init, C_INITS)):
            if not isinstance(value, str) or value not in valid:
                raise ValidationError(f"{name} must be one of {valid}; got {name}={value!r}")
        if not isinstance(self.train_C_prev, (bool, np.bool_)):
            raise ValidationError(f"train_C_prev must be True or False; got train_C_prev={self.train_C_prev!r}")
        if not self.train_C_prev and self.C_init != "previous":
            raise ValidationError(
                f"train_C_prev=False holds C_<i at block i-1's values, so it needs C_init='previous'; "
                f"got C_init={self.C_init!r}"
            )
        return {
            "lr": engine.resolve_lr(self.lr, problem.loss),
            "epochs": epochs,
            "batch_size": engine.resolve_batch_size(self.batch_size, problem.m),
            "weight_decay": engine.check_positive_float("weight_decay", self.weight_decay, allow_zero=True),
            "tol": engine.check_positive_float("tol", self.tol, allow_zero=True),
            "device": engine.resolve_device(torch, self.device),
            "dtype": engine.resolve_dtype(torch, self.dtype),
            "init": self.init,
            "C_init": self.C_init,
            "train_C_prev": bool(self.train_C_prev),
        }

    @staticmethod
    def _initial_weights(torch, problem: BlockProblem, options: dict) -> tuple[np.ndarray, np.ndarray]:
        """``W0 = [A_row, B_row]`` and ``C0`` as float64 arrays, by ``options["init"]`` and ``options["C_init"]``."""
        n_prev, n_i, q, p = problem.n_prev, int(problem.n_i), problem.Y.shape[0], problem.U.shape[0]
        generator = torch.Generator().manual_seed(int(problem.seed))
        if options["init"] == "uniform":
            W0 = engine.uniform_init(torch, generator, (n_i, n_prev + p), n_prev + p).numpy()
        else:  # "uniform_split": a fan-in per input
            W0 = np.hstack([engine.uniform_init(torch, generator, (n_i, n_prev), n_prev).numpy(),
                            engine.uniform_init(torch, generator, (n_i, p), p).numpy()])
        C_prev = None if problem.C_prev is None else np.asarray(problem.C_prev, dtype=float)
        if C_prev is not None and C_prev.shape != (q, n_prev):
            raise ValidationError(f"C_prev must have shape (q, n_prev) = {(q, n_prev)}; got {C_prev.shape}")
        if C_prev is None and n_prev and not options["train_C_prev"]:
            raise ValidationError(
                f"train_C_prev=False holds C_<i at problem.C_prev, but this block has n_prev={n_prev} earlier "
                "states and C_prev=None"
            )
        if options["C_init"] == "uniform":
            return W0, engine.uniform_init(torch, generator, (q, n_prev + n_i), n_prev + n_i).numpy()
        C0 = np.zeros((q, n_prev + n_i))
        if options["C_init"] == "previous" and C_prev is not None:
            C0[:, :n_prev] = C_prev
        return W0, C0


def _objective(W, C, X_prev, U, Y, loss, phi) -> float:
    n_prev = X_prev.shape[0]
    X_new = phi(W[:, :n_prev] @ X_prev + W[:, n_prev:] @ U)
    return block_loss(Y, C @ np.vstack([X_prev, X_new]), loss)


register_block_solver("local_search", LocalSearchBlockSolver)
