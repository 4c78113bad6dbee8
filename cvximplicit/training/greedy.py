"""Sequential greedy training of a strictly block-triangular model (Algorithm 1).

Orientation: columns are samples (``U`` is ``p × m``, ``Y`` is ``q × m``).  The
state is built in computation order ``[X_1; …; X_L]``: block 1 solves (6),
block ``i ≥ 2`` solves (7) with ``X_1..X_{i-1}`` frozen and all output blocks
``C_1..C_i`` re-optimised.  The returned :class:`~cvximplicit.model.ImplicitModel`
has a strictly lower block-triangular ``A`` whose forward substitution (5)
reproduces the training-time features.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .._validation import as_real_array, check_memory
from ..activations import check_activation
from ..exceptions import DataError, ValidationError
from ..model import ImplicitModel
from ..partition import block_slices, check_block_sizes
from ..solvers.core.report import SolveReport
from .block import LOSSES, BlockProblem, block_loss, get_block_solver
from .checkpoint import Checkpoint, fingerprint
from .finetune_stage import check_finetune_options, describe_finetune, finetune_stage, holdout_split

__all__ = ["train_greedy", "GreedyResult", "BlockRecord", "format_block_table", "block_summary"]


@dataclass
class BlockRecord:
    """What one block of :func:`train_greedy` did; its reports stay :class:`SolveReport` objects.

    Attributes
    ----------
    block, n_i : int
        The block's index (from 1) and its number of states.
    objective : float
        Training loss after the block.
    time_s : float
        The block's wall time.
    reports : list of SolveReport
        Each solve's report, in order.
    history : list of dict
        Per alternation/epoch.
    info : dict
        What the block solver adds (β, certificate, reductions, ...).

    :meth:`to_dict` is the JSON form (checkpoints); :meth:`from_dict` reads it back.
    ``record["objective"]`` reads a field as the dict records of earlier versions did.
    """

    block: int
    n_i: int
    objective: float
    time_s: float
    reports: list = field(default_factory=list)
    history: list = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; each report through :meth:`SolveReport.to_dict`."""
        return {"block": self.block, "n_i": self.n_i, "objective": self.objective, "time_s": self.time_s,
                "reports": [r.to_dict() for r in self.reports], "history": list(self.history),
                "info": dict(self.info)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BlockRecord":
        """The record :meth:`to_dict` wrote (the dict records of earlier versions too).

        Raises :class:`ValueError` naming what is missing or malformed.
        """
        try:
            return cls(int(data["block"]), int(data["n_i"]), float(data["objective"]), float(data["time_s"]),
                       [SolveReport.from_dict(r) for r in data.get("reports") or ()], list(data.get("history") or ()),
                       dict(data.get("info") or {}))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"a block record needs block, n_i, objective, time_s and a list of reports; "
                             f"got {type(exc).__name__}: {exc}") from None

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)


@dataclass
class GreedyResult:
    """Outcome of :func:`train_greedy`.

    Attributes
    ----------
    model : ImplicitModel
    blocks : list of BlockRecord
        One record per block: ``block``, ``n_i``, ``objective`` (training loss
        after the block), ``time_s``, ``reports`` (each solve's
        :class:`~cvximplicit.solvers.core.report.SolveReport`), ``history`` (per
        alternation/epoch) and ``info``.
    train_time_s : float
        Sum of the blocks' times and the fine-tune's (a resumed run counts the earlier blocks too).
    resumed_from : int
        Number of blocks read from a checkpoint (0 for a fresh run).
    finetune : dict or None
        What the joint fine-tune after the blocks did (:meth:`FinetuneResult.summary
        <cvximplicit.training.finetune.FinetuneResult.summary>`, a local step: ``certified`` False), with
        ``final_loss`` (the returned model's training loss) and ``output_step``, the report of the certified
        output step that re-fitted ``C`` after it, as a dict (None with ``refit_output=False``); None without
        a fine-tune.
    """

    model: ImplicitModel
    blocks: list = field(default_factory=list)
    train_time_s: float = 0.0
    resumed_from: int = 0
    finetune: dict | None = None


def train_greedy(
    U,
    Y,
    *,
    block_sizes,
    block_solver="alternating",
    block_solver_options=None,
    loss="squared",
    activation="relu",
    input_bias=True,
    seed=0,
    checkpoint_dir=None,
    resume=False,
    verbose=1,
    callback: Callable[[BlockRecord], None] | None = None,
    stream=None,
    finetune=None,
) -> GreedyResult:
    """Algorithm 1: train the blocks one after another.

    Parameters
    ----------
    U : ndarray, shape (p, m)
        Training inputs, columns are samples (no bias row: see ``input_bias``).
    Y : ndarray, shape (q, m)
        Targets (one-hot columns for classification).
    block_sizes : list of int
        ``[n_1, …, n_L]``, e.g. from :func:`cvximplicit.partition`.
    block_solver : str or object
        A registered name (``"alternating"``, ``"local_search"``) or an object
        with ``solve(BlockProblem) -> BlockResult``.
    block_solver_options : dict, optional
        Keyword arguments for the registered block solver's constructor.
    loss : {"squared", "cross_entropy"}
    activation : str
    input_bias : bool
        Append a constant row to ``U`` (the last column of ``B`` is a bias).
    seed : int
        Block ``i`` gets seed ``seed + i`` (so a resumed run sees the same seeds).
    checkpoint_dir : path, optional
        After each block, the run so far is written atomically to
        ``checkpoint_dir/checkpoint.npz`` (the records as :meth:`BlockRecord.to_dict`).
    resume : bool
        Continue after the last completed block of the checkpoint in
        ``checkpoint_dir`` (which must come from the same data and options).
    verbose : int
        0: quiet; 1: one line per block (block i/L, loss, gap, time).
    callback : callable, optional
        Called with each block's :class:`BlockRecord` after its checkpoint is written.
    stream : file, optional
        Where progress lines go (default ``sys.stderr``).
    finetune : dict, optional
        After the last block, fine-tune all blocks jointly
        (:func:`~cvximplicit.training.finetune_stage.finetune_stage`: a local step; the dict holds its
        options, e.g. ``{"epochs": 20, "weight_decay": 0.3}``), then, unless ``"refit_output": False``,
        re-fit ``C`` by the certified output step (least squares (11), or the block solver's multinomial
        logistic step with its ``ridge``). With ``"weight_decay": [0.1, 1.0]`` (candidates) a seeded part
        of the samples is held out of the greedy pass to choose among them (see the stage); the blocks
        and their records then refer to the kept samples, and the fine-tune uses every sample. None
        (default): the model of Algorithm 1 as it is.

    Returns
    -------
    GreedyResult
    """
    U, Y = _check_data(U, Y)
    sizes = check_block_sizes(block_sizes)
    if len(sizes) < 1:
        raise ValidationError("block_sizes must contain at least one block")
    if loss not in LOSSES:
        raise ValidationError(f"loss must be one of {LOSSES}; got {loss!r}")
    check_activation(activation)
    if resume and checkpoint_dir is None:
        raise ValidationError("resume=True needs checkpoint_dir (where the checkpoint was written)")
    solver = _make_solver(block_solver, block_solver_options)
    finetune = None if finetune is None else check_finetune_options(finetune)
    split = holdout_split(U.shape[1], finetune, seed)  # weight-decay candidates: the greedy pass leaves samples out
    U_all, Y_all = U, Y
    if split is not None:
        U, Y = U[:, split.kept], Y[:, split.kept]
    n, p_eff, q, m = sum(sizes), U.shape[0] + bool(input_bias), Y.shape[0], U.shape[1]
    check_memory(  # the dense A, B and the training features X, before any is allocated
        f"training n={n} states on m={m} samples",
        {"A (n × n)": (n, n), "B (n × p)": (n, p_eff), "X (n × m)": (n, m)},
        hint="use fewer states n (block_sizes) or fewer samples m",
    )
    U_eff = np.vstack([U, np.ones((1, U.shape[1]))]) if input_bias else U
    config = {"block_sizes": sizes, "block_solver": getattr(solver, "name", type(solver).__name__),
              "block_solver_options": block_solver_options or {}, "loss": loss, "activation": activation,
              "input_bias": bool(input_bias), "seed": int(seed), "finetune": finetune}
    key = fingerprint(U_all, Y_all, config) if checkpoint_dir is not None else None  # hashing MNIST takes ~3 s

    A, B, C, X = np.zeros((n, n)), np.zeros((n, p_eff)), np.zeros((q, 0)), np.zeros((0, m))
    records, start_block = [], 0
    if resume:
        ckpt = Checkpoint.load(checkpoint_dir, key)
        if ckpt is not None:
            A, B, C, X, start_block = ckpt.A, ckpt.B, ckpt.C, ckpt.X, ckpt.completed
            records = _read_records(ckpt.records, checkpoint_dir)
    out = sys.stderr if stream is None else stream
    if verbose and start_block:
        print(f"resuming after block {start_block}/{len(sizes)} from {checkpoint_dir}", file=out, flush=True)

    slices = block_slices(sizes)
    for i in range(start_block, len(sizes)):
        rows = slices[i]
        problem = BlockProblem(U=U_eff, X_prev=X, Y=Y, n_i=sizes[i], block_index=i + 1, loss=loss,
                               activation=activation, seed=int(seed) + i + 1, C_prev=C if i else None,
                               previous_info=dict(records[-1].info) if records else None)
        t0 = time.perf_counter()
        result = solver.solve(problem)
        elapsed = time.perf_counter() - t0
        _check_result(result, problem)
        A, B = A.copy(), B.copy()
        A[rows, : rows.start] = result.A_row
        B[rows] = result.B_row
        C, X = result.C, np.vstack([X, result.X_new])
        record = _record(i + 1, sizes[i], result, elapsed)
        records = records + [record]
        if checkpoint_dir is not None:
            Checkpoint(i + 1, A, B, C, X, [r.to_dict() for r in records], key).save(checkpoint_dir)
        if verbose:
            print(_progress_line(record, len(sizes), sum(r.time_s for r in records)), file=out, flush=True)
        if callback is not None:
            callback(record)

    model = ImplicitModel(A, B, C, activation=activation, block_sizes=sizes, input_bias=bool(input_bias))
    train_time, tuned = float(sum(r.time_s for r in records)), None
    if finetune is not None:
        model, tuned = finetune_stage(model, U_all, Y_all, loss=loss, options=finetune, seed=seed, split=split,
                                      ridge=getattr(solver, "ridge", 1.0), solver=getattr(solver, "solver", "auto"),
                                      solver_opts=getattr(solver, "solver_opts", None))
        train_time += tuned["time_s"]
        if verbose:
            print(describe_finetune(tuned), file=out, flush=True)
    return GreedyResult(model, records, train_time, start_block, tuned)


def _check_data(U, Y):
    U = as_real_array(U, "U")
    Y = as_real_array(Y, "Y")
    if U.ndim != 2 or Y.ndim != 2:
        raise ValidationError(
            f"U and Y must be 2-D with samples as columns, U (p, m) and Y (q, m); got U{U.shape}, Y{Y.shape}"
        )
    if U.shape[1] != Y.shape[1]:
        raise ValidationError(
            f"U and Y must have the same number of samples (columns); got U{U.shape}, Y{Y.shape}"
        )
    if U.shape[1] == 0:
        raise ValidationError(f"U and Y need at least one sample (column); got U{U.shape}, Y{Y.shape}")
    return U, Y


def _make_solver(block_solver, options):
    if isinstance(block_solver, str):
        return get_block_solver(block_solver, **(options or {}))
    if options:
        raise ValidationError("block_solver_options applies to a registered solver name, not a solver object")
    if not hasattr(block_solver, "solve"):
        raise ValidationError(
            f"block_solver must be a registered name or an object with solve(problem); got {block_solver!r}"
        )
    return block_solver


def _check_result(result, problem):
    n_i, n_prev, p, q, m = problem.n_i, problem.n_prev, problem.U.shape[0], problem.Y.shape[0], problem.m
    expected = {"A_row": (n_i, n_prev), "B_row": (n_i, p), "C": (q, n_prev + n_i), "X_new": (n_i, m)}
    for name, shape in expected.items():
        value = np.asarray(getattr(result, name))
        if value.shape != shape or not np.all(np.isfinite(value)):
            raise ValidationError(
                f"block solver returned {name} with shape {value.shape} (finite: "
                f"{bool(np.all(np.isfinite(value)))}); expected a finite array of shape {shape}"
            )


def _record(block, n_i, result, elapsed) -> BlockRecord:
    try:
        reports = [r if isinstance(r, SolveReport) else SolveReport.from_dict(r) for r in result.reports]
    except ValueError as exc:
        raise ValidationError(f"block solver returned a report that is neither a SolveReport nor its dict: {exc}")
    return BlockRecord(block, n_i, float(result.objective), elapsed, reports, list(result.history),
                       dict(result.info))


def _read_records(records: list, checkpoint_dir) -> list[BlockRecord]:
    try:
        return [BlockRecord.from_dict(r) for r in records]
    except (ValueError, TypeError) as exc:
        raise DataError(f"the checkpoint in {checkpoint_dir} has a damaged block record ({exc}); "
                        "delete it to start over") from None


def block_summary(record: BlockRecord) -> dict:
    """What a block record certifies: kinds, worst gap, the solvers that ran (and why) and the reductions.

    ``certificate`` joins the distinct kinds of the block's non-least-squares solves
    (``"none"`` when there are none); ``solvers`` lists every solver that ran, least
    squares included; ``solver_reasons`` the distinct reasons (``"requested"`` or the
    ``"auto"`` rule); ``reductions`` how the convex step's program was reduced. A record
    in its dict form (:meth:`BlockRecord.to_dict`) is read back first.
    """
    if isinstance(record, Mapping):
        record = BlockRecord.from_dict(record)
    reports = record.reports
    relu = [r for r in reports if r.problem != "least_squares"]
    gaps = [r.gap_rel for r in relu if r.gap_rel is not None]
    kinds = sorted({r.certificate for r in relu}) or ["none"]
    return {"certificate": "/".join(kinds), "max_gap_rel": max(gaps) if gaps else None,
            "n_solves": len(reports),
            "solvers": sorted({r.solver for r in reports}),
            "solver_reasons": sorted({r.solver_reason for r in reports if r.solver_reason}),
            "reductions": list(dict.fromkeys(item for r in relu for item in r.reductions))}


def _progress_line(record: BlockRecord, L: int, elapsed_total: float) -> str:
    """One progress line; the ETA is ``elapsed / blocks done × blocks left`` (blocks differ in cost: a guide)."""
    s = block_summary(record)
    gap = "n/a" if s["max_gap_rel"] is None else f"{s['max_gap_rel']:.1e}"
    done = int(record.block)
    eta = "done" if done >= L else f"ETA {_duration(elapsed_total / max(done, 1) * (L - done))}"
    return (f"block {record.block:>2}/{L}  n_i={record.n_i}  loss={record.objective:.5g}  "
            f"gap={gap} ({s['certificate']})  {record.time_s:.2f}s  elapsed {_duration(elapsed_total)}  {eta}")


def _duration(seconds: float) -> str:
    """``12.3s`` below a minute, ``4m05s`` below an hour, else ``1h02m``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def block_row(record: BlockRecord) -> dict:
    """A block record as a JSON-ready row: ``block``, ``n_i``, ``train_loss``, ``time_s`` and :func:`block_summary`."""
    if isinstance(record, Mapping):
        record = BlockRecord.from_dict(record)
    return {"block": record.block, "n_i": record.n_i, "train_loss": record.objective,
            "time_s": record.time_s, **block_summary(record)}


def format_block_rows(rows: list) -> str:
    """A plain-text table of :func:`block_row` rows (also those saved in a model's ``info``; missing fields: n/a).

    The convex step's reductions that every block shares are printed once, under the table; a row lists
    only its own others.
    """
    shared = [x for x in (rows[0].get("reductions") or [])
              if all(x in (r.get("reductions") or []) for r in rows)] if rows else []
    lines = [f"{'block':>5} {'n_i':>4} {'train loss':>12} {'certificate':>20} {'max gap_rel':>11} "
             f"{'solves':>6} {'time s':>8}  solvers; reductions" + (" (besides those below)" if shared else "")]
    for r in rows:
        gap = "n/a" if r.get("max_gap_rel") is None else f"{r['max_gap_rel']:.1e}"
        time_s = "n/a" if r.get("time_s") is None else f"{r['time_s']:.2f}"
        own = [x for x in (r.get("reductions") or []) if x not in shared]
        lines.append(f"{r['block']:>5} {r['n_i']:>4} {r['train_loss']:>12.6g} {r['certificate']:>20} {gap:>11} "
                     f"{r.get('n_solves', 'n/a'):>6} {time_s:>8}  {','.join(r.get('solvers') or [])}; "
                     f"{', '.join(own) or 'none'}")
    if shared:
        lines.append(f"reductions of every block's convex step: {', '.join(shared)}")
    return "\n".join(lines)


def format_block_table(records: list) -> str:
    """A plain-text table of per-block results (loss, certificate, gap, solves, time, solvers, reductions)."""
    return format_block_rows([block_row(r) for r in records])
