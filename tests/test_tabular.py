"""Loading a researcher's own .csv / .npz data (cvximplicit.datasets.tabular)."""

from __future__ import annotations

import numpy as np
import pytest

from cvximplicit.datasets import infer_task, load_tabular, read_inputs
from cvximplicit.exceptions import DataError, ValidationError


def write(path, text):
    path.write_text(text)
    return path


def test_csv_header_target_and_seeded_split(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2))
    y = X @ [1.0, -2.0] + 0.5
    lines = ["a,target,b"] + [f"{float(x0)!r},{float(t)!r},{float(x1)!r}" for (x0, x1), t in zip(X, y)]
    path = write(tmp_path / "d.csv", "\n".join(lines) + "\n")
    ds = load_tabular(path, target="target", test_size=0.25, seed=3)
    assert ds.task == "regression" and ds.n_train == 15 and ds.n_test == 5
    assert ds.info["feature_names"] == ["a", "b"] and ds.info["target"] == "target"
    # the split is a partition of the rows, reproducible from the seed, and rows keep their values
    rows = np.vstack([ds.inputs_train, ds.inputs_test])
    assert sorted(map(tuple, rows)) == sorted(map(tuple, X))
    again = load_tabular(path, target="target", test_size=0.25, seed=3)
    np.testing.assert_array_equal(again.inputs_test, ds.inputs_test)
    for Xs, ys in ((ds.inputs_train, ds.targets_train), (ds.inputs_test, ds.targets_test)):
        np.testing.assert_allclose(ys, Xs @ [1.0, -2.0] + 0.5)


def test_csv_without_header_and_integer_labels(tmp_path):
    path = write(tmp_path / "d.csv", "".join(f"{i / 10},{i % 3}\n" for i in range(30)))
    ds = load_tabular(path)
    assert ds.task == "classification" and ds.n_classes == 3 and ds.info["classes"] == [0.0, 1.0, 2.0]
    assert ds.info["header"] is False and "multiclass" in ds.info["task_reason"]
    np.testing.assert_array_equal(np.r_[ds.inputs_train[:, 0], ds.inputs_test[:, 0]] * 10 % 3,
                                  np.r_[ds.targets_train, ds.targets_test])
    assert load_tabular(path, task="regression").task == "regression"
    assert load_tabular(path, target="0", task="regression").info["target"] == "x0"


def test_npz_with_given_test_set_and_string_labels(tmp_path):
    X, Xt = np.arange(12.0).reshape(6, 2), np.arange(4.0).reshape(2, 2)
    y, y_test = np.array(["b", "a", "b", "a", "c", "b"]), np.array(["c", "a"])
    np.savez(tmp_path / "d.npz", X=X, y=y, X_test=Xt, y_test=y_test)
    ds = load_tabular(tmp_path / "d.npz")
    assert ds.info["classes"] == ["a", "b", "c"] and ds.info["split"].startswith("given")
    np.testing.assert_array_equal(ds.targets_train, [1, 0, 1, 0, 2, 1])
    np.testing.assert_array_equal(ds.targets_test, [2, 0])
    np.testing.assert_array_equal(ds.inputs_test, Xt)


@pytest.mark.parametrize("text, message", [
    ("a,b\n1,2\n3\n", "line 3: expected 2 columns"),
    ("a,b,y\n1,x,2\n3,4,5\n", "column 'b' is 'x', not a number"),
    ("a,y\n1,2\nnan,3\n", "NaN or inf"),
    ("a,y\n", "no data rows"),
    ("5\n6\n", "at least one feature column"),
    ("a,b,y\n1,,2\n3,4,5\n", "row 1, column 'b' is empty, a missing value; fill it in"),
    ("a,b,y\n1,2,2\n3,NA,5\n", "row 2, column 'b' is 'NA', a missing value"),
    ("a,y\n1,2.5\n3,\n", "row 2, column 'y' is empty, a missing value"),  # not a string label
])
def test_csv_mistakes(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        load_tabular(write(tmp_path / "d.csv", text))


def test_npz_and_argument_mistakes(tmp_path):
    np.savez(tmp_path / "noy.npz", X=np.zeros((4, 2)))
    with pytest.raises(DataError, match=r"lacks the array\(s\) \['y'\]"):
        load_tabular(tmp_path / "noy.npz")
    np.savez(tmp_path / "half.npz", X=np.zeros((4, 2)), y=np.zeros(4), X_test=np.zeros((2, 2)))
    with pytest.raises(DataError, match="both X_test and y_test"):
        load_tabular(tmp_path / "half.npz")
    np.savez(tmp_path / "cplx.npz", X=np.zeros((4, 2)), y=np.zeros(4) + 1j)
    with pytest.raises(DataError, match="complex"):
        load_tabular(tmp_path / "cplx.npz")
    np.save(tmp_path / "arr.npy", np.zeros((4, 2)))
    with pytest.raises(DataError, match="is a .npy array file; a training data file must be .csv or .npz"):
        load_tabular(tmp_path / "arr.npy")
    path = write(tmp_path / "d.csv", "a,y\n1,2\n3,4\n5,6\n")
    with pytest.raises(ValidationError, match="target column 'z' not found"):
        load_tabular(path, target="z")
    with pytest.raises(ValidationError, match="test_size must be a fraction"):
        load_tabular(path, test_size=1.0)
    with pytest.raises(ValidationError, match="needs class labels"):
        load_tabular(write(tmp_path / "r.csv", "a,y\n1,0.5\n3,1.25\n5,2.5\n"), task="classification")
    with pytest.raises(DataError, match="no file at"):
        load_tabular(tmp_path / "missing.csv")


def test_infer_task_hints_at_many_integer_classes():
    task, reason = infer_task(np.arange(50.0))
    assert task == "classification" and "--task-type regression" in reason
    assert infer_task(np.array([0.5, 1.5, 2.0]))[0] == "regression"
    with pytest.raises(ValidationError, match="task must be one of"):
        infer_task(np.zeros(3), task="clustering")


def test_read_inputs_kinds(tmp_path):
    np.save(tmp_path / "one.npy", np.arange(3.0))
    assert read_inputs(tmp_path / "one.npy").shape == (3, 1)
    np.savez(tmp_path / "only.npz", A=np.ones((2, 4)))
    assert read_inputs(tmp_path / "only.npz").shape == (2, 4)
    np.savez(tmp_path / "two.npz", A=np.ones((2, 4)), B=np.ones(2))
    with pytest.raises(DataError, match="array named X"):
        read_inputs(tmp_path / "two.npz")
    path = write(tmp_path / "x.csv", "b,label,a\n1,x,2\n3,y,4\n")
    np.testing.assert_array_equal(read_inputs(path, feature_names=["a", "b"]), [[2.0, 1.0], [4.0, 3.0]])
    assert read_inputs(path, feature_names=["a", "b"], return_match=True)[1] == "by name"
    write(tmp_path / "in.npy", "1,2\n3,4\n")
    with pytest.raises(DataError, match="is a text \\(CSV\\) file; its name ends in '.npy'"):
        read_inputs(tmp_path / "in.npy")


def test_read_inputs_refuses_a_header_without_every_feature(tmp_path):
    # columns reversed and one name in another case: never matched by position in silence
    path = write(tmp_path / "x.csv", "f2,f1,F0\n1,2,3\n")
    with pytest.raises(DataError, match=r"header lacks the training feature column\(s\) \['f0'\]; columns the "
                                        r"model does not know: \['F0'\].*remove the header row"):
        read_inputs(path, feature_names=["f0", "f1", "f2"])
    twice = write(tmp_path / "twice.csv", "f0,f1,f0\n1,2,3\n")
    with pytest.raises(DataError, match=r"names the feature column\(s\) \['f0'\] more than once"):
        read_inputs(twice, feature_names=["f0", "f1"])
    bare = write(tmp_path / "bare.csv", "1,2,3\n4,5,6\n")
    X, match = read_inputs(bare, feature_names=["f0", "f1", "f2"], return_match=True)
    assert X.tolist() == [[1, 2, 3], [4, 5, 6]] and match == "by position: bare.csv has no header row"
    assert read_inputs(path, return_match=True)[1].startswith("by position: the model has no feature names")
