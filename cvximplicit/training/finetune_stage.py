"""The stage after Algorithm 1: weight decay chosen on held-out samples, the joint fine-tune, the output step.

:func:`~cvximplicit.training.greedy.train_greedy` calls :func:`finetune_stage` on the model of the greedy
pass when given ``finetune=`` options (the presets carry them: :data:`~cvximplicit.presets.FINETUNE_PRESETS`):

1. **Weight decay** (only when ``weight_decay`` is a list of candidates): a seeded ``validation_fraction``
   of the samples (:func:`holdout_split`) is left out of the greedy pass; from the greedy model, each
   candidate ``λ`` is fine-tuned on the kept samples (then its output step) and scored by its loss on
   the held-out ones, beside the greedy model itself (no fine-tune), which is always a candidate. The
   weight decay a task needs varies widely — a 1-D regression of ``5 cos(πu)`` needs large weights, a
   noisy ten-feature one strong shrinkage, and AdamW's decay caps the weights near ``1/λ`` whatever the
   data's units — which is why it is chosen, not fixed, where the data are small enough to afford it.
2. **The fine-tune** (:func:`~cvximplicit.training.finetune.finetune_model`) on **every** sample with the
   chosen ``λ``, from the greedy model — a local step, never certified. If the greedy model won, there is
   no fine-tune, and its output step is re-fitted on every sample.
3. **The output step** (``refit_output``): ``C`` re-fitted on the fine-tuned states by the certified
   output step (:func:`~cvximplicit.training.output_step.output_step`).

The record says what each part did; the blocks' certificates are those of the greedy pass (on the kept
samples when some were held out). Orientation: ``U`` ``(p, m)``, ``Y`` ``(q, m)``, columns are samples.
"""

from __future__ import annotations

import numbers
import time
from typing import NamedTuple

import numpy as np

from .._params import BOOL, Int, Real, check_params
from ..exceptions import ValidationError
from ..model import ImplicitModel
from .block import block_loss
from .finetune import finetune_model
from .output_step import output_step

__all__ = ["FINETUNE_OPTIONS", "HoldoutSplit", "check_finetune_options", "describe_finetune", "finetune_stage",
           "holdout_split"]

#: The stage's options (an unknown key is an error naming these) and what each must be; ``weight_decay`` may
#: also be a list of candidates (each ``>= 0``) to choose from on held-out samples.
FINETUNE_OPTIONS = {"epochs": [Int(0)], "batch_size": [Int(1)], "lr": [Real(0.0, closed="neither")],
                    "weight_decay": [Real(0.0)], "validation_fraction": [Real(0.0, 0.5, "neither")],
                    "refit_output": [BOOL]}
#: Held-out fraction when ``weight_decay`` lists candidates and ``validation_fraction`` is not given.
VALIDATION_FRACTION = 0.2


class HoldoutSplit(NamedTuple):
    """The samples the greedy pass keeps (``kept``) and those held out to choose the weight decay (``held``)."""

    kept: np.ndarray
    held: np.ndarray
    fraction: float


def holdout_split(m: int, options: dict | None, seed: int) -> HoldoutSplit | None:
    """The seeded split of ``m`` samples for checked stage ``options`` with weight-decay candidates; else None.

    Raises
    ------
    ValidationError
        If the fraction leaves no sample on one side.
    """
    if options is None or not isinstance(options.get("weight_decay"), list):
        return None
    fraction = options.get("validation_fraction", VALIDATION_FRACTION)
    n_held = int(round(fraction * m))
    if n_held < 1 or n_held >= m:
        raise ValidationError(f"finetune: validation_fraction={fraction} holds out {n_held} of {m} samples; it "
                              "must leave at least one sample on each side")
    order = np.random.default_rng(seed).permutation(m)
    return HoldoutSplit(np.sort(order[n_held:]), np.sort(order[:n_held]), float(fraction))


def check_finetune_options(options) -> dict:
    """A copy of the stage's options ``options`` (a dict), each key one of :data:`FINETUNE_OPTIONS` and in range.

    Raises
    ------
    ValidationError
        Naming an unknown key and the valid ones, or an option out of range.
    """
    if not isinstance(options, dict):
        raise ValidationError(f"finetune must be a dict of options {sorted(FINETUNE_OPTIONS)} or None; "
                              f"got {options!r}")
    unknown = sorted(set(options) - set(FINETUNE_OPTIONS))
    if unknown:
        raise ValidationError(f"finetune: unknown option(s) {unknown}; valid options are {sorted(FINETUNE_OPTIONS)}")
    options = dict(options)
    decay = options.get("weight_decay")
    if isinstance(decay, (list, tuple)):
        if not decay or not all(isinstance(x, numbers.Real) and not isinstance(x, bool) and np.isfinite(x)
                                and x >= 0 for x in decay):
            raise ValidationError("finetune: weight_decay must be a number >= 0 or a non-empty list of them "
                                  f"(candidates chosen on held-out samples); got {decay!r}")
        options["weight_decay"] = [float(x) for x in decay]
    elif "validation_fraction" in options:
        raise ValidationError("finetune: validation_fraction applies when weight_decay is a list of candidates; "
                              f"got weight_decay={decay!r}")
    single = {k: v for k, v in options.items() if not (k == "weight_decay" and isinstance(v, list))}
    check_params("finetune", single, {k: FINETUNE_OPTIONS[k] for k in single})
    return options


def finetune_stage(model, U, Y, *, loss, options, split=None, ridge=1.0, solver="auto", solver_opts=None, seed=0):
    """The stage of the module docstring on the greedy ``model``; returns ``(model, record)``.

    ``options`` are checked by :func:`check_finetune_options`; with weight-decay candidates, ``split`` is
    the :func:`holdout_split` whose held-out samples the greedy pass did not see (required: a model fitted
    on them would be scored on its own training data). ``ridge``, ``solver`` and ``solver_opts`` are the
    output step's (the block solver's). ``record`` holds the fine-tune's summary
    (:meth:`~cvximplicit.training.finetune.FinetuneResult.summary`, ``certified`` False), ``selection``
    (the candidates and their held-out losses; None without candidates), ``refit_output``, the output
    step's report as a dict (``output_step``), the returned model's training loss (``final_loss``) and
    the stage's time.
    """
    options = check_finetune_options(options)
    refit = options.pop("refit_output", True)
    options.pop("validation_fraction", None)
    t0 = time.perf_counter()
    step = {"ridge": ridge, "solver": solver, "solver_opts": solver_opts}
    selection = None
    if isinstance(options.get("weight_decay"), list):
        if split is None:
            raise ValidationError("finetune: weight-decay candidates need the held-out split the greedy pass left "
                                  "out (holdout_split); train_greedy makes it")
        selection = _select_weight_decay(model, U, Y, loss, options, split, refit, step, seed)
        options["weight_decay"] = selection["chosen"]
    if options.get("weight_decay", 0.0) is None:  # the greedy model did best on the held-out samples
        before = block_loss(Y, model.predict(U, layout="columns"), loss)
        C, report = output_step(model.state(U, layout="columns"), Y, loss, C0=model.C, **step)
        model = ImplicitModel(model.A, model.B, C, activation=model.activation, block_sizes=model.block_sizes,
                              input_bias=model.input_bias)
        final = block_loss(Y, model.predict(U, layout="columns"), loss)
        record = {"step": "finetune", "certified": False, "epochs": 0, "skipped": "the greedy model did best on "
                  "the held-out samples", "selection": selection, "refit_output": True,
                  "output_step": report.to_dict(), "loss_before": before, "loss_after": before, "final_loss": final,
                  "time_s": time.perf_counter() - t0}
        return model, record
    tuned_model, tuned, report = _tune(model, U, Y, loss, options, refit, step, seed)
    final = block_loss(Y, tuned_model.predict(U, layout="columns"), loss)
    record = {**tuned.summary(), "selection": selection, "refit_output": bool(refit), "final_loss": final,
              "output_step": None if report is None else report.to_dict(), "time_s": time.perf_counter() - t0}
    return tuned_model, record


def _tune(model, U, Y, loss, options, refit, step, seed):
    """Fine-tune, then (``refit``) the output step on the new states: ``(model, FinetuneResult, report)``."""
    tuned = finetune_model(model, U, Y, loss=loss, seed=int(seed), **options)
    C, report = tuned.C, None
    if refit:
        states = ImplicitModel(tuned.A, tuned.B, np.zeros_like(tuned.C), block_sizes=model.block_sizes,
                               input_bias=model.input_bias).state(U, layout="columns")
        C, report = output_step(states, Y, loss, C0=tuned.C, **step)
    new = ImplicitModel(tuned.A, tuned.B, C, activation=model.activation, block_sizes=model.block_sizes,
                        input_bias=model.input_bias)
    return new, tuned, report


def _select_weight_decay(model, U, Y, loss, options, split, refit, step, seed) -> dict:
    """Each candidate fine-tuned on the kept samples, scored on the held-out ones; None stands for no fine-tune."""
    held, kept = split.held, split.kept
    scores = [{"weight_decay": None, "validation_loss": block_loss(Y[:, held], model.predict(U[:, held],
                                                                   layout="columns"), loss)}]
    for decay in options["weight_decay"]:
        tuned, _, _ = _tune(model, U[:, kept], Y[:, kept], loss, {**options, "weight_decay": decay}, refit, step,
                            seed)
        scores.append({"weight_decay": decay,
                       "validation_loss": block_loss(Y[:, held], tuned.predict(U[:, held], layout="columns"), loss)})
    best = min(scores, key=lambda s: s["validation_loss"])  # the first of equals: no fine-tune, then the list order
    return {"validation_fraction": split.fraction, "n_validation": int(held.size), "candidates": scores,
            "chosen": best["weight_decay"]}


def describe_finetune(record: dict) -> str:
    """One line on what the stage did (its ``record``): the held-out choice, the fine-tune, the output step."""
    parts = []
    selection = record.get("selection")
    if selection:
        chosen = selection["chosen"]
        candidates = ", ".join("none" if c["weight_decay"] is None else f"{c['weight_decay']:g}"
                               for c in selection["candidates"])
        parts.append(f"{selection['n_validation']} samples held out of the greedy pass chose weight decay "
                     f"{'none (no fine-tune)' if chosen is None else f'{chosen:g}'} among {candidates}")
    if record.get("skipped"):
        parts.append("no fine-tune")
    else:
        decay = record.get("options", {}).get("weight_decay")
        parts.append(f"{record['epochs']} epochs of every block jointly (AdamW, weight decay {decay:g}; a local step, "
                     f"not certified), training loss {record['loss_before']:.4g} -> {record['loss_after']:.4g}")
    step = record.get("output_step")
    if step is not None:
        parts.append(f"then the output step on every sample ({step.get('certificate')}): {record['final_loss']:.4g}")
    return "fine-tune: " + "; ".join(parts) + f" ({record['time_s']:.2f} s)"
