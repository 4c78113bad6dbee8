"""The :class:`Dataset` container shared by every loader and generator.

Orientation: **rows are samples** here (``inputs_train`` is ``m × p``), as in
scikit-learn and in the files the data come from.  The model and the block
solvers use the paper's orientation, **columns are samples** (``U`` is
``p × m``, eqs. (2)-(3)); transpose at that boundary: ``U = ds.inputs_train.T``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import ValidationError

__all__ = ["Dataset", "TASKS"]

#: The learning tasks a :class:`Dataset` may declare.
TASKS = ("regression", "classification")


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A train/test split with its task type and provenance.

    Attributes
    ----------
    name : str
        Short identifier, e.g. ``"smooth"``, ``"nonsmooth"``, ``"mnist"``, ``"fashion-mnist"``.
    task : {"regression", "classification"}
        Regression targets are real numbers (squared loss (8)); classification
        targets are class labels (softmax cross-entropy (9)).
    inputs_train : ndarray, shape (m_train, p)
        Training inputs, **one sample per row**.  Images are ``float32`` pixel
        intensities scaled to ``[0, 1]`` (``uint8 / 255``); a ``float64`` copy
        of MNIST's 60000 × 784 training images would take 376 MB.
    targets_train : ndarray, shape (m_train,)
        ``float64`` values for regression, ``int64`` labels in
        ``[0, n_classes)`` for classification.
    inputs_test : ndarray, shape (m_test, p)
        Test inputs, one sample per row, same number of columns ``p``.
    targets_test : ndarray, shape (m_test,)
        Test targets, same conventions as ``targets_train``.
    n_classes : int or None
        Number of classes for classification, ``None`` for regression.
    info : dict
        Provenance: generator and its arguments (noise, seed) or the source
        directory and files, whether checksums were verified, the scaling.

    Notes
    -----
    The dataclass is frozen (its fields cannot be rebound) but the arrays are
    ordinary writable numpy arrays, so that ``torch.from_numpy`` accepts them
    without a warning; treat them as read-only.  Equality is identity
    (``eq=False``): comparing arrays element-wise has no single truth value.

    Raises
    ------
    ValidationError
        If ``task`` is unknown, the arrays have the wrong number of dimensions
        or inconsistent sizes, or classification labels are not integers in
        ``[0, n_classes)``.

    Examples
    --------
    >>> import numpy as np
    >>> ds = Dataset("toy", "regression", np.zeros((3, 1)), np.zeros(3), np.zeros((2, 1)), np.zeros(2))
    >>> ds
    Dataset('toy', regression, train=3x1, test=2x1)
    >>> ds.n_train, ds.n_test, ds.n_features
    (3, 2, 1)
    """

    name: str
    task: str
    inputs_train: np.ndarray
    targets_train: np.ndarray
    inputs_test: np.ndarray
    targets_test: np.ndarray
    n_classes: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValidationError(f"name must be a non-empty str; got {self.name!r}")
        if self.task not in TASKS:
            raise ValidationError(f"task must be one of {TASKS}; got task={self.task!r}")
        if not isinstance(self.info, dict):
            raise ValidationError(f"info must be a dict; got {type(self.info).__name__}")
        for split in ("train", "test"):
            inputs = getattr(self, f"inputs_{split}")
            targets = getattr(self, f"targets_{split}")
            if not isinstance(inputs, np.ndarray) or inputs.ndim != 2:
                raise ValidationError(
                    f"inputs_{split} must be a 2-D ndarray (samples x features); got "
                    f"{_describe(inputs)}"
                )
            if not isinstance(targets, np.ndarray) or targets.ndim != 1:
                raise ValidationError(
                    f"targets_{split} must be a 1-D ndarray (one target per sample); got "
                    f"{_describe(targets)}"
                )
            if targets.shape[0] != inputs.shape[0]:
                raise ValidationError(
                    f"targets_{split} must have one entry per row of inputs_{split} "
                    f"({inputs.shape[0]}); got {targets.shape[0]}"
                )
        if self.inputs_test.shape[1] != self.inputs_train.shape[1]:
            raise ValidationError(
                "inputs_test must have as many features as inputs_train "
                f"({self.inputs_train.shape[1]}); got {self.inputs_test.shape[1]}"
            )
        if self.task == "regression":
            if self.n_classes is not None:
                raise ValidationError(f"n_classes must be None for regression; got n_classes={self.n_classes!r}")
            return
        n_classes = self.n_classes
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
            raise ValidationError(
                f"n_classes must be an integer >= 2 for classification; got n_classes={n_classes!r}"
            )
        for split in ("train", "test"):
            labels = getattr(self, f"targets_{split}")
            if not np.issubdtype(labels.dtype, np.integer):
                raise ValidationError(
                    f"targets_{split} must hold integer class labels for classification; got dtype {labels.dtype}"
                )
            if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
                raise ValidationError(
                    f"targets_{split} must be labels in [0, {n_classes}); got values in "
                    f"[{labels.min()}, {labels.max()}]"
                )

    @property
    def n_train(self) -> int:
        """Number of training samples ``m_train`` (rows of ``inputs_train``)."""
        return int(self.inputs_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test samples ``m_test`` (rows of ``inputs_test``)."""
        return int(self.inputs_test.shape[0])

    @property
    def n_features(self) -> int:
        """Input dimension ``p`` (columns of the inputs), without any bias feature."""
        return int(self.inputs_train.shape[1])

    def __repr__(self) -> str:
        parts = [
            repr(self.name),
            self.task,
            f"train={self.n_train}x{self.n_features}",
            f"test={self.n_test}x{self.n_features}",
        ]
        if self.n_classes is not None:
            parts.append(f"classes={self.n_classes}")
        return f"Dataset({', '.join(parts)})"


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"
