"""Data for the experiments of Section V: synthetic regression tasks and MNIST / Fashion-MNIST.

Every loader and generator returns a :class:`Dataset` whose arrays hold **one
sample per row** (transpose to the paper's ``U ∈ R^{p×m}``).

- :func:`make_smooth`, :func:`make_nonsmooth` — the 1-D regression tasks
  (eq. (14) and a sawtooth), generated in code from a seed.
- :func:`load_mnist`, :func:`load_fashion_mnist` — IDX files (raw or ``.gz``)
  from a directory, verified by SHA-256; images as ``float32`` in ``[0, 1]``.
- :func:`read_idx`, :func:`write_idx` — the IDX file format.
- :func:`load_tabular`, :func:`read_inputs` — a researcher's own ``.csv`` / ``.npz``
  data (classification or regression decided from the target).
"""

from ._dataset import Dataset
from .idx import read_idx, write_idx
from .mnist import load_fashion_mnist, load_mnist
from .synthetic import f_nonsmooth, f_smooth, make_nonsmooth, make_smooth
from .tabular import infer_task, load_tabular, read_inputs

__all__ = [
    "Dataset",
    "make_smooth",
    "make_nonsmooth",
    "f_smooth",
    "f_nonsmooth",
    "read_idx",
    "write_idx",
    "load_mnist",
    "load_fashion_mnist",
    "load_tabular",
    "read_inputs",
    "infer_task",
]
