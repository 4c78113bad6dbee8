"""scikit-learn estimators around the sequential greedy trainer (Algorithm 1).

Orientation: these follow scikit-learn — **rows are samples** (``X`` is
``m × p``).  They transpose to the paper's column layout internally.  (``X``
here is the design matrix, not the implicit state; the trained model is in
``model_``.)
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ._params import Int, check_params
from ._validation import as_real_array
from .exceptions import (
    CvxImplicitError,
    InputTypeError,
    NotFittedError,
    ValidationError,
)
from .partition import check_block_sizes, partition
from .presets import resolve_finetune, resolve_preset
from .training.block import available_block_solvers
from .training.greedy import format_block_table, train_greedy

__all__ = ["ImplicitRegressor", "ImplicitClassifier"]


class _ImplicitBase(BaseEstimator):
    _default_loss = "squared"

    def __init__(
        self,
        n=30,
        L=10,
        *,
        block_sizes=None,
        activation="relu",
        block_solver="alternating",
        T=1,
        budget="pool",
        beta="path",
        preset="auto",
        n_patterns="auto",
        max_rows="auto",
        solver="auto",
        solver_opts=None,
        block_solver_options=None,
        finetune="auto",
        loss="auto",
        bias=True,
        self_loop_eps=None,
        random_state=0,
        verbose=0,
        checkpoint_dir=None,
        resume=False,
    ):
        self.n = n
        self.L = L
        self.block_sizes = block_sizes
        self.activation = activation
        self.block_solver = block_solver
        self.T = T
        self.budget = budget
        self.beta = beta
        self.preset = preset
        self.n_patterns = n_patterns
        self.max_rows = max_rows
        self.solver = solver
        self.solver_opts = solver_opts
        self.block_solver_options = block_solver_options
        self.finetune = finetune
        self.loss = loss
        self.bias = bias
        self.self_loop_eps = self_loop_eps
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir
        self.resume = resume

    # ------------------------------------------------------------ parameters
    def _partition(self) -> list[int]:
        if self.block_sizes is not None:
            sizes = check_block_sizes(self.block_sizes)
            if self.n is not None and sum(sizes) != self.n:
                raise ValidationError(f"block_sizes must sum to n={self.n}; got {sizes} (sum {sum(sizes)})")
            return sizes
        return partition(self.n, self.L)

    def _solver_options(self, n_features: int, n_outputs: int, n_state: int,
                        n_samples: int) -> tuple[dict, dict | None]:
        """The block solver's options and the fine-tune's; for ``"alternating"``, the preset's (``self.preset_``)
        under the given ones."""
        self.preset_, preset_finetune = None, None
        if self.block_solver not in available_block_solvers():
            raise ValidationError(
                f"block_solver must be one of {list(available_block_solvers())}; got {self.block_solver!r}"
            )
        options = dict(self.block_solver_options or {})
        if self.block_solver == "alternating":
            chosen = resolve_preset(self.preset, n_features=n_features, n_outputs=n_outputs, n_state=n_state,
                                    n_samples=n_samples)
            self.preset_ = {"name": chosen.name, "reason": chosen.reason}
            preset_finetune = chosen.finetune
            given = {k: v for k, v in (("n_patterns", self.n_patterns), ("max_rows", self.max_rows)) if v != "auto"}
            options = {**chosen.options, **given, **options}
            options.setdefault("T", self.T)
            options.setdefault("budget", self.budget)
            options.setdefault("beta", self.beta)
            options.setdefault("solver", self.solver)
            options.setdefault("solver_opts", self.solver_opts)
        return options, resolve_finetune(self.finetune, preset_finetune)

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.default_rng().integers(2**31))
        check_params(type(self).__name__, {"random_state": self.random_state}, {"random_state": [Int(0), None]})
        return int(self.random_state)

    def _fit_targets(self, X, Y, loss):
        sizes = self._partition()
        options, finetune = self._solver_options(X.shape[1], Y.shape[1], sum(sizes), X.shape[0])
        result = train_greedy(
            X.T, Y.T, block_sizes=sizes, block_solver=self.block_solver, block_solver_options=options, loss=loss,
            activation=self.activation,
            input_bias=bool(self.bias), seed=self._seed(), checkpoint_dir=self.checkpoint_dir,
            resume=bool(self.resume), verbose=int(self.verbose), finetune=finetune,
        )
        model = result.model
        if self.self_loop_eps is not None:
            from .nonstrict import to_nonstrict

            model = to_nonstrict(model, eps=self.self_loop_eps)
        self.model_ = model
        self.blocks_ = result.blocks
        self.reports_ = [rep for block in result.blocks for rep in block.reports]
        self.finetune_ = result.finetune
        self.train_time_s_ = result.train_time_s
        self.block_sizes_ = sizes
        self.n_features_in_ = X.shape[1]
        return self

    def _outputs(self, X) -> np.ndarray:
        """``Ŷ`` with rows as samples."""
        self._check_fitted()
        X = self._validate(X, reset=False)
        return self.model_.predict(X, layout="rows")

    def _validate(self, X, y="no_validation", *, y_real=False, **kwargs):
        """scikit-learn's ``validate_data`` after the package's real-array check.

        ``X`` (and ``y`` when ``y_real``) must pass :func:`as_real_array`
        (no complex, string or non-numeric object data); the shape and
        consistency checks and ``n_features_in_``/``feature_names_in_`` are
        scikit-learn's, with its messages, raised as :class:`ValidationError`.
        """
        as_real_array(X, "X")
        if y is None:
            raise ValidationError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        if y_real:
            as_real_array(y, "y")
        try:
            return validate_data(self, X, y, dtype=np.float64, **kwargs)
        except CvxImplicitError:
            raise
        except TypeError as exc:
            raise InputTypeError(str(exc)) from exc
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) before using it")

    @property
    def A_(self):
        return self.model_.A

    @property
    def B_(self):
        return self.model_.B

    @property
    def C_(self):
        return self.model_.C

    def report_table(self) -> str:
        """Per-block table: training loss, certificate kind, worst gap, time."""
        self._check_fitted()
        return format_block_table(self.blocks_)


class ImplicitRegressor(RegressorMixin, _ImplicitBase):
    """Implicit model trained block by block (Algorithm 1) for regression.

    Parameters
    ----------
    n, L : int
        State size and number of blocks (``partition(n, L)``), or give
        ``block_sizes``.
    activation : str
        ``"relu"`` (needed by the convex ``"alternating"`` block solver).
    block_solver : {"alternating", "local_search"}
    T : int
        Alternations of Algorithm 2.
    budget : {"pool", "path"}
        How each block gets exactly ``n_i`` neurons from the convex program
        (see :class:`cvximplicit.training.alternating.AlternatingBlockSolver`).
    beta : "path" or float
        Weight decay of the Ergen–Pilanci program for ``budget="path"``.
    preset : {"auto", "narrow", "wide"}
        Convex-step settings of the ``"alternating"`` block solver
        (:func:`cvximplicit.presets.resolve_preset`; the choice and its reason end in
        ``preset_``).
    n_patterns : int or "auto"
        Sampled activation patterns per block when they cannot be enumerated
        (``"auto"``: the preset's).
    max_rows : int, None or "auto"
        Samples used by the convex step (the least-squares step uses all;
        ``None``: every sample; ``"auto"``: the preset's).
    solver, solver_opts : str, dict
        Convex solver (``"auto"``, ``"CLARABEL"``, ``"FISTA"``, ``"MOSEK"``, ...)
        and options passed to it unchanged.
    block_solver_options : dict
        Extra options for the block solver (e.g. ``{"epochs": 300}`` for local
        search, ``{"neurons": "random"}`` for the alternating solver's random-neuron
        twin: :class:`~cvximplicit.training.alternating.AlternatingBlockSolver`).
    finetune : "auto", dict or None
        The joint fine-tune of every block after the greedy pass (Adam with weight decay on the whole
        network, :func:`~cvximplicit.training.finetune.finetune_model`; a local step, never certified), and
        the certified output step again if its ``refit_output`` says so. ``"auto"``: the preset's
        (:data:`~cvximplicit.presets.FINETUNE_PRESETS`) for the ``"alternating"`` block solver, none for
        ``"local_search"``; a dict overrides the preset's options (``{"epochs": 0}`` or None: off).
    loss : {"auto", "squared", "cross_entropy"}
        Training loss. Regression: ``"auto"`` and ``"squared"`` (8); classification
        (:class:`ImplicitClassifier`): ``"auto"`` is the cross-entropy (9).
    bias : bool
        Append a constant input feature.
    self_loop_eps : float, optional
        Return the equivalent non-strict model with self-loops ``1 − ε``
        (Theorem 2) instead of the strict one.
    random_state : int or None
    verbose : int
        1 prints one line per block.
    checkpoint_dir, resume
        Per-block checkpoints and resuming (see :func:`cvximplicit.train_greedy`).

    Attributes
    ----------
    model_ : ImplicitModel
    blocks_ : list of BlockRecord
        Per-block records (loss, reports, history, time; :class:`~cvximplicit.training.greedy.BlockRecord`).
    reports_ : list of SolveReport
        Every solve's report, in order (``report.to_dict()`` for JSON).
    preset_ : dict or None
        The convex-step preset used (``name``, ``reason``); None for other block solvers.
    finetune_ : dict or None
        What the fine-tune did (losses before and after, epochs, options, the output step's report), or None.
    train_time_s_ : float
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        X, y = self._validate(X, y, y_real=True, multi_output=True, y_numeric=True)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        self._y_ndim = y.ndim
        if self.loss not in ("auto", "squared"):
            raise ValidationError(f"loss must be 'auto' or 'squared' for regression; got loss={self.loss!r} "
                                  "(the cross-entropy needs class labels: use ImplicitClassifier)")
        return self._fit_targets(X, Y, "squared")

    def predict(self, X):
        out = self._outputs(X)
        return out[:, 0] if self._y_ndim == 1 else out


class ImplicitClassifier(ClassifierMixin, _ImplicitBase):
    """Implicit model trained block by block (Algorithm 1) for classification.

    ``loss="auto"`` (the default) and ``"cross_entropy"`` train with the softmax
    cross-entropy (9): the convex ``"alternating"`` block solver then fits the
    loss's negative gradient in its convex step and uses a certified multinomial
    logistic output step; ``loss="squared"`` fits one-hot targets with the squared
    loss (8), the paper's Algorithm 2. ``predict_proba`` is the softmax of the
    model's outputs (for the squared loss these scores are not calibrated probabilities).  Parameters and
    attributes are those of :class:`ImplicitRegressor`, plus ``classes_``.
    """

    def fit(self, X, y):
        X, y = self._validate(X, y)
        try:
            check_classification_targets(y)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        self.classes_, labels = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValidationError(
                f"y must contain at least 2 classes; got 1 class: {self.classes_.tolist()}"
            )
        Y = np.eye(len(self.classes_))[labels]
        if self.loss not in ("auto", "squared", "cross_entropy"):
            raise ValidationError(f"loss must be one of ['auto', 'squared', 'cross_entropy']; got loss={self.loss!r}")
        return self._fit_targets(X, Y, "cross_entropy" if self.loss == "auto" else self.loss)

    def decision_function(self, X):
        """Model outputs, one column per class (binary: ``z_1 − z_0``, shape ``(m,)``)."""
        Z = self._outputs(X)
        return Z[:, 1] - Z[:, 0] if len(self.classes_) == 2 else Z

    def predict_proba(self, X):
        Z = self._outputs(X)
        Z = np.exp(Z - Z.max(axis=1, keepdims=True))
        return Z / Z.sum(axis=1, keepdims=True)

    def predict(self, X):
        Z = self._outputs(X)
        return self.classes_[np.argmax(Z, axis=1)]
