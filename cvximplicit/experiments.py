"""Run one training method on one task and measure it (used by the CLI and paper_repro).

A *method* is one of ``"greedy"`` (Algorithm 1 with a block solver:
``"alternating"`` — convex, Algorithm 2 — or ``"local_search"``),
``"end_to_end"`` (implicit training with implicit differentiation) or
``"ffn"``.  :func:`run_experiment` returns the trained model and a
JSON-ready row with the same keys for every method.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from ._environment import environment
from .datasets import Dataset, load_fashion_mnist, load_mnist, make_nonsmooth, make_smooth
from .exceptions import ValidationError
from .partition import partition
from .presets import PRESETS, resolve_finetune, resolve_preset
from .training.block import LOSSES
from .training.greedy import block_row, train_greedy

__all__ = ["TASKS", "METHODS", "load_task", "run_experiment", "ExperimentResult"]

TASKS = ("smooth", "nonsmooth", "mnist", "fashion-mnist")
METHODS = ("greedy", "end_to_end", "ffn")

#: The presets' options (:data:`cvximplicit.presets.PRESETS`), under their former names.
NARROW_INPUT_OPTIONS = PRESETS["narrow"]
WIDE_INPUT_OPTIONS = PRESETS["wide"]


def load_task(task: str, *, seed: int = 0, data_dir=None, n_train: int | None = None) -> Dataset:
    """The dataset of a paper task; ``seed`` resamples the synthetic training sets.

    ``n_train`` keeps the first ``n_train`` training samples (quick runs on
    MNIST-size data); synthetic tasks generate that many samples instead.
    """
    if task == "smooth":
        return make_smooth(seed=seed, **({"n_train": n_train} if n_train else {}))
    if task == "nonsmooth":
        return make_nonsmooth(seed=seed, **({"n_train": n_train} if n_train else {}))
    if task in ("mnist", "fashion-mnist"):
        data = load_mnist(data_dir) if task == "mnist" else load_fashion_mnist(data_dir)
        if not n_train:
            return data
        return dataclasses.replace(data, inputs_train=data.inputs_train[:n_train],
                                   targets_train=data.targets_train[:n_train],
                                   info={**data.info, "n_train_used": int(n_train)})
    raise ValidationError(f"task must be one of {TASKS}; got {task!r}")


@dataclass
class ExperimentResult:
    """The trained model, a JSON-ready summary row, and per-block records (greedy only)."""

    model: object
    row: dict
    blocks: list


def run_experiment(
    data: Dataset,
    *,
    method: str = "greedy",
    block_solver: str = "alternating",
    n: int = 30,
    L: int = 10,
    seed: int = 0,
    solver: str = "auto",
    solver_opts=None,
    T: int = 1,
    n_patterns="auto",
    max_rows="auto",
    block_solver_options=None,
    preset: str = "auto",
    loss: str = "auto",
    epochs: int | None = None,
    checkpoint_dir=None,
    resume: bool = False,
    verbose: int = 1,
    finetune="auto",
) -> ExperimentResult:
    """Train ``method`` on ``data`` and measure test RMSE (regression) or accuracy.

    The ``"alternating"`` block solver's convex-step options come from ``preset``
    (:func:`cvximplicit.presets.resolve_preset`: ``"auto"``, ``"narrow"`` or ``"wide"``);
    ``n_patterns`` and ``max_rows`` (``None``: every sample) override the preset's
    unless ``"auto"``; ``block_solver_options`` override everything.

    ``finetune``: the joint fine-tune after the greedy pass (a local step,
    :func:`~cvximplicit.training.finetune.finetune_model`): ``"auto"`` takes the preset's
    (:data:`~cvximplicit.presets.FINETUNE_PRESETS`) for the ``"alternating"`` block solver and none for
    ``"local_search"`` (the paper's row); a dict overrides the preset's options key by key; ``None`` or
    ``{"epochs": 0}`` turns it off.

    ``loss``: ``"squared"`` (8) or ``"cross_entropy"`` (9, classification only); ``"auto"``
    takes the cross-entropy for classification (every method: the alternating solver's
    output step is then multinomial logistic regression) and the squared loss for regression.

    Returns
    -------
    ExperimentResult
        ``row`` has ``task``, ``method``, ``block_solver``, ``n``, ``L``,
        ``train_time_s``, ``train_loss`` (the loss trained), ``test_rmse`` and ``train_rmse``
        (regression) or ``test_accuracy``, ``train_accuracy`` and ``train_cross_entropy``
        (classification, whatever the loss), ``n_params``, ``blocks`` (greedy: per-block loss, certificate kind, worst
        gap, time) and ``environment``.
    """
    if method not in METHODS:
        raise ValidationError(f"method must be one of {METHODS}; got {method!r}")
    classification = data.task == "classification"
    U = np.asarray(data.inputs_train, dtype=float).T
    Y = _targets(data, data.targets_train)
    loss = _resolve_loss(loss, classification)
    blocks: list = []
    chosen, tuned = None, None
    start = time.perf_counter()
    if method == "greedy":
        options = dict(block_solver_options or {})
        if block_solver == "alternating":
            chosen = resolve_preset(preset, n_features=U.shape[0], n_outputs=Y.shape[0], n_state=n,
                                    n_samples=U.shape[1])
            given = {k: v for k, v in (("n_patterns", n_patterns), ("max_rows", max_rows)) if v != "auto"}
            options = {**chosen.options, **given, "T": T, "solver": solver, "solver_opts": solver_opts,
                       **(block_solver_options or {})}
        elif epochs is not None:
            options.setdefault("epochs", epochs)
        tune = resolve_finetune(finetune, None if chosen is None else chosen.finetune)
        result = train_greedy(U, Y, block_sizes=partition(n, L), block_solver=block_solver,
                              block_solver_options=options, loss=loss, seed=seed, checkpoint_dir=checkpoint_dir,
                              resume=resume, verbose=verbose, finetune=tune)
        model, train_time, blocks, tuned = result.model, result.train_time_s, result.blocks, result.finetune
    else:
        from . import baselines

        kwargs = {"loss": loss, "seed": seed, "verbose": bool(verbose)}
        if epochs is not None:
            kwargs["epochs"] = epochs
        if method == "end_to_end":
            fitted = baselines.fit_end_to_end(U, Y, n=n, **kwargs)
        else:
            hidden = (64, 32, 16) if classification else (25, 25, 25, 25)
            fitted = baselines.fit_ffn(U, Y, hidden=hidden, **kwargs)
        model, train_time = fitted.model, fitted.train_time_s
    wall = time.perf_counter() - start

    row = {
        "task": data.name, "method": method, "block_solver": block_solver if method == "greedy" else None,
        "n": n, "L": L if method == "greedy" else None, "seed": seed, "train_time_s": float(train_time),
        "wall_time_s": wall, "n_params": int(model.n_params), "n_train": data.n_train, "n_test": data.n_test,
    }
    row.update(_scores(model, data, U, Y, loss))
    row["blocks"] = [block_row(b) for b in blocks]
    row["finetune"] = tuned
    row["preset"] = None if chosen is None else {"name": chosen.name, "reason": chosen.reason}
    row["environment"] = environment()
    return ExperimentResult(model, row, blocks)


def _resolve_loss(loss: str, classification: bool) -> str:
    if loss not in ("auto",) + LOSSES:
        raise ValidationError(f"loss must be one of {['auto', *LOSSES]}; got loss={loss!r}")
    if loss == "auto":
        return "cross_entropy" if classification else "squared"
    if loss == "cross_entropy" and not classification:
        raise ValidationError("loss='cross_entropy' needs a classification task (integer labels); use loss='squared'")
    return loss


def _targets(data: Dataset, targets) -> np.ndarray:
    if data.task == "classification":
        return np.eye(data.n_classes)[np.asarray(targets, dtype=int)].T
    t = np.asarray(targets, dtype=float)
    return t.reshape(1, -1) if t.ndim == 1 else t.T


def _scores(model, data: Dataset, U, Y, loss) -> dict:
    from .training.block import block_loss

    train = model.predict(U, layout="columns")
    out = {"train_loss": block_loss(Y, train, loss), "loss": loss}
    pred = model.predict(np.asarray(data.inputs_test, dtype=float), layout="rows").T
    if data.task == "classification":
        # The same two measures for every row, whatever loss it trained: softmax cross-entropy (9) of the
        # outputs on the training set (how well the model fits), and accuracy on both sets.
        out["train_cross_entropy"] = (out["train_loss"] if loss == "cross_entropy"
                                      else block_loss(Y, train, "cross_entropy"))
        out["train_accuracy"] = float(np.mean(np.argmax(train, axis=0) == np.argmax(Y, axis=0)))
        out["test_accuracy"] = float(np.mean(np.argmax(pred, axis=0) == np.asarray(data.targets_test)))
    else:  # the same measure on both sets: root mean squared error over samples and outputs
        y = np.asarray(data.targets_test, dtype=float).reshape(pred.shape)
        out["train_rmse"] = float(np.sqrt(np.mean((train - Y) ** 2)))
        out["test_rmse"] = float(np.sqrt(np.mean((pred - y) ** 2)))
    return out
