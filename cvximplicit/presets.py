"""Convex-step presets of the alternating block solver, defined once for estimators, CLI, experiments and paper_repro.

Two presets, measured on the paper's tasks (each option is documented by
:class:`~cvximplicit.training.AlternatingBlockSolver`):

- ``"narrow"`` — the 1-D regression tasks: the convex step on 100 seeded rows with 30
  sampled patterns (exact arrangements of those rows for the first block of a scalar input), the
  block's neurons selected on every sample (the least-squares objective (11) itself). Measured on
  Tables I–II (10 training sets each, 2026-12-02, the convex steps on the working-set engine): mean
  test RMSE 0.204 / 0.420 with the selection on every sample, 0.220 / 0.436 with it on the 100 rows
  of the convex step; then 0.206 / 0.385 once the first block, too, was posed on 100 rows (it had
  used all 500) and forward selection stopped picking near-duplicate neurons.
- ``"wide"`` — MNIST-size inputs (``d ≈ 800``, ``q = 10``): every step of a block on the inputs'
  top 128 principal directions plus the bias (``input_basis``); the convex step on 300 rows, the top 30
  principal directions of the block input plus the bias, the top 2 residual directions, 20 sampled
  patterns plus the guided ones, one convex solve at ``β = 0.05 β_max`` (the pool rule's default, 0.1 then
  0.1/4, took two solves on the MNIST blocks measured), the block's neurons selected on every
  sample, then 20 L-BFGS iterations of the polish step on every sample.
  Measured on full MNIST and Fashion-MNIST (n=32, L=16, seeds 0/1/2, each run beside its random-neuron
  twin; ``docs/mnist-ablation.md``, 2026-12-02): with 20 polish iterations MNIST 95.79 / 95.92 / 96.22 %
  against the twin's 94.85 / 94.89 / 94.51 % (lift +0.94 / +1.03 / +1.71 points), Fashion-MNIST (seeds 0/1)
  85.69 / 86.09 % against 84.79 / 85.07 %; with 40 iterations MNIST 95.86 / 96.38 / 96.30 % against
  95.79 / 95.79 / 94.74 % (lift +0.07 / +0.59 / +1.56), Fashion-MNIST 86.38 / 86.06 % against 85.80 / 86.14 %;
  with 30, MNIST 95.65 / 95.52 / 95.82 % (lift −0.16 / +0.12 / +0.43). Twenty iterations keep the
  accuracy within the ±0.3-point noise of single runs, make the convex step's lift over random neurons
  hold on every seed and both tasks, and halve the polish's time. The input basis made the blocks 2.5×
  faster (95.56 % without it, 96.37 % with it, 40 iterations, one sweep). Fitting all ten or four residual
  directions, 1 000 or 2 000 rows, 60 principal directions, 60 sampled patterns or β = 0.025 β_max did not
  do better (single runs).

``"auto"`` (:func:`resolve_preset`) takes ``"wide"`` for more than
:data:`WIDE_MIN_FEATURES` input features, or when the narrow preset's convex program for
the last block would be too large for the conic solver (more than
:data:`~cvximplicit.solvers.relu.convex_relu.CONIC_AUTO_MAX_NNZ` non-zeros, where ``"auto"``
would hand it to a first-order engine at its iteration cap — e.g. 64 features and 10
classes); otherwise ``"narrow"``. The result says which rule applied.

The fine-tune after the greedy pass (:data:`FINETUNE_PRESETS`, by the number of training samples):

- ``"large"`` (more than :data:`SMALL_DATA` samples) — 60 epochs of AdamW, batches of 256, lr 4e-3, weight
  decay 0.1, no output refit. Measured on full MNIST (n=32, L=16, 2026-12-04): 97.60 / 97.68 % (seeds 0/1)
  from the greedy 95.79 %, ~18 s on one thread; with the output step re-fitted after it 97.45-97.50 %
  (the refit undoes part of the decay's shrinkage); 20 epochs at weight decay 0.3, 97.45 / 97.49 %. The
  random-neuron twin fine-tuned the same way reaches 97.50 %: after a joint fine-tune the convex start is
  worth ~0.1 point (``docs/mnist-ablation.md``).
- ``"small"`` — 100 epochs, batches of 64, lr 3e-3, weight decay chosen among 0.1 / 0.3 / 1.0 and no
  fine-tune on 20 % of the samples held out of the greedy pass. On five scikit-learn tables (splits 0-4,
  25 % test; ``benchmarks/bench_tabular.py``) against the greedy model alone: RMSE on diabetes
  0.70-0.72 (was 0.74-0.83), on Friedman #1 0.24-0.27 (was 0.37-0.40); accuracy on breast cancer
  96.5-98.6 % (95.1-98.6 %), digits 96.7-98.0 % (94.2-96.4 %); wine 95.6-100 % (95.6-100 %). A fixed
  weight decay was worse somewhere for every value tried: the 1-D ``5 cos(πu)`` regression needs large
  weights (decay ≤ 0.1), diabetes strong shrinkage (≥ 1).
"""

from __future__ import annotations

from typing import NamedTuple

from .exceptions import ValidationError
from .solvers.relu.conic import plain_nnz
from .solvers.relu.convex_relu import CONIC_AUTO_MAX_NNZ

__all__ = ["FINETUNE_PRESETS", "PRESETS", "PRESET_NAMES", "SMALL_DATA", "WIDE_MIN_FEATURES", "Preset",
           "resolve_finetune", "resolve_preset"]

#: Options of :class:`~cvximplicit.training.AlternatingBlockSolver` per preset.
PRESETS: dict[str, dict] = {
    "narrow": {"max_rows": 100, "n_patterns": 30, "select_on": "all"},
    "wide": {"max_rows": 300, "max_features": 30, "max_outputs": 2, "n_patterns": 20, "guided": True,
             "select_on": "all", "beta_ratio": 0.05, "polish": 20, "input_basis": 128},
}
#: Options of the stage after the greedy pass (:func:`~cvximplicit.training.finetune_stage.finetune_stage`: the
#: joint fine-tune, a local step, then optionally the certified output step again), by the size of the data: ``"small"``
#: chooses the weight decay among candidates on held-out samples (the greedy model itself among them),
#: ``"large"`` uses a fixed one (held-out choices would cost a fine-tune per candidate).
FINETUNE_PRESETS: dict[str, dict] = {
    "small": {"epochs": 100, "batch_size": 64, "lr": 3e-3, "weight_decay": [0.1, 0.3, 1.0], "refit_output": False},
    "large": {"epochs": 60, "batch_size": 256, "lr": 4e-3, "weight_decay": 0.1, "refit_output": False},
}
#: At most this many training samples: the ``"small"`` fine-tune.
SMALL_DATA = 5_000
#: Accepted ``preset`` values.
PRESET_NAMES = ("auto",) + tuple(PRESETS)
#: More input features than this: ``"auto"`` takes the wide preset.
WIDE_MIN_FEATURES = 100


class Preset(NamedTuple):
    """A resolved preset: its ``name``, a copy of its block-solver ``options``, the ``reason`` it was chosen and a
    copy of the ``finetune`` options for the data's size (:data:`FINETUNE_PRESETS`)."""

    name: str
    options: dict
    reason: str
    finetune: dict


def resolve_preset(preset: str, *, n_features: int, n_outputs: int, n_state: int, n_samples: int) -> Preset:
    """The preset for ``n_samples`` samples with ``n_features`` inputs, ``n_outputs`` targets and a state of size
    ``n_state``; its fine-tune is :data:`FINETUNE_PRESETS` ``["small"]`` up to :data:`SMALL_DATA` samples.

    Raises
    ------
    ValidationError
        If ``preset`` is not one of :data:`PRESET_NAMES`.
    """
    if preset not in PRESET_NAMES:
        raise ValidationError(f"preset must be one of {list(PRESET_NAMES)}; got preset={preset!r}")
    size = "small" if n_samples <= SMALL_DATA else "large"
    if preset != "auto":
        return _preset(preset, "requested", size)
    if n_features > WIDE_MIN_FEATURES:
        return _preset("wide", f"auto: {n_features} > {WIDE_MIN_FEATURES} input features", size)
    narrow = PRESETS["narrow"]
    # the last block's input: every earlier state, the features and a bias
    nnz = plain_nnz(narrow["max_rows"], n_features + n_state + 1, narrow["n_patterns"], n_outputs)
    if nnz > CONIC_AUTO_MAX_NNZ:
        return _preset("wide", f"auto: the narrow preset's last convex step would have {nnz:.3g} > "
                               f"{CONIC_AUTO_MAX_NNZ:.3g} conic non-zeros", size)
    return _preset("narrow", f"auto: {n_features} input features, {n_outputs} outputs", size)


def _preset(name: str, reason: str, size: str) -> Preset:
    return Preset(name, dict(PRESETS[name]), reason, dict(FINETUNE_PRESETS[size]))


def resolve_finetune(finetune, preset_finetune: dict | None) -> dict | None:
    """The fine-tune options a run uses: ``"auto"`` → the preset's (None without a preset); a dict → the
    preset's options updated by it; ``None``, or ``0`` epochs → None (no fine-tune).

    Raises
    ------
    ValidationError
        If ``finetune`` is neither ``"auto"``, None nor a dict.
    """
    if isinstance(finetune, str) and finetune == "auto":
        options = preset_finetune
    elif finetune is None:
        options = None
    elif isinstance(finetune, dict):
        options = {**(preset_finetune or {}), **finetune}
    else:
        raise ValidationError(f"finetune must be 'auto', None or a dict of fine-tune options; got {finetune!r}")
    return None if not options or options.get("epochs") == 0 else dict(options)
