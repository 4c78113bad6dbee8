"""A researcher's own tabular data: ``.csv`` and ``.npz`` files as a :class:`Dataset`.

Orientation: **rows are samples** in the files and in the returned
:class:`Dataset` (transpose to the paper's ``U ∈ R^{p×m}`` at the model).

- :func:`load_tabular` — a training file: ``.csv`` (a header row is allowed;
  the last column is the target unless ``target`` names another) or ``.npz``
  with arrays ``X`` (``m × p``) and ``y`` (``m``), optionally ``X_test`` and
  ``y_test``; without them a seeded random ``test_size`` fraction is held out.
  Whether the task is classification or regression follows the target, as
  scikit-learn's :func:`sklearn.utils.multiclass.type_of_target` decides
  (``"binary"``/``"multiclass"`` → classification, ``"continuous"`` →
  regression), unless ``task`` says otherwise.  Class labels are encoded as
  ``0 … K−1`` in sorted order; the original labels are kept in
  ``Dataset.info["classes"]``.
- :func:`read_inputs` — the inputs to predict on: ``.npy`` (2-D, or 1-D for a
  single feature), ``.npz`` (array ``X``, or its only array) or ``.csv``
  (numeric columns; a header row is allowed and, when ``feature_names`` are
  given, must name every feature: the columns are taken by name; without a
  header they are taken by position).

Files are recognised by their first bytes (``.npy`` magic, zip signature for
``.npz``, text for CSV); a file whose content contradicts its extension raises
:class:`~cvximplicit.exceptions.DataError` that says what it is.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np

from ..exceptions import DataError, ValidationError
from ._dataset import Dataset

__all__ = ["load_tabular", "read_inputs", "infer_task", "TASK_TYPES"]

#: Values of ``task`` accepted by :func:`load_tabular`.
TASK_TYPES = ("auto", "regression", "classification")

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
#: More classes than this in an automatically detected classification task adds a hint to the decision.
_MANY_CLASSES = 20


# --------------------------------------------------------------------------- file kinds
def _sniff(path: Path) -> str:
    """``"npy"``, ``"npz"``, ``"text"`` or ``"binary"`` from the first bytes of ``path``."""
    if not path.is_file():
        raise DataError(f"no file at {path}")
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if head.startswith((_ZIP_MAGIC, b"PK\x05\x06")):  # a zip with entries, or an empty one
        return "npz"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multi-byte character cut at the end of the sample
            return "binary"
    return "text"


def _describe_kind(kind: str) -> str:
    return {"npy": "a .npy array file", "npz": "an .npz archive", "text": "a text (CSV) file",
            "binary": "a binary file of unknown format"}[kind]


def _expect(path: Path, allowed: tuple[str, ...], what: str) -> str:
    """The sniffed kind of ``path``; DataError when it is not one of ``allowed`` or contradicts the extension."""
    kind = _sniff(path)
    suffix = path.suffix.lower()
    by_suffix = {".npy": "npy", ".npz": "npz", ".csv": "text", ".txt": "text", ".tsv": "text"}.get(suffix)
    if kind not in allowed or (by_suffix is not None and by_suffix != kind):
        named = f"; its name ends in {suffix!r}" if by_suffix is not None and by_suffix != kind else ""
        kinds = [{"npy": ".npy", "npz": ".npz", "text": ".csv"}[k] for k in allowed]
        expected = " or ".join(kinds) if len(kinds) == 2 else "one of " + ", ".join(kinds)
        rename = " (rename the file to match its content)" if named and kind in allowed else ""
        raise DataError(f"{path} is {_describe_kind(kind)}{named}; {what} must be {expected}{rename}")
    return kind


# --------------------------------------------------------------------------- CSV
def _read_csv(path: Path) -> tuple[list[str] | None, list[list[str]]]:
    """``(header or None, rows of strings)``; the header is the first row when any of its cells is not a number."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} as UTF-8 text ({exc})") from exc
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [[c.strip() for c in r] for r in csv.reader(io.StringIO(text), dialect)]
    rows = [r for r in rows if any(r)]  # skip blank lines
    if not rows:
        raise DataError(f"{path} holds no rows")
    header = None
    if not all(_is_number(c) for c in rows[0]):
        header, rows = rows[0], rows[1:]
        if not rows:
            raise DataError(f"{path} has a header row but no data rows")
    width = len(header) if header is not None else len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != width:
            line = i + 1 + (header is not None)
            raise DataError(f"{path}, line {line}: expected {width} columns (as in line 1), got {len(r)}")
    return header, rows


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


#: Cells that spreadsheets and data frames write for a missing value (compared in lower case).
_MISSING_MARKS = ("", "na", "n/a", "null", "none", "?", "-")


def _missing_value(path: Path, row: int, name: str, cell: str) -> DataError:
    what = "empty" if cell == "" else f"{cell!r}"
    return DataError(f"{path}: row {row}, column {name!r} is {what}, a missing value; fill it in (impute it) or "
                     "drop the row")


def _numeric_columns(path: Path, rows: list[list[str]], columns: list[int], names: list[str]) -> np.ndarray:
    out = np.empty((len(rows), len(columns)))
    for i, r in enumerate(rows):
        for j, c in enumerate(columns):
            try:
                out[i, j] = float(r[c])
            except ValueError:
                if r[c].lower() in _MISSING_MARKS:
                    raise _missing_value(path, i + 1, names[j], r[c]) from None
                raise DataError(
                    f"{path}: row {i + 1}, column {names[j]!r} is {r[c]!r}, not a number; feature columns must "
                    "be numeric (encode categories as numbers first)"
                ) from None
    return out


def _column_index(header: list[str] | None, width: int, target: str | None, path: Path) -> int:
    if target is None:
        return width - 1
    if header is not None and target in header:
        return header.index(target)
    if header is None and target.lstrip("-").isdigit() and -width <= int(target) < width:
        return int(target) % width
    valid = f"columns {header}" if header is not None else f"no header row; give a column number 0..{width - 1}"
    raise ValidationError(f"target column {target!r} not found in {path} ({valid})")


def _target_values(cells: list[str]) -> np.ndarray:
    """Numbers when every cell parses as one, else the strings (class labels)."""
    if all(_is_number(c) for c in cells):
        return np.array([float(c) for c in cells])
    return np.array(cells, dtype=str)


# --------------------------------------------------------------------------- npz
def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read {path} as an .npz archive ({type(exc).__name__}: {exc})") from exc


def _features(name: str, value: np.ndarray, path: Path) -> np.ndarray:
    if value.ndim == 1:
        value = value[:, None]
    if value.ndim != 2:
        raise DataError(f"{path}: {name} must be 2-D, rows are samples and columns features; got shape {value.shape}")
    if value.dtype.kind not in "biuf":
        raise DataError(f"{path}: {name} must hold real numbers; got dtype {value.dtype}")
    return np.asarray(value, dtype=float)


# --------------------------------------------------------------------------- task type
def infer_task(y_train: np.ndarray, y_test: np.ndarray | None = None, task: str = "auto") -> tuple[str, str]:
    """``(task, reason)``: classification or regression for the target, and why.

    ``task="auto"`` follows :func:`sklearn.utils.multiclass.type_of_target` on
    all targets: ``"binary"`` or ``"multiclass"`` (integer or string labels,
    including integer-valued floats) → ``"classification"``; ``"continuous"``
    → ``"regression"``.  An explicit ``task`` is checked against the target:
    string labels cannot be regression targets and non-integer numbers cannot
    be class labels (scikit-learn's classifiers refuse them too).

    Raises
    ------
    ValidationError
        If ``task`` is not one of :data:`TASK_TYPES`, or contradicts the target.
    """
    from sklearn.utils.multiclass import type_of_target

    if task not in TASK_TYPES:
        raise ValidationError(f"task must be one of {TASK_TYPES}; got task={task!r}")
    y = y_train if y_test is None or y_test.size == 0 else np.concatenate([y_train, y_test])
    kind = type_of_target(y)
    numeric = y.dtype.kind in "biuf"
    if task == "regression":
        if not numeric:
            raise ValidationError(
                f"--task-type regression needs numeric targets; the target holds labels such as {y[0]!r}"
            )
        return "regression", "regression (requested)"
    if task == "classification":
        if kind not in ("binary", "multiclass"):
            raise ValidationError(
                f"--task-type classification needs class labels (integers or strings); the target is {kind!r} "
                "(e.g. non-integer numbers) — use --task-type regression"
            )
        return "classification", "classification (requested)"
    if kind in ("binary", "multiclass"):
        n_classes = np.unique(y).size
        reason = f"classification: type_of_target(y) = {kind!r}, {n_classes} classes"
        if n_classes > _MANY_CLASSES and numeric:
            reason += "; if the target is a quantity, pass --task-type regression"
        return "classification", reason
    if kind == "continuous":
        return "regression", "regression: type_of_target(y) = 'continuous'"
    raise ValidationError(
        f"cannot tell classification from regression for a target of type {kind!r}; the target must be one "
        "column of numbers or labels"
    )


# --------------------------------------------------------------------------- public loaders
def load_tabular(path, *, target: str | None = None, task: str = "auto", test_size: float = 0.2,
                 seed: int = 0) -> Dataset:
    """Read a ``.csv`` or ``.npz`` training file into a :class:`Dataset` (rows are samples).

    Parameters
    ----------
    path : str or path-like
        ``.csv``: numeric feature columns and one target column (numbers or
        labels); a first row with a non-numeric cell is a header.  ``.npz``:
        arrays ``X`` (``m × p``), ``y`` (``m``), optional ``X_test``, ``y_test``.
    target : str, optional
        CSV only: the target column's header name (or, without a header, its
        0-based number).  Default: the last column.
    task : {"auto", "regression", "classification"}
        ``"auto"`` decides from the target (see :func:`infer_task`).
    test_size : float
        Fraction in ``(0, 1)`` of the samples held out as a test set (seeded
        random split) when the file has no ``X_test``/``y_test``.
    seed : int
        Seed of that split.

    Returns
    -------
    Dataset
        ``name`` is the file's stem.  Classification targets are encoded as
        ``0 … K−1`` (sorted labels); ``info`` has ``source``, ``format``,
        ``feature_names``, ``target``, ``task_reason``, ``split`` and, for
        classification, ``classes`` (the original labels, JSON-ready).

    Raises
    ------
    DataError
        The file is missing, unreadable, of the wrong kind, ragged, has a
        non-numeric feature, lacks ``X``/``y``, or has NaN/inf features.
    ValidationError
        Bad ``target``, ``task`` or ``test_size``, or inconsistent sizes.
    """
    path = Path(path)
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or not 0 < test_size < 1:
        raise ValidationError(f"test_size must be a fraction in (0, 1); got test_size={test_size!r}")
    kind = _expect(path, ("text", "npz"), "a training data file")
    info: dict = {"source": str(path)}
    if kind == "text":
        header, rows = _read_csv(path)
        width = len(rows[0])
        if width < 2:
            raise DataError(f"{path} has {width} column; it needs at least one feature column and the target")
        t = _column_index(header, width, target, path)
        names = header if header is not None else [f"x{j}" for j in range(width)]
        feat_cols = [j for j in range(width) if j != t]
        X = _numeric_columns(path, rows, feat_cols, [names[j] for j in feat_cols])
        empty = next((i for i, r in enumerate(rows) if r[t] == ""), None)
        if empty is not None:  # else a regression target would become string labels (other marks may be labels)
            raise _missing_value(path, empty + 1, names[t], rows[empty][t])
        y = _target_values([r[t] for r in rows])
        X_test = y_test = None
        info.update(format="csv", header=header is not None, feature_names=[names[j] for j in feat_cols],
                    target=names[t])
    else:
        if target is not None:
            raise ValidationError("target applies to CSV files; an .npz file holds the target as the array 'y'")
        arrays = _read_npz(path)
        missing = [k for k in ("X", "y") if k not in arrays]
        if missing:
            raise DataError(f"{path} lacks the array(s) {missing}; it must hold X (samples x features) and y "
                            f"(one target per sample), optionally X_test and y_test; it holds {sorted(arrays)}")
        if ("X_test" in arrays) != ("y_test" in arrays):
            raise DataError(f"{path} must hold both X_test and y_test, or neither; it holds {sorted(arrays)}")
        X = _features("X", arrays["X"], path)
        y = arrays["y"]
        X_test = _features("X_test", arrays["X_test"], path) if "X_test" in arrays else None
        y_test = arrays.get("y_test")
        for name, v in (("y", y), ("y_test", y_test)):
            if v is not None and (v.ndim != 1 and not (v.ndim == 2 and v.shape[1] == 1)):
                raise DataError(f"{path}: {name} must be 1-D, one target per sample; got shape {v.shape}")
        y = y.reshape(-1)
        y_test = None if y_test is None else y_test.reshape(-1)
        if y.shape[0] != X.shape[0]:
            raise ValidationError(f"{path}: y must have one entry per row of X ({X.shape[0]}); got {y.shape[0]}")
        if X_test is not None:
            if X_test.shape[1] != X.shape[1]:
                raise ValidationError(f"{path}: X_test must have the {X.shape[1]} columns of X; got {X_test.shape[1]}")
            if y_test.shape[0] != X_test.shape[0]:
                raise ValidationError(f"{path}: y_test must have one entry per row of X_test ({X_test.shape[0]}); "
                                      f"got {y_test.shape[0]}")
        info.update(format="npz", feature_names=[f"x{j}" for j in range(X.shape[1])], target="y")
    for name, v in (("y", y), ("y_test", y_test)):
        if v is not None and v.dtype.kind == "c":
            raise DataError(f"{path}: {name} is complex; targets must be real numbers or labels")
        if v is not None and v.dtype.kind not in "biufUS":
            raise DataError(f"{path}: {name} must hold numbers or string labels; got dtype {v.dtype}")
    for name, v in (("X", X), ("X_test", X_test)):
        if v is not None and not np.all(np.isfinite(v)):
            bad = np.argwhere(~np.isfinite(v))[0]
            raise DataError(f"{path}: {name} has a NaN or inf value (row {bad[0] + 1}, column {bad[1] + 1}); "
                            "remove or impute it")
    if y.dtype.kind in "f" and not np.all(np.isfinite(y)):
        raise DataError(f"{path}: the target has a NaN or inf value (row {int(np.argmin(np.isfinite(y))) + 1})")
    if X.shape[0] < 2:
        raise DataError(f"{path} has {X.shape[0]} sample(s); training needs at least 2")

    if X_test is None:
        m = X.shape[0]
        n_test = min(max(1, round(test_size * m)), m - 1)
        order = np.random.default_rng(seed).permutation(m)
        test_idx, train_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
        X, X_test, y, y_test = X[train_idx], X[test_idx], y[train_idx], y[test_idx]
        info["split"] = f"random: {n_test} of {m} samples held out (test_size={test_size}, seed={seed})"
    else:
        info["split"] = "given: X_test, y_test from the file"

    task, reason = infer_task(y, y_test, task)
    info["task_reason"] = reason
    if task == "classification":
        classes, codes = np.unique(np.concatenate([y, y_test]), return_inverse=True)
        if classes.size < 2:
            raise ValidationError(f"{path}: classification needs at least 2 classes; the target has only "
                                  f"{classes.tolist()}")
        info["classes"] = classes.tolist()
        codes = codes.astype(np.int64)
        return Dataset(path.stem or "data", "classification", X, codes[: y.size], X_test, codes[y.size:],
                       n_classes=int(classes.size), info=info)
    return Dataset(path.stem or "data", "regression", X, np.asarray(y, dtype=float), X_test,
                   np.asarray(y_test, dtype=float), info=info)


def read_inputs(path, *, feature_names: list[str] | None = None, return_match: bool = False):
    """Inputs to predict on, ``(m, p)`` ``float64``, rows are samples.

    Parameters
    ----------
    path : str or path-like
        ``.npy`` (2-D; a 1-D array is one feature), ``.npz`` (array ``X``, or its
        only array) or ``.csv`` (numeric; a header row is allowed).
    feature_names : list of str, optional
        The training features' names. A CSV file with a header must name every one of them: the
        columns are taken by name, in this order (other columns, such as the target, are ignored);
        a header that lacks one is refused, naming the missing and the unexpected columns. A CSV
        file without a header, and arrays, are taken by position.
    return_match : bool
        Also return how the columns were matched: a sentence, ``"by name"`` or ``"by position ..."``
        saying why (for a caller that tells its user).

    Returns
    -------
    X : ndarray, shape (m, p)
    match : str
        Only with ``return_match=True``.

    Raises
    ------
    DataError
        The file is missing, of the wrong kind or unreadable, holds non-numeric, missing or
        non-finite values, or (CSV with a header and ``feature_names``) does not name every
        feature, or names one twice.
    """
    path = Path(path)
    kind = _expect(path, ("npy", "npz", "text"), "an inputs file")
    match = "by position (an array has no column names)"
    if kind == "npy":
        try:
            X = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"cannot read {path} as a .npy array ({type(exc).__name__}: {exc})") from exc
        X = _features("the array", X, path)
    elif kind == "npz":
        arrays = _read_npz(path)
        if "X" in arrays:
            X = arrays["X"]
        elif len(arrays) == 1:
            X = next(iter(arrays.values()))
        else:
            raise DataError(f"{path} must hold an array named X (or exactly one array); it holds {sorted(arrays)}")
        X = _features("X", X, path)
    else:
        header, rows = _read_csv(path)
        width = len(rows[0])
        names = header if header is not None else [f"x{j}" for j in range(width)]
        if header is not None and feature_names is not None:
            cols = _columns_by_name(path, header, list(feature_names))
            match = "by name"
        else:
            cols = list(range(width))
            match = (f"by position: {path.name} has no header row" if header is None else
                     "by position: the model has no feature names (it was trained on a file without a header)")
        X = _numeric_columns(path, rows, cols, [names[j] for j in cols])
    if not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise DataError(f"{path} has a NaN or inf value (row {bad[0] + 1}, column {bad[1] + 1}); remove or impute it")
    return (X, match) if return_match else X


def _columns_by_name(path: Path, header: list[str], feature_names: list[str]) -> list[int]:
    """The header's column of each feature; DataError naming the missing and unexpected columns otherwise."""
    missing = [f for f in feature_names if f not in header]
    if missing:
        unexpected = [h for h in header if h not in feature_names]
        raise DataError(
            f"{path}: the header lacks the training feature column(s) {missing}; columns the model does not know: "
            f"{unexpected}. The model takes its features by name: {feature_names}. Rename the columns to match "
            "(names are case-sensitive), or remove the header row to take the columns by position")
    twice = sorted({f for f in feature_names if header.count(f) > 1})
    if twice:
        raise DataError(f"{path}: the header names the feature column(s) {twice} more than once; which one holds "
                        "the feature is ambiguous")
    return [header.index(f) for f in feature_names]
