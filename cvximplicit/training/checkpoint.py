"""Per-block checkpoints of a greedy run (atomic, resumable).

One file, ``<checkpoint_dir>/checkpoint.npz``, holds everything needed to go on
after the last completed block: the rows of ``A`` and ``B`` learned so far, the
current ``C``, the training features ``X_{≤k}`` (so a resumed run continues from
bit-identical features) and, as JSON, the per-block records and a fingerprint of
the data and options.  It is replaced atomically after every block, so an
interrupted run leaves the last complete checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._npz import read_npz, write_npz
from ..exceptions import DataError, ValidationError

__all__ = ["Checkpoint", "fingerprint", "CHECKPOINT_NAME"]

CHECKPOINT_NAME = "checkpoint.npz"
_FORMAT = "cvximplicit.Checkpoint"
_FORMAT_VERSION = 1


def fingerprint(U: np.ndarray, Y: np.ndarray, config: dict) -> str:
    """SHA-256 of the training data and the run's options (resume only matches the same run)."""
    h = hashlib.sha256()
    for array in (U, Y):
        a = np.ascontiguousarray(array, dtype=float)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update(json.dumps(config, sort_keys=True, default=repr).encode())
    return h.hexdigest()


@dataclass
class Checkpoint:
    """State after ``completed`` blocks."""

    completed: int
    A: np.ndarray  # (n, n), rows of the completed blocks filled
    B: np.ndarray  # (n, p_eff)
    C: np.ndarray  # (q, n_done)
    X: np.ndarray  # (n_done, m) training features
    records: list
    fingerprint: str

    def save(self, directory) -> Path:
        """Write ``directory/checkpoint.npz`` atomically (a failed write leaves the previous checkpoint)."""
        meta = {"format": _FORMAT, "format_version": _FORMAT_VERSION, "completed": self.completed,
                "fingerprint": self.fingerprint, "records": self.records}
        arrays = {"A": self.A, "B": self.B, "C": self.C, "X": self.X}
        return write_npz(Path(directory) / CHECKPOINT_NAME, arrays, meta)

    @classmethod
    def load(cls, directory, expected_fingerprint: str) -> "Checkpoint | None":
        """The checkpoint in ``directory``, or None if there is none.

        Raises
        ------
        ValidationError
            If the checkpoint was written by a run with other data or options.
        DataError
            If the file is unreadable, truncated, corrupt, not a checkpoint, or
            its arrays do not fit together; the message names the file and
            says to delete it to start over.
        """
        path = Path(directory) / CHECKPOINT_NAME
        if not path.exists():
            return None
        try:
            meta, arrays = read_npz(path, fmt=_FORMAT, version=_FORMAT_VERSION, what="checkpoint",
                                    arrays=("A", "B", "C", "X"), meta_keys=("completed", "fingerprint", "records"))
        except DataError as exc:
            raise DataError(f"{exc}; delete it to start over") from exc
        if meta["fingerprint"] != expected_fingerprint:
            raise ValidationError(
                f"the checkpoint in {directory} was written by a run with different data or options; "
                "use another checkpoint_dir, or delete it (or pass resume=False) to start over"
            )
        A, B, C, X = arrays["A"], arrays["B"], arrays["C"], arrays["X"]
        completed, records = meta["completed"], meta["records"]
        problem = _inconsistency(A, B, C, X, completed, records)
        if problem:
            raise DataError(f"{path} is damaged: {problem}; delete it to start over")
        return cls(completed, A, B, C, X, records, meta["fingerprint"])


def _inconsistency(A, B, C, X, completed, records) -> str:
    """What is wrong with a checkpoint's contents, or ``""``."""
    if not (isinstance(completed, int) and not isinstance(completed, bool) and completed >= 0):
        return f"'completed' must be a non-negative integer; got {completed!r}"
    if not isinstance(records, list) or len(records) != completed:
        return f"'records' must list the {completed} completed blocks"
    if any(a.ndim != 2 for a in (A, B, C, X)):
        return "A, B, C and X must be 2-D"
    n = A.shape[0]
    if A.shape != (n, n) or B.shape[0] != n or X.shape[0] > n or C.shape[1] != X.shape[0]:
        return f"array shapes do not fit together (A {A.shape}, B {B.shape}, C {C.shape}, X {X.shape})"
    if not all(np.all(np.isfinite(a)) for a in (A, B, C, X)):
        return "it contains NaN or inf"
    return ""
