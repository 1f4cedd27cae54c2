"""An LRU of decoded chunks bounded by their bytes, so hot blocks are not decoded on every read.

Entries are keyed by block path, the block's unique id (a block rewritten at the same path by a
merge never sees the old block's entries), tenant and chunk; the process-wide instance
is `chunk_cache` below.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np
import numpy.typing as npt

_CHUNK_OVERHEAD = 256  # bytes of bookkeeping per cache entry, counted against the bound

Chunk = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]
"""A decoded chunk's timestamps and values (read-only: shared through the cache)."""


class ChunkCache:
    """LRU of decoded chunks, bounded by their bytes; thread-safe (queries run in threads).

    Two threads missing the same chunk may both decode it; the second insert is dropped.
    That costs a rare duplicate decode instead of a lock held while decoding.
    """

    def __init__(self, max_bytes: int) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[Chunk, int]] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes
        self.hits = 0
        self.misses = 0

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Chunk | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: Hashable, chunk: Chunk) -> None:
        size = chunk[0].nbytes + chunk[1].nbytes + _CHUNK_OVERHEAD
        with self._lock:
            if size > self._max_bytes or key in self._entries:
                return
            self._entries[key] = (chunk, size)
            self._bytes += size
            self._evict()

    def resize(self, max_bytes: int) -> None:
        with self._lock:
            self._max_bytes = max_bytes
            self._evict()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _evict(self) -> None:
        while self._bytes > self._max_bytes:
            _, (_, size) = self._entries.popitem(last=False)
            self._bytes -= size


CHUNK_CACHE_BYTES = 256 * 2**20
"""Default bound of the decoded-chunk cache: 16 B per sample, so 256 MiB holds ~16 M samples
(the hot recent blocks of a mid-sized install). Set from `storage.chunk_cache_mb` when the
store is built (`wiring.build_store`)."""

chunk_cache = ChunkCache(CHUNK_CACHE_BYTES)
