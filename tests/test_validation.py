"""The one real-array check (as_real_array) and the up-front size check, against hand-written expectations."""

from __future__ import annotations

import numpy as np
import pytest

from cvximplicit import ImplicitModel, partition, solve_least_squares, train_greedy
from cvximplicit._validation import as_finite_matrix, as_real_array, check_memory
from cvximplicit.exceptions import InputTypeError, ValidationError


@pytest.mark.parametrize("value, expected", [
    ([[1, 2], [3, 4]], np.array([[1.0, 2.0], [3.0, 4.0]])),
    (np.array([True, False]), np.array([1.0, 0.0])),  # booleans read as 0/1, as scikit-learn does
    (np.array([1, 2.5, np.float32(3)], dtype=object), np.array([1.0, 2.5, 3.0])),
    (np.arange(3, dtype=np.uint8), np.array([0.0, 1.0, 2.0])),
])
def test_accepted_inputs_become_float64(value, expected):
    out = as_real_array(value, "X")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, expected)


def test_float64_input_is_not_copied_unless_asked():
    x = np.ones(3)
    assert as_real_array(x, "X") is x
    assert as_real_array(x, "X", copy=True) is not x
    M = np.ones((2, 2))
    assert as_finite_matrix("A", M) is not M  # the model keeps its own copy of A, B, C, D


@pytest.mark.parametrize("value, match", [
    (np.ones(2) + 0j, "Complex data not supported: X has dtype complex128"),
    (np.array(["1.5", "2"]), "X has the string dtype"),
    (np.array([b"1"]), "X has the string dtype"),
    (np.array([1.0, "2"], dtype=object), r"X contains strings \(e.g. '2'\)"),
    (np.array([1.0, None], dtype=object), "X contains a NoneType where a number is expected"),
    (np.array([1.0, 2j], dtype=object), "Complex data not supported: X contains the complex value 2j"),
    (np.array(["2020-01-01"], dtype="datetime64[D]"), "X must be a real numeric array; got dtype datetime64"),
    (None, "X must be a numeric array; got NoneType"),
])
def test_non_numeric_inputs_raise_input_type_error(value, match):
    with pytest.raises(InputTypeError, match=match) as info:
        as_real_array(value, "X")
    assert isinstance(info.value, ValidationError) and isinstance(info.value, TypeError)


def test_sparse_matrices_are_refused_with_the_fix():
    import scipy.sparse

    with pytest.raises(InputTypeError, match=r"X is a sparse matrix; pass a dense array \(X.toarray\(\)\)"):
        as_real_array(scipy.sparse.eye(3, format="csr"), "X")


@pytest.mark.parametrize("value, ndim, match", [
    ([[1.0, 2.0], [3.0]], None, "X must be a numeric array; got a list that numpy cannot read"),
    ([1.0, np.nan, np.inf], None, r"X contains NaN or inf \(2 of 3 entries\)"),
    (np.ones((2, 2, 2)), (1, 2), "X must be a 1-D or 2-D array; got an array with shape"),
])
def test_shape_and_finiteness_errors(value, ndim, match):
    with pytest.raises(ValidationError, match=match):
        as_real_array(value, "X", ndim=ndim)


def test_public_boundaries_reject_complex_and_strings():
    A = np.zeros((2, 2))
    with pytest.raises(InputTypeError, match="Complex data not supported: A"):
        ImplicitModel(A + 0j, np.ones((2, 1)), np.ones((1, 2)))
    model = ImplicitModel(A, np.ones((2, 1)), np.ones((1, 2)))
    with pytest.raises(InputTypeError, match="U has the string dtype"):
        model.predict(np.array([["1.0", "2.0"]]))
    with pytest.raises(InputTypeError, match="Complex data not supported: Y"):
        solve_least_squares(np.ones((1, 3)), np.ones((1, 3)) * 1j)
    with pytest.raises(InputTypeError, match="Complex data not supported: U"):
        train_greedy(np.ones((1, 3)) + 0j, np.ones((1, 3)), block_sizes=[1])


def test_check_memory_message_gives_each_array_and_the_total():
    with pytest.raises(ValidationError) as info:
        check_memory("training", {"A (n × n)": (1000, 1000), "X (n × m)": (1000, 500)}, limit_bytes=1e6)
    msg = str(info.value)
    # 1000·1000·8 = 8 000 000 B = 7.6 MiB; 1000·500·8 = 4 000 000 B = 3.8 MiB; total 11.4 MiB > 1e6 B = 976.6 KiB
    assert "training would need 11.4 MiB of memory" in msg
    assert "A (n × n) = 1000 × 1000 float64 = 7.6 MiB" in msg and "X (n × m) = 1000 × 500 float64 = 3.8 MiB" in msg
    assert "more than the 976.6 KiB" in msg
    check_memory("training", {"A": (10, 10)}, limit_bytes=800)  # exactly 800 B fits


def test_sizes_are_checked_before_anything_is_allocated():
    with pytest.raises(ValidationError, match=r"n=1000000000 states would need 6\.9 EiB .*1000000000 × 1000000000"):
        partition(10**9, 10)
    # m = 10⁹ samples cannot be passed as data here, so the features X (n × m) are checked through n:
    with pytest.raises(ValidationError, match=r"training n=1000000 states on m=3 samples would need 7\.3 TiB"):
        train_greedy(np.ones((1, 3)), np.ones((1, 3)), block_sizes=[10**6])
