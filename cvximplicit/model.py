"""The implicit model ``ŷ = C x + D u``, ``x = φ(A x + B u)`` (eqs. (2)–(3)).

Orientation: this module is the model core and keeps the paper's layout,
**columns are samples**: inputs ``U`` are ``p × m``, states ``X`` are ``n × m``,
predictions ``Ŷ`` are ``q × m``.  :meth:`ImplicitModel.predict` and
:meth:`ImplicitModel.state` also take ``layout="rows"`` (``U`` is ``m × p`` and the
result ``m × q``), the orientation of every other public entry point (the
estimators, the solvers, the CLI); a square ``U`` without a ``layout`` warns,
since it reads either way.

Storage order: the state is stored in **computation order** ``[X_1; …; X_L]``,
so a model trained by Algorithm 1 has a strictly *lower* block-triangular ``A``
and is evaluated by forward substitution (5).  The paper stacks ``[X_L; …; X_1]``
(strictly *upper* block triangular); :meth:`ImplicitModel.to_paper_order` and
:meth:`ImplicitModel.from_paper_order` convert.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ._npz import damaged, read_npz, write_npz
from ._self_loops import back_substitution, check_self_loop_structure, is_self_loop_structure
from ._validation import as_finite_matrix as _as_matrix
from ._validation import samples_as_columns
from ._version import __version__
from .activations import check_activation, get_activation
from .exceptions import ConvergenceError, ConvergenceWarning, ValidationError
from .partition import block_slices, check_block_sizes
from .wellposedness import WellPosedness, check_wellposedness

__all__ = ["ImplicitModel", "FORMAT_VERSION"]

#: Version of the ``.npz`` layout written by :meth:`ImplicitModel.save`.
FORMAT_VERSION = 1
_STATE_METHODS = ("auto", "forward", "self_loop", "picard")


class ImplicitModel:
    """An implicit model ``Ŷ = C X + D U``, ``X = φ(A X + B U)``.

    Parameters
    ----------
    A : ndarray, shape (n, n)
    B : ndarray, shape (n, p + input_bias)
    C : ndarray, shape (q, n)
    D : ndarray, shape (q, p + input_bias), optional
        Zero when omitted (Assumption 3 of the paper).
    activation : {"relu", "leaky_relu", "tanh", "sigmoid"}
    block_sizes : list of int, optional
        Partition ``[n_1, …, n_L]`` of the state in computation order.  Default:
        one state per block.
    input_bias : bool
        When True a constant row of ones is appended to the inputs, so the last
        column of ``B`` (and ``D``) is a bias.  ``U`` passed to :meth:`predict`
        then has ``p`` rows, not ``p + 1``.
    info : dict, optional
        JSON-serialisable metadata (e.g. how the model was trained and its
        certificates); saved and loaded with the model.

    Examples
    --------
    >>> A = np.array([[0.0, 0.0], [0.5, 0.0]])
    >>> model = ImplicitModel(A, np.ones((2, 1)), np.ones((1, 2)), block_sizes=[1, 1])
    >>> model.predict(np.array([[1.0, -1.0]]))
    array([[2.5, 0. ]])
    """

    def __init__(self, A, B, C, D=None, *, activation="relu", block_sizes=None, input_bias=False, info=None):
        A = _as_matrix("A", A)
        B = _as_matrix("B", B)
        C = _as_matrix("C", C)
        n = A.shape[0]
        if A.shape != (n, n):
            raise ValidationError(f"A must be square (n × n); got shape {A.shape}")
        if B.shape[0] != n:
            raise ValidationError(f"B must have n={n} rows (one per state); got shape {B.shape}")
        if C.shape[1] != n:
            raise ValidationError(f"C must have n={n} columns (one per state); got shape {C.shape}")
        D = np.zeros((C.shape[0], B.shape[1])) if D is None else _as_matrix("D", D)
        if D.shape != (C.shape[0], B.shape[1]):
            raise ValidationError(
                f"D must have shape (q, p_eff) = {(C.shape[0], B.shape[1])} like C's rows and B's "
                f"columns; got {D.shape}"
            )
        if not isinstance(input_bias, (bool, np.bool_)):
            raise ValidationError(f"input_bias must be True or False; got {input_bias!r}")
        if info is not None and not isinstance(info, dict):
            raise ValidationError(f"info must be a dict (JSON-serialisable metadata) or None; got {info!r}")
        if input_bias and B.shape[1] < 1:
            raise ValidationError("input_bias=True needs B to have at least one (bias) column")
        self.A, self.B, self.C, self.D = A, B, C, D
        self.activation = check_activation(activation)
        self.block_sizes = check_block_sizes([1] * n if block_sizes is None else block_sizes, n)
        self.input_bias = bool(input_bias)
        self.info = dict(info or {})

    # ------------------------------------------------------------------ sizes
    @property
    def n(self) -> int:
        """State dimension."""
        return self.A.shape[0]

    @property
    def p(self) -> int:
        """Number of input features (without the bias row)."""
        return self.B.shape[1] - int(self.input_bias)

    @property
    def q(self) -> int:
        """Number of outputs."""
        return self.C.shape[0]

    @property
    def L(self) -> int:
        """Number of blocks."""
        return len(self.block_sizes)

    @property
    def n_params(self) -> int:
        """Free parameters: the structurally allowed entries of ``A`` plus ``B``, ``C`` (and ``D`` if nonzero).

        Strictly block triangular ``A``: the blocks below the diagonal; with
        self-loops (:mod:`cvximplicit.nonstrict`) also the upper-triangular
        diagonal blocks; otherwise all ``n²`` entries.
        """
        n_a = (self.n**2 - sum(s * s for s in self.block_sizes)) // 2
        if not self.wellposedness().strictly_block_triangular:
            if is_self_loop_structure(self.A, self.block_sizes, self.activation):
                n_a += sum(s * (s + 1) // 2 for s in self.block_sizes)
            else:
                n_a = self.n**2
        n_d = self.D.size if np.any(self.D) else 0
        return int(n_a + self.B.size + self.C.size + n_d)

    # ------------------------------------------------------------- evaluation
    def prepare_inputs(self, U, *, layout=None) -> np.ndarray:
        """Validate ``U`` and return it as ``(p, m)`` (columns are samples) with the bias row when ``input_bias``.

        ``layout`` as in :meth:`predict`.
        """
        return self._prepare(U, layout, stacklevel=4)

    def _prepare(self, U, layout, *, stacklevel: int) -> np.ndarray:
        U = samples_as_columns(U, self.p, layout, "ImplicitModel", stacklevel=stacklevel)
        if self.input_bias:
            U = np.vstack([U, np.ones((1, U.shape[1]))])
        return U

    def state(self, U, *, layout=None, method="auto", tol=1e-10, max_iter=10_000,
              on_nonconvergence="raise") -> np.ndarray:
        """The fixed point ``X = φ(A X + B U)``, shape ``(n, m)`` (``(m, n)`` with ``layout="rows"``).

        Parameters
        ----------
        U : ndarray, shape (p, m)
            Columns are samples (or ``(m, p)`` with ``layout="rows"``).
        layout : {None, "columns", "rows"}
            As in :meth:`predict`.
        method : {"auto", "forward", "self_loop", "picard"}
            ``"forward"``: block forward substitution (5), only for strictly block
            lower-triangular ``A``.  ``"self_loop"``: exact block back-substitution
            for non-strict ReLU models with self-loops (Theorem 2, see
            :mod:`cvximplicit.nonstrict`).  ``"picard"``: ``X_{k+1} = φ(A X_k + B U)``
            from ``X_0 = 0`` (Theorem 1).  ``"auto"``: the first that applies.
        tol : float
            Picard stops when ``‖X_{k+1} − X_k‖_F ≤ tol · max(1, ‖X_{k+1}‖_F)``.
        max_iter : int
            Picard iteration cap.
        on_nonconvergence : {"raise", "warn"}
            What to do when Picard hits ``max_iter``: raise
            :class:`ConvergenceError` or warn (:class:`ConvergenceWarning`) and
            return the last iterate.  Both messages give the residual.
        """
        X = self._state(self._prepare(U, layout, stacklevel=4), method, tol, max_iter, on_nonconvergence)
        return X.T if layout == "rows" else X

    def _state(self, U, method, tol, max_iter, on_nonconvergence) -> np.ndarray:
        """:meth:`state` of prepared inputs ``U`` ``(p_eff, m)``."""
        if method not in _STATE_METHODS:
            raise ValidationError(f"method must be one of {_STATE_METHODS}; got {method!r}")
        if on_nonconvergence not in ("raise", "warn"):
            raise ValidationError(f"on_nonconvergence must be 'raise' or 'warn'; got {on_nonconvergence!r}")
        strict = self.wellposedness().strictly_block_triangular
        if method == "forward" and not strict:
            raise ValidationError(
                "method='forward' needs a strictly block lower-triangular A (computation order); "
                "use method='picard' for this model"
            )
        if method == "forward" or (method == "auto" and strict):
            return self._forward(U)
        if method == "self_loop" or (method == "auto" and self.activation == "relu"):
            if method == "self_loop" or is_self_loop_structure(self.A, self.block_sizes, self.activation):
                # a clear error when method="self_loop" does not apply
                check_self_loop_structure(self.A, self.block_sizes, self.activation)
                return back_substitution(self.A, self.B @ U, self.block_sizes)
        return self._picard(U, tol, max_iter, on_nonconvergence)

    def predict(self, U, *, layout=None, method="auto", tol=1e-10, max_iter=10_000,
                on_nonconvergence="raise") -> np.ndarray:
        """``Ŷ = C X + D U`` (2), shape ``(q, m)`` (``(m, q)`` with ``layout="rows"``).

        Parameters
        ----------
        U : ndarray, shape (p, m)
            The inputs, **columns are samples** (the paper's layout), or ``(m, p)`` with ``layout="rows"``.
        layout : {None, "columns", "rows"}
            ``"columns"``: ``U`` is ``(p, m)`` and ``Ŷ`` ``(q, m)``; ``"rows"``: ``U`` is ``(m, p)`` and
            ``Ŷ`` ``(m, q)``, rows are samples as at the estimators, the solvers and the CLI; ``None``
            (default): ``"columns"``, and a square ``U`` (``m = p``), which reads either way, warns
            :class:`~cvximplicit.exceptions.OrientationWarning`.
        method, tol, max_iter, on_nonconvergence
            As in :meth:`state`.
        """
        U = self._prepare(U, layout, stacklevel=4)
        Y = self.C @ self._state(U, method, tol, max_iter, on_nonconvergence) + self.D @ U
        return Y.T if layout == "rows" else Y

    def _forward(self, U: np.ndarray) -> np.ndarray:
        """Block forward substitution (5): ``X_i = φ(Σ_{j<i} A_{i,j} X_j + B_i U)``."""
        phi = get_activation(self.activation)
        X = np.zeros((self.n, U.shape[1]))
        BU = self.B @ U
        for rows in block_slices(self.block_sizes):
            X[rows] = phi(self.A[rows, : rows.start] @ X[: rows.start] + BU[rows])
        return X

    def _picard(self, U, tol, max_iter, on_nonconvergence) -> np.ndarray:
        phi = get_activation(self.activation)
        BU = self.B @ U
        X = np.zeros((self.n, U.shape[1]))
        residual = np.inf
        for _ in range(int(max_iter)):
            X_next = phi(self.A @ X + BU)
            residual = float(np.linalg.norm(X_next - X)) / max(1.0, float(np.linalg.norm(X_next)))
            X = X_next
            if residual <= tol:
                return X
        wp = self.wellposedness()
        message = (
            f"Picard iteration did not converge in max_iter={max_iter} iterations: relative residual "
            f"{residual:.3e} > tol={tol:.1e} (λ_PF(|A|) = {wp.pf_eigenvalue:.4g}); raise max_iter or check "
            "well-posedness"
        )
        if on_nonconvergence == "raise":
            raise ConvergenceError(message)
        warnings.warn(message, ConvergenceWarning, stacklevel=3)
        return X

    # --------------------------------------------------------- well-posedness
    def wellposedness(self) -> WellPosedness:
        """``λ_PF(|A|)``, ``‖A‖∞`` and a verdict (Theorem 1)."""
        return check_wellposedness(self.A, self.block_sizes)

    # --------------------------------------------------------------- ordering
    def _reversal(self) -> np.ndarray:
        """Permutation matrix ``Π`` with ``Π [X_1; …; X_L] = [X_L; …; X_1]``."""
        order = np.concatenate([np.arange(s.start, s.stop) for s in reversed(block_slices(self.block_sizes))])
        return np.eye(self.n)[order]

    def to_paper_order(self) -> dict[str, np.ndarray]:
        """``A, B, C, D`` with the state stacked as ``[X_L; …; X_1]`` (the paper's layout).

        In that layout a strictly triangular model's ``A`` is strictly *upper*
        block triangular.  ``block_sizes`` in the result lists ``[n_L, …, n_1]``.
        """
        P = self._reversal()
        return {
            "A": P @ self.A @ P.T,
            "B": P @ self.B,
            "C": self.C @ P.T,
            "D": self.D.copy(),
            "block_sizes": list(reversed(self.block_sizes)),
        }

    @classmethod
    def from_paper_order(cls, A, B, C, D=None, *, block_sizes, **kwargs) -> "ImplicitModel":
        """Build a model from matrices in the paper's layout ``[X_L; …; X_1]``.

        ``block_sizes`` is given in the paper's order ``[n_L, …, n_1]`` (as
        returned by :meth:`to_paper_order`).
        """
        paper = cls(A, B, C, D, block_sizes=block_sizes, **kwargs)
        P = paper._reversal()  # maps paper order to computation order
        return cls(
            P @ paper.A @ P.T, P @ paper.B, paper.C @ P.T, paper.D,
            block_sizes=list(reversed(paper.block_sizes)), **kwargs,
        )

    # ------------------------------------------------------------ persistence
    def save(self, path) -> Path:
        """Write the model to ``path`` (``.npz``) atomically and losslessly.

        The arrays are stored bit-exactly; metadata (format version, activation,
        block sizes, bias flag, package version) as JSON.  The file appears only
        once completely written (temporary file + rename).
        """
        meta = {
            "format": "cvximplicit.ImplicitModel",
            "format_version": FORMAT_VERSION,
            "cvximplicit_version": __version__,
            "activation": self.activation,
            "block_sizes": self.block_sizes,
            "input_bias": self.input_bias,
            "info": self.info,
        }
        return write_npz(path, {"A": self.A, "B": self.B, "C": self.C, "D": self.D}, meta)

    @classmethod
    def load(cls, path) -> "ImplicitModel":
        """Read a model written by :meth:`save`.

        Raises
        ------
        DataError
            If ``path`` is missing, is not a model file (a ``.npy`` array, a CSV,
            another program's ``.npz``), is truncated or corrupt, lacks an entry,
            or holds arrays that do not make a valid model; the message names
            the file and what is wrong.
        """
        meta, arrays = read_npz(
            path, fmt="cvximplicit.ImplicitModel", version=FORMAT_VERSION, what="model",
            arrays=("A", "B", "C", "D"), meta_keys=("activation", "block_sizes", "input_bias"),
        )
        info = meta.get("info")
        try:
            if not isinstance(meta["input_bias"], bool):
                raise ValidationError(f"input_bias must be true or false; got {meta['input_bias']!r}")
            return cls(
                arrays["A"], arrays["B"], arrays["C"], arrays["D"], activation=meta["activation"],
                block_sizes=meta["block_sizes"], input_bias=meta["input_bias"], info=info,
            )
        except (ValidationError, TypeError, ValueError) as exc:
            raise damaged(path, "model", exc) from exc

    # ------------------------------------------------------------------ torch
    def to_torch(self, *, mode="auto", tol=1e-12, max_iter=10_000):
        """This model as a trainable ``torch.nn.Module`` (**rows are samples**).

        See :func:`cvximplicit.torch_bridge.to_torch` for ``mode``, ``tol`` and ``max_iter``.

        ``module(U_rows)`` equals ``self.predict(U_rows.T).T``; ``A, B, C, D`` are its parameters.
        """
        from .torch_bridge import to_torch

        return to_torch(self, mode=mode, tol=tol, max_iter=max_iter)

    @classmethod
    def from_torch(cls, module) -> "ImplicitModel":
        """The model held by a module made by :meth:`to_torch` (see :func:`cvximplicit.torch_bridge.module_to_arrays`)."""
        from .torch_bridge import module_to_arrays

        return cls(**module_to_arrays(module))

    # ------------------------------------------------------------------ misc
    def __repr__(self) -> str:
        return (
            f"ImplicitModel(n={self.n}, p={self.p}, q={self.q}, L={self.L}, activation={self.activation!r}, "
            f"input_bias={self.input_bias})"
        )

