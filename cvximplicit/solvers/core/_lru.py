"""A small least-recently-used cache and content digests: compiled cvxpy problems, the ADMM engine's operators."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any, Callable, Hashable

import numpy as np

__all__ = ["LRUCache", "digest"]


class LRUCache:
    """``get(key, build)``: the cached value of ``key``, built by ``build()`` on a miss; at most ``size`` entries."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()

    def clear(self) -> None:
        self._items.clear()

    def get(self, key: Hashable, build: Callable[[], Any]) -> tuple[Any, bool]:
        """``(value, hit)``."""
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key], True
        value = build()
        self._items[key] = value
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return value, False


def digest(*arrays) -> str:
    """A content hash of arrays (shape, dtype and bytes): a cache key for data-dependent problems."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.shape, a.dtype)).encode())
        h.update(a.view(np.uint8).reshape(-1) if a.size else b"")  # no copy of a large M
    return h.hexdigest()
