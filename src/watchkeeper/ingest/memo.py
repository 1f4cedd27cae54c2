"""A cache bounded by bytes, for the ingest path's memos (label bytes -> Labels, valid sets).

Every memo a caller's input can fill must be bounded by what it holds, not by how many
entries: a bound of a million entries is a few hundred megabytes of ordinary series, but
terabytes of 50 MB labels. Each entry is charged an estimate of its size; an entry larger
than `max_entry_bytes` is never kept, and the oldest entries go first when the total would
pass `max_bytes` (insertion order: cheaper than LRU bookkeeping on every hit, and a series
that keeps coming is put back at once).

    >>> memo = BoundedMemo[str, int](max_bytes=1000, max_entry_bytes=100)
    >>> memo.put("a", 1, size=60)
    True
    >>> memo.put("b", 2, size=500)  # too large for one entry: not kept
    False
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from watchkeeper.domain.series import Labels

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_PAIR_OVERHEAD = 2 * sys.getsizeof("") + sys.getsizeof(("", "")) + 8
_TUPLE_OVERHEAD = sys.getsizeof(()) + 64  # with the dict slot that holds it


def labels_bytes(labels: Labels) -> int:
    """What a label set costs in memory, roughly (strings, tuples, the slot that keeps it)."""
    return _TUPLE_OVERHEAD + sum(_PAIR_OVERHEAD + len(n) + len(v) for n, v in labels)


class BoundedMemo(Generic[K, V]):
    """Key -> value, at most `max_bytes` in all and `max_entry_bytes` per entry; thread-safe."""

    def __init__(self, *, max_bytes: int, max_entry_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        found = self._entries.get(key)
        return None if found is None else found[0]

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def put(self, key: K, value: V, *, size: int) -> bool:
        """Keep `value` under `key`; False (and nothing kept) when the entry alone is too big."""
        if size > self.max_entry_bytes or size > self.max_bytes:
            return False
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            while self._entries and self._bytes + size > self.max_bytes:
                self._bytes -= self._entries.popitem(last=False)[1][1]
            self._entries[key] = (value, size)
            self._bytes += size
        return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def bytes(self) -> int:
        """The estimated size of everything held now (never more than `max_bytes`)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
