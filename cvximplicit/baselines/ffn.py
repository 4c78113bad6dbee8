"""Feed-forward ReLU network baselines of Section V: :func:`fit_ffn` and :class:`FFNModel`.

The paper compares against a 1-25-25-25-25-1 ReLU network (regression) and a
784-64-32-16-10 ReLU network (classification), trained by Adam on the squared
loss (8) or the softmax cross-entropy (9):

.. math::

    H_0 = U, \\qquad H_k = \\mathrm{ReLU}(W_k H_{k-1} + b_k 1^\\top)\\ (k < K), \\qquad
    \\hat Y = W_K H_{K-1} + b_K 1^\\top.

Orientation: columns are samples (``U`` is ``p × m``, ``Ŷ`` is ``q × m``); each
``W_k`` is ``out × in`` as in ``torch.nn.Linear``.  Such a network is an implicit
model with a strictly block lower-triangular ``A``
(:meth:`FFNModel.to_implicit`).  torch is imported lazily, only by :func:`fit_ffn`.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

from .._npz import damaged, read_npz, write_npz
from .._validation import samples_as_columns
from .._version import __version__
from ..exceptions import DataError, ValidationError
from ..training.block import block_loss
from . import _torch as engine
from ._result import BaselineResult
from ._torch import DEFAULT_EPOCHS

__all__ = ["FFNModel", "fit_ffn", "DEFAULT_HIDDEN", "DEFAULT_EPOCHS", "FFN_FORMAT_VERSION"]

#: Hidden widths when ``hidden=None`` (the paper's architectures).
DEFAULT_HIDDEN = {"squared": (25, 25, 25, 25), "cross_entropy": (64, 32, 16)}
#: Epochs when ``epochs=None``: full-batch steps on the 500-sample regression
#: tasks; the paper's 200 epochs for classification (MNIST-size, mini-batches).
#: Version of the ``.npz`` layout written by :meth:`FFNModel.save`.
FFN_FORMAT_VERSION = 1


class FFNModel:
    """A trained ReLU feed-forward network ``Ŷ = W_K ReLU(… ReLU(W_1 U + b_1) …) + b_K``.

    Parameters
    ----------
    weights : list of ndarray
        ``W_k`` of shape ``(out_k, in_k)``; ``in_1 = p``, ``in_k = out_{k-1}``.
    biases : list of ndarray
        ``b_k`` of shape ``(out_k,)``.
    info : dict, optional
        JSON-serialisable metadata, saved with the model.
    """

    def __init__(self, weights, biases, *, info=None):
        weights = [np.array(W, dtype=float) for W in weights]
        biases = [np.array(b, dtype=float).reshape(-1) for b in biases]
        if not weights or len(weights) != len(biases):
            raise ValidationError(
                f"weights and biases must be non-empty lists of equal length; got {len(weights)} and {len(biases)}"
            )
        for k, (W, b) in enumerate(zip(weights, biases), start=1):
            if W.ndim != 2 or b.shape != (W.shape[0],):
                raise ValidationError(f"layer {k}: W must be (out, in) and b (out,); got W{W.shape}, b{b.shape}")
            if k > 1 and W.shape[1] != weights[k - 2].shape[0]:
                raise ValidationError(
                    f"layer {k}: W has {W.shape[1]} inputs but layer {k - 1} has {weights[k - 2].shape[0]} outputs"
                )
            if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
                raise ValidationError(f"layer {k} contains NaN or inf")
        self.weights, self.biases = weights, biases
        self.info = dict(info or {})

    @property
    def p(self) -> int:
        """Number of inputs."""
        return self.weights[0].shape[1]

    @property
    def q(self) -> int:
        """Number of outputs."""
        return self.weights[-1].shape[0]

    @property
    def hidden(self) -> tuple[int, ...]:
        """Hidden layer widths."""
        return tuple(W.shape[0] for W in self.weights[:-1])

    @property
    def n_params(self) -> int:
        """Number of weights and biases."""
        return int(sum(W.size + b.size for W, b in zip(self.weights, self.biases)))

    def predict(self, U, *, layout=None) -> np.ndarray:
        """``Ŷ``, shape ``(q, m)``, for inputs ``U`` of shape ``(p, m)`` (columns are samples).

        ``layout`` as in :meth:`cvximplicit.ImplicitModel.predict`: ``"rows"`` takes ``U`` ``(m, p)`` and
        returns ``(m, q)``; the default reads ``(p, m)`` and warns on a square ``U``.
        """
        H = samples_as_columns(U, self.p, layout, "FFNModel", stacklevel=3)
        for W, b in zip(self.weights[:-1], self.biases[:-1]):
            H = np.maximum(W @ H + b[:, None], 0.0)
        Y = self.weights[-1] @ H + self.biases[-1][:, None]
        return Y.T if layout == "rows" else Y

    def to_implicit(self):
        """The same network as an :class:`~cvximplicit.model.ImplicitModel` (with ``input_bias=True``).

        The hidden layers become blocks ``X_k`` (computation order):
        ``A_{k,k-1} = W_k``, ``B_1 = [W_1, b_1]``, ``B_k = [0, b_k]`` for
        ``k > 1``, ``C = [0 … 0, W_K]`` and ``D = [0, b_K]``; ``A`` is strictly
        block lower triangular, so forward substitution (5) reproduces
        :meth:`predict` exactly.
        """
        from ..model import ImplicitModel

        if not self.hidden:
            raise ValidationError("a network without hidden layers has no implicit state")
        sizes = list(self.hidden)
        n, starts = sum(sizes), np.cumsum([0] + sizes)
        A, B = np.zeros((n, n)), np.zeros((n, self.p + 1))
        for k, (W, b) in enumerate(zip(self.weights[:-1], self.biases[:-1])):
            rows = slice(starts[k], starts[k + 1])
            if k == 0:
                B[rows, : self.p] = W
            else:
                A[rows, starts[k - 1]: starts[k]] = W
            B[rows, self.p] = b
        C = np.zeros((self.q, n))
        C[:, starts[-2]:] = self.weights[-1]
        D = np.zeros((self.q, self.p + 1))
        D[:, self.p] = self.biases[-1]
        return ImplicitModel(A, B, C, D, activation="relu", block_sizes=sizes, input_bias=True,
                             info={"converted_from": "FFNModel"})

    def save(self, path) -> Path:
        """Write the network to ``path`` (``.npz``) atomically and losslessly."""
        meta = {"format": "cvximplicit.FFNModel", "format_version": FFN_FORMAT_VERSION,
                "cvximplicit_version": __version__, "n_layers": len(self.weights), "info": self.info}
        arrays = {}
        for k, (W, b) in enumerate(zip(self.weights, self.biases)):
            arrays[f"W{k}"], arrays[f"b{k}"] = W, b
        return write_npz(path, arrays, meta)

    @classmethod
    def load(cls, path) -> "FFNModel":
        """Read a network written by :meth:`save`.

        Raises
        ------
        DataError
            If ``path`` is missing, not an FFN file, truncated or corrupt, lacks
            a layer, or holds arrays that do not make a network; the message
            names the file and what is wrong.
        """
        meta, arrays = read_npz(path, fmt="cvximplicit.FFNModel", version=FFN_FORMAT_VERSION,
                                what="FFN model", meta_keys=("n_layers",))
        n_layers = meta["n_layers"]
        if not isinstance(n_layers, int) or isinstance(n_layers, bool) or n_layers < 1:
            raise DataError(f"{path} is damaged: n_layers must be a positive integer; got {n_layers!r}")
        names = [f"{kind}{k}" for k in range(n_layers) for kind in ("W", "b")]
        missing = [k for k in names if k not in arrays]
        if missing:
            raise DataError(f"{path} is damaged: the FFN model file lacks {missing}")
        info = meta.get("info")
        try:
            if info is not None and not isinstance(info, dict):
                raise ValidationError(f"info must be a JSON object; got {type(info).__name__}")
            return cls([arrays[f"W{k}"] for k in range(n_layers)], [arrays[f"b{k}"] for k in range(n_layers)],
                       info=info)
        except (ValidationError, TypeError, ValueError) as exc:
            raise damaged(path, "FFN model", exc) from exc

    def __repr__(self) -> str:
        sizes = "-".join(str(s) for s in (self.p, *self.hidden, self.q))
        return f"FFNModel({sizes}, relu)"


def fit_ffn(U, Y, *, hidden=None, loss="squared", lr=None, epochs=None, batch_size=None, seed=0, device="cpu",
            weight_decay=0.0, dtype="float64", verbose=False) -> BaselineResult:
    """Train a ReLU feed-forward network by Adam (the paper's FFN baseline).

    Parameters
    ----------
    U : ndarray, shape (p, m)
        Inputs, **columns are samples** (no bias row: every layer has a bias).
    Y : ndarray, shape (q, m)
        Targets; one-hot columns for ``loss="cross_entropy"``.
    hidden : tuple of int, optional
        Hidden widths; ``None`` → the paper's ``(25, 25, 25, 25)`` (squared)
        or ``(64, 32, 16)`` (cross-entropy).
    loss : {"squared", "cross_entropy"}
    lr : float, optional
        ``None`` → 0.01 (squared) / 0.001 (cross-entropy).
    epochs : int, optional
        ``None`` → :data:`DEFAULT_EPOCHS`.
    batch_size : int, optional
        ``None`` → full batch for ``m ≤ 4096``, else 256.
    seed : int
        Seeds the initialisation (uniform ``±1/√fan_in``, torch's ``Linear``
        default) and the mini-batch order.
    device : {"cpu", "cuda"}
    weight_decay : float
    dtype : {"float64", "float32"}
    verbose : bool

    Returns
    -------
    BaselineResult
        ``model`` is an :class:`FFNModel`; ``info["final_loss"]`` is its
        training loss (float64 numpy).

    Raises
    ------
    MissingDependencyError
        If torch is not installed.
    ValidationError
        For invalid data or options.
    """
    torch = engine.require_torch("the feed-forward baseline (fit_ffn)")
    U, Y = engine.check_data(U, Y, loss)
    hidden = DEFAULT_HIDDEN[loss] if hidden is None else _check_hidden(hidden)
    lr = engine.resolve_lr(lr, loss)
    epochs = DEFAULT_EPOCHS[loss] if epochs is None else engine.check_positive_int("epochs", epochs)
    m = U.shape[1]
    batch = engine.resolve_batch_size(batch_size, m)
    weight_decay = engine.check_positive_float("weight_decay", weight_decay, allow_zero=True)
    dev, tdtype = engine.resolve_device(torch, device), engine.resolve_dtype(torch, dtype)
    sizes = (U.shape[0], *hidden, Y.shape[0])

    generator = torch.Generator().manual_seed(int(seed))
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        for shape in ((fan_out, fan_in), (fan_out,)):
            init = engine.uniform_init(torch, generator, shape, fan_in)
            params.append(init.to(dtype=tdtype, device=dev).requires_grad_(True))

    with engine.threads(torch, (m if batch is None else batch) * sum(sizes)):
        inputs = engine.as_rows(torch, U, dtype=tdtype, device=dev)
        targets = engine.as_rows(torch, Y, dtype=tdtype, device=dev)

        def batch_loss(idx):
            H = inputs if idx is None else inputs.index_select(0, idx.to(dev))
            T = targets if idx is None else targets.index_select(0, idx.to(dev))
            for k in range(0, len(params) - 2, 2):
                H = torch.relu(H @ params[k].T + params[k + 1])
            return engine.torch_loss(torch, T, H @ params[-2].T + params[-1], loss)

        run = engine.adam_loop(torch, params, batch_loss, m=m, lr=lr, epochs=epochs, batch_size=batch,
                               weight_decay=weight_decay, seed=seed, verbose=verbose, label="ffn")
        train_time = run["time_s"]
        arrays = [P.detach().cpu().numpy().astype(float) for P in params]

    model = FFNModel(arrays[0::2], arrays[1::2], info={"trained_by": "ffn", "loss": loss})
    final_loss = block_loss(Y, model.predict(U, layout="columns"), loss)
    info = {"lr": lr, "epochs": epochs, "batch_size": batch, "hidden": list(hidden), "loss": loss, "seed": seed,
            "device": str(dev), "dtype": dtype, "weight_decay": weight_decay, "steps": run["steps"],
            "status": run["status"], "final_loss": final_loss}
    return BaselineResult(model=model, method="ffn", train_time_s=train_time, history=run["history"],
                          n_params=model.n_params, info=info)


def _check_hidden(hidden) -> tuple[int, ...]:
    try:
        widths = tuple(hidden)
    except TypeError:
        raise ValidationError(f"hidden must be a sequence of positive integers; got {hidden!r}") from None
    if not all(isinstance(w, numbers.Integral) and not isinstance(w, bool) and w >= 1 for w in widths):
        raise ValidationError(f"hidden must be a sequence of positive integers; got {hidden!r}")
    return tuple(int(w) for w in widths)
