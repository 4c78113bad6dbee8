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
- ``"wide"`` — MNIST-size inputs (``d ≈ 800``, ``q = 10``): 300 rows, the top 30 principal
  input directions plus the bias, the top 2 residual directions, 20 sampled patterns plus
  the guided ones, one convex solve at ``β = 0.05 β_max`` (the pool rule's default, 0.1 then
  0.1/4, took two solves on the MNIST blocks measured), the block's neurons selected on every
  sample, then 40 L-BFGS iterations of the polish step on every sample.
  On full MNIST (n=32, L=16; ablation in ``docs/mnist-ablation.md``): 87.1 % test accuracy with the squared loss and no
  polish, 90.4 % with the cross-entropy, 94.9 % with the cross-entropy and the polish, 95.6 % since the polish
  starts from the convex neurons' directions at the random twin's scale (its twin: 95.63 %). β went from
  0.025 to 0.05 β_max on 2026-12-02: MNIST 96.21 % (one BLAS thread; twin 95.63 %) and 95.81 % in 144 s (two
  threads, the acceptance run; twin 95.55 %, FFN 96.93 % in 69 s) against 95.60 % in 171 s at 0.025; and
  ``ImplicitClassifier()`` on a 1 000 × 64, 10-class task 3.9 s at 80.0 % against 13.9 s at 74.7 %. Fitting all
  ten residual directions (``max_outputs=None``) gave 95.66–96.11 % for β 0.1–0.025 on MNIST and
  made the classifier slower (23.8 s against 13.9 s at β 0.025), and was not kept.

``"auto"`` (:func:`resolve_preset`) takes ``"wide"`` for more than
:data:`WIDE_MIN_FEATURES` input features, or when the narrow preset's convex program for
the last block would be too large for the conic solver (more than
:data:`~cvximplicit.solvers.relu.convex_relu.CONIC_AUTO_MAX_NNZ` non-zeros, where ``"auto"``
would hand it to a first-order engine at its iteration cap — e.g. 64 features and 10
classes); otherwise ``"narrow"``. The result says which rule applied.
"""

from __future__ import annotations

from typing import NamedTuple

from .exceptions import ValidationError
from .solvers.relu.conic import plain_nnz
from .solvers.relu.convex_relu import CONIC_AUTO_MAX_NNZ

__all__ = ["PRESETS", "PRESET_NAMES", "WIDE_MIN_FEATURES", "Preset", "resolve_preset"]

#: Options of :class:`~cvximplicit.training.AlternatingBlockSolver` per preset.
PRESETS: dict[str, dict] = {
    "narrow": {"max_rows": 100, "n_patterns": 30, "select_on": "all"},
    "wide": {"max_rows": 300, "max_features": 30, "max_outputs": 2, "n_patterns": 20, "guided": True,
             "select_on": "all", "beta_ratio": 0.05, "polish": 40, "input_basis": 128},
}
#: Accepted ``preset`` values.
PRESET_NAMES = ("auto",) + tuple(PRESETS)
#: More input features than this: ``"auto"`` takes the wide preset.
WIDE_MIN_FEATURES = 100


class Preset(NamedTuple):
    """A resolved preset: its ``name``, a copy of its ``options`` and the ``reason`` it was chosen."""

    name: str
    options: dict
    reason: str


def resolve_preset(preset: str, *, n_features: int, n_outputs: int, n_state: int) -> Preset:
    """The preset for data with ``n_features`` inputs, ``n_outputs`` targets and a state of size ``n_state``.

    Raises
    ------
    ValidationError
        If ``preset`` is not one of :data:`PRESET_NAMES`.
    """
    if preset not in PRESET_NAMES:
        raise ValidationError(f"preset must be one of {list(PRESET_NAMES)}; got preset={preset!r}")
    if preset != "auto":
        return Preset(preset, dict(PRESETS[preset]), "requested")
    if n_features > WIDE_MIN_FEATURES:
        return Preset("wide", dict(PRESETS["wide"]), f"auto: {n_features} > {WIDE_MIN_FEATURES} input features")
    narrow = PRESETS["narrow"]
    # the last block's input: every earlier state, the features and a bias
    nnz = plain_nnz(narrow["max_rows"], n_features + n_state + 1, narrow["n_patterns"], n_outputs)
    if nnz > CONIC_AUTO_MAX_NNZ:
        return Preset("wide", dict(PRESETS["wide"]),
                      f"auto: the narrow preset's last convex step would have {nnz:.3g} > {CONIC_AUTO_MAX_NNZ:.3g} "
                      "conic non-zeros")
    return Preset("narrow", dict(narrow), f"auto: {n_features} input features, {n_outputs} outputs")
