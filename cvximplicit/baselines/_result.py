"""The result of a baseline fit: :class:`BaselineResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BaselineResult"]


@dataclass
class BaselineResult:
    """A trained baseline and how it was trained.

    Attributes
    ----------
    model : ImplicitModel or FFNModel
        The trained model; both have ``predict(U) -> (q, m)`` with columns as
        samples, ``n_params`` and ``save(path)``.
    method : str
        ``"end_to_end"`` or ``"ffn"``.
    train_time_s : float
        Wall time of the optimisation loop (setup and final evaluation excluded).
    history : list of dict
        One record per epoch: ``epoch``, ``loss`` (mean training loss over the
        epoch's mini-batches, before each step) and ``time`` (cumulative seconds).
    n_params : int
        Number of trainable parameters.
    info : dict
        Settings and diagnostics (``lr``, ``epochs``, ``batch_size``, ``kappa``,
        ``final_loss`` — the training loss of the returned model —, ...).
    """

    model: Any
    method: str
    train_time_s: float
    history: list = field(default_factory=list)
    n_params: int = 0
    info: dict = field(default_factory=dict)

    @property
    def final_loss(self) -> float | None:
        """Training loss of the returned model (``info["final_loss"]``)."""
        return self.info.get("final_loss")
