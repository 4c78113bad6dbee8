"""Estimators: the scikit-learn contract (check_estimator) and parameter validation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import estimator_checks_generator

from cvximplicit import ImplicitClassifier, ImplicitRegressor, NotFittedError, ValidationError

from . import _fakes  # noqa: F401  (registers "random_features")


def _check_name(check) -> str:
    func = getattr(check, "func", check)
    kwargs = getattr(check, "keywords", {}) or {}
    return func.__name__ + (f"({', '.join(f'{k}={v}' for k, v in sorted(kwargs.items()))})" if kwargs else "")


def _contract_cases():
    """scikit-learn's checks on both estimators with the fast random-features test solver, except the regressor's
    learning check (``check_regressors_train`` asks for a fit score a random-features block cannot reach): that one
    runs the real alternating solver, so every check runs and none is expected to fail."""
    for estimator in (ImplicitRegressor(n=4, L=2, block_solver="random_features"),
                      ImplicitClassifier(n=4, L=2, block_solver="random_features")):
        for est, check in estimator_checks_generator(estimator):
            if _check_name(check).startswith("check_regressors_train"):
                est = ImplicitRegressor(n=4, L=2)
            yield pytest.param(est, check, id=f"{est!r}-{_check_name(check)}")


@pytest.mark.parametrize("estimator, check", _contract_cases())
def test_sklearn_contract(estimator, check):
    check(estimator)


def test_not_fitted_message():
    with pytest.raises(NotFittedError, match=r"this ImplicitRegressor is not fitted yet; call fit\(X, y\)"):
        ImplicitRegressor().predict(np.zeros((3, 1)))


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(n=30, L=40), r"L must be an integer in \[2, n\]; got L=40 with n=30"),
        (dict(n=1, L=2), r"n must be an integer > 1; got n=1"),
        (dict(n=6, block_sizes=[2, 2]), r"block_sizes must sum to n=6; got \[2, 2\]"),
        (dict(block_solver="sgd"), r"block_solver must be one of \[.*'alternating'.*\]; got 'sgd'"),
        (dict(random_state="seed"), r"random_state must be an integer >= 0 or None; got random_state='seed'"),
        (dict(activation="gelu"), r"activation must be one of"),
    ],
)
def test_parameters_checked_at_fit(params, message):
    X, y = np.random.default_rng(0).standard_normal((20, 2)), np.arange(20.0)
    est = ImplicitRegressor(**{"n": 4, "L": 2, "block_solver": "random_features", **params})
    with pytest.raises(ValidationError, match=message):
        est.fit(X, y)
    assert not hasattr(est, "model_")


def test_nan_input_rejected():
    X = np.ones((10, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ImplicitRegressor(n=4, L=2, block_solver="random_features").fit(X, np.arange(10.0))


def test_learned_attributes_and_report_table():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (60, 2))
    y = X[:, 0] ** 2 - X[:, 1]
    est = ImplicitRegressor(n=6, L=3, block_solver="random_features").fit(X, y)
    assert est.A_.shape == (6, 6) and est.B_.shape == (6, 3) and est.C_.shape == (1, 6)
    assert len(est.blocks_) == 3 and est.block_sizes_ == [2, 2, 2]
    assert est.predict(X).shape == (60,)
    table = est.report_table().splitlines()
    assert len(table) == 4 and "train loss" in table[0]


def test_the_estimators_state_their_layout(recwarn):
    from cvximplicit import OrientationWarning

    rng = np.random.default_rng(2)
    X = rng.standard_normal((3, 3))  # as many samples as features
    est = ImplicitRegressor(n=4, L=2, block_solver="random_features").fit(X, X[:, 0])
    assert est.predict(X).shape == (3,)
    assert not [w for w in recwarn if issubclass(w.category, OrientationWarning)]
