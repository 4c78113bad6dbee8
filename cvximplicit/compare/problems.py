"""The block problems of ``cvximplicit compare``: named ones and a researcher's own ``.npz`` block."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import DataError, ValidationError
from ..solvers.relu.arrangements import DEFAULT_N_PATTERNS, PatternSet, resolve_patterns

#: The named block problems, in the order ``cvximplicit compare`` runs them by default.
PROBLEMS = ("exact-1d", "sampled-d50", "wide")

#: Solver → how its own time limit is set (``solver_opts`` key, or a function of the limit).
TIME_LIMIT_OPTIONS = {
    "CLARABEL": lambda s: {"time_limit": s},
    "SCS": lambda s: {"time_limit_secs": s},
    "MOSEK": lambda s: {"mosek_params": {"MSK_DPAR_OPTIMIZER_MAX_TIME": s}},
    "FISTA": lambda s: {"time_limit_s": s},
    "ADMM": lambda s: {"time_limit_s": s},
    "ACTIVE_SET": lambda s: {"time_limit_s": s},
}


@dataclass(frozen=True, eq=False)
class BlockProblem:
    """One block of program (12): ``M`` ``(m, d)`` and ``Y`` ``(m, q)``, rows are samples.

    ``patterns`` is ``"auto"``, ``"exact"``, ``"sampled"`` (``n_patterns`` seeded Gaussian
    gates, duplicates removed) or an ``(m, P)`` bool array; ``beta`` is β > 0.
    :attr:`pattern_set` holds the patterns the solvers get (the same for every solver), so
    :attr:`shape` states the pattern count actually used, and :attr:`beta_max` the β from which
    the zero network is optimal.
    """

    name: str
    M: np.ndarray
    Y: np.ndarray
    patterns: Any = "sampled"
    n_patterns: int = DEFAULT_N_PATTERNS
    beta: float = 1.0
    seed: int = 0
    description: str = ""
    info: dict = field(default_factory=dict)

    @cached_property
    def pattern_set(self) -> PatternSet:
        """The patterns as :func:`~cvximplicit.solvers.solve_convex_relu` resolves them for this block."""
        return resolve_patterns(np.asarray(self.M, dtype=float), self.patterns, self.n_patterns, self.seed)

    @cached_property
    def beta_max(self) -> float:
        """:func:`~cvximplicit.solvers.beta_max` of the block on its patterns."""
        from ..solvers import beta_max

        return beta_max(self.M, self.Y, self.pattern_set.patterns, bias=False)

    @property
    def beta_ratio(self) -> float:
        """``β / β_max`` (``inf`` when ``β_max = 0``: ``Y`` is orthogonal to every ``D_k M``)."""
        return self.beta / self.beta_max if self.beta_max > 0 else float("inf")

    def with_beta(self, *, beta: float | None = None, beta_ratio: float | None = None) -> BlockProblem:
        """The same block at ``beta``, or at ``beta_ratio · β_max`` (at most one of them; neither: unchanged).

        Raises
        ------
        ValidationError
            Both given, or a value that is not a positive finite number.
        """
        if beta is not None and beta_ratio is not None:
            raise ValidationError("give beta or beta_ratio, not both")
        for key, value in (("beta", beta), ("beta_ratio", beta_ratio)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not 0 < value < float("inf")):
                raise ValidationError(f"{key} must be a positive finite number; got {key}={value!r}")
        if beta_ratio is not None:
            beta = beta_ratio * self.beta_max
        return self if beta is None else replace(self, beta=float(beta))

    @property
    def shape(self) -> str:
        pats = self.pattern_set
        P = pats.patterns.shape[1]
        every = " (every arrangement)" if pats.all_arrangements else ""
        q = 1 if self.Y.ndim == 1 else self.Y.shape[1]
        return f"m={self.M.shape[0]}, d={self.M.shape[1]}, q={q}, P={P}{every}"

    @property
    def beta_text(self) -> str:
        """``β = 1 = 0.023 β_max``, and a note when ``β ≥ β_max`` (the zero network is then optimal)."""
        text = f"β = {self.beta:.6g} = {self.beta_ratio:.3g} β_max"
        return text + (" (β ≥ β_max: the zero network is optimal)" if self.beta_ratio >= 1 else "")


def make_problem(name: str, *, seed: int = 0) -> BlockProblem:
    """The named block problem ``name`` (one of :data:`PROBLEMS`), its data seeded by ``seed``.

    Raises
    ------
    ValidationError
        If ``name`` is not one of :data:`PROBLEMS`.
    """
    rng = np.random.default_rng(seed)
    if name == "exact-1d":
        from ..datasets import make_smooth

        data = make_smooth(n_train=500, seed=seed)
        u = data.inputs_train[:, 0]
        return BlockProblem(name, np.c_[u, np.ones_like(u)], data.targets_train, "exact", beta=1.0, seed=seed,
                            description="smooth task block 1, M = [u, 1], all arrangements")
    if name == "sampled-d50":
        m, d = 2000, 50
        X = rng.standard_normal((m, 10))
        H = np.maximum(X @ rng.standard_normal((10, d - 1)) / np.sqrt(10), 0.0)  # a previous ReLU layer
        y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.1 * rng.standard_normal(m)
        return BlockProblem(name, np.c_[H, np.ones(m)], y, "sampled", n_patterns=50, beta=1.0, seed=seed,
                            description="49 ReLU features of a random layer plus bias, 50 sampled patterns")
    if name == "wide":
        m, d = 500, 400
        pixels = (rng.random((m, d)) < 0.2) * rng.random((m, d))
        scores = pixels @ rng.standard_normal((d, 2)) / np.sqrt(d)
        Y = scores - scores.mean(axis=0)
        return BlockProblem(name, np.c_[pixels, np.ones(m)], Y, "sampled", n_patterns=20, beta=1.0, seed=seed,
                            description="400 sparse non-negative inputs plus bias, 2 outputs, 20 sampled patterns")
    raise ValidationError(f"problem must be one of {PROBLEMS} or an .npz block file; got {name!r}")


def load_problem(path, *, beta: float | None = None, n_patterns: int = DEFAULT_N_PATTERNS,
                 seed: int = 0) -> BlockProblem:
    """A block problem from an ``.npz`` file with ``M``, ``Y`` and optional ``patterns``, ``beta``.

    ``beta`` overrides the file's β (default 1.0 when the file has none;
    :meth:`BlockProblem.with_beta` sets a ratio of β_max instead);
    without ``patterns`` in the file, ``n_patterns`` Gaussian gates are sampled
    (``"auto"`` mode: all arrangements when ``M`` is one input plus a constant).

    Raises
    ------
    DataError
        If the file is missing, not an ``.npz`` archive, or lacks ``M``/``Y``.
    ValidationError
        If ``M`` or ``Y`` is not a finite real array (complex and string data are
        refused), or their shapes are inconsistent.
    """
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no block file at {path}")
    with open(path, "rb") as fh:
        head = fh.read(6)
    if head == b"\x93NUMPY":
        raise DataError(f"{path} is a .npy array, not an .npz block file with arrays M and Y")
    if not head.startswith(b"PK"):
        raise DataError(f"{path} is not an .npz archive; a block file is an .npz with arrays M and Y "
                        "(numpy.savez(path, M=M, Y=Y))")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, KeyError, AttributeError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read {path} as an .npz block file ({type(exc).__name__}: {exc})") from exc
    missing = [k for k in ("M", "Y") if k not in arrays]
    if missing:
        raise DataError(f"{path} lacks {missing}; a block file holds M (m x d, rows are samples), Y (m or m x q), "
                        f"optional patterns (m x P bool) and beta; it holds {sorted(arrays)}")
    from .._validation import as_real_array

    M = as_real_array(arrays["M"], f"{path}: M", ndim=2)  # complex, strings, NaN/inf refused here
    Y = as_real_array(arrays["Y"], f"{path}: Y", ndim=(1, 2))
    if Y.shape[0] != M.shape[0]:
        raise ValidationError(f"{path}: M must be (m, d) and Y (m,) or (m, q) with the same m; got M{M.shape}, "
                              f"Y{Y.shape}")
    file_beta = float(arrays["beta"]) if "beta" in arrays else 1.0
    patterns = arrays["patterns"].astype(bool) if "patterns" in arrays else "auto"
    return BlockProblem(path.stem, M, Y, patterns, n_patterns=n_patterns,
                        beta=file_beta if beta is None else float(beta), seed=seed,
                        description=f"block file {path}")


def default_solvers() -> list[str]:
    """The solvers compared by default.

    :func:`~cvximplicit.solvers.available_solvers` that accept second-order
    cones (program (12) has group norms; LP/QP-only solvers such as OSQP,
    HiGHS or SciPy can only fail on it), without ``ECOS_BB`` (ECOS's
    branch-and-bound wrapper: on a program without integer variables it runs
    ECOS itself), plus our engines where :func:`~cvximplicit.solvers.check_solver` accepts them:
    ``"ACTIVE_SET"`` (what ``solver="auto"`` runs on a plain program), ``"FISTA"`` and ``"ADMM"``.
    Any other installed solver can still be named.
    """
    from ..exceptions import SolverUnavailableError
    from ..solvers import available_solvers, check_solver

    names = [s for s in available_solvers() if s != "ECOS_BB" and _supports_soc(s)]
    for engine in ("ACTIVE_SET", "FISTA", "ADMM"):
        try:
            names.append(check_solver(engine))
        except SolverUnavailableError:  # not a solver name here, or its engine is not installed
            pass
    return names


def _supports_soc(name: str) -> bool:
    try:
        import cvxpy as cp
        from cvxpy.reductions.solvers.defines import SOLVER_MAP_CONIC
    except ImportError:  # pragma: no cover - cvxpy is a dependency; its internals may move
        return True
    solver = SOLVER_MAP_CONIC.get(name)
    return solver is not None and cp.SOC in getattr(solver, "SUPPORTED_CONSTRAINTS", [cp.SOC])


