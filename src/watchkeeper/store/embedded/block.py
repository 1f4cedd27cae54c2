"""A block's tenant parts as queries and merges read them, and the decoded-chunk cache they share.

Format 2 parts (`CompressedPart`) decode only the zstd chunks holding the series a query reads
(the layout is in `block_load`'s doc); decoded chunks are kept in the process-wide
`chunk_cache` (`chunk_cache.py`; `wiring.build_store` sizes it).
Format 1 parts (`RawPart`) read raw memory-mapped columns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt

from watchkeeper.runtime import kernels
from watchkeeper.store.embedded import codec
from watchkeeper.store.embedded.chunk_cache import Chunk, chunk_cache
from watchkeeper.store.embedded.head import Samples
from watchkeeper.store.embedded.window import block_rows, copy_ranges

_BATCH_BYTES = 64 * 2**20
"""A read holds at most about this many bytes of decoded chunks at once beyond its result
(chunks the cache already holds excepted): a query over every series of a large merged block
for a short range must not decode the whole block into memory first."""


def empty_samples() -> Samples:
    """No rows: what a read returns when nothing matches."""
    return Samples(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))


@dataclass(frozen=True, eq=False)
class BlockPart(ABC):
    """One tenant's samples in a block."""

    series: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int64]
    min_t: int
    max_t: int

    @property
    def row_count(self) -> int:
        return int(self.offsets[-1]) if len(self.offsets) else 0

    @abstractmethod
    def rows(self, wanted: npt.NDArray[np.int64], start_ms: int, end_ms: int) -> Samples:
        """Rows of the wanted (sorted) series with start_ms <= t <= end_ms, grouped by series."""

    @abstractmethod
    def newest(self) -> Samples:
        """Each series' newest row."""

    @abstractmethod
    def oldest(self) -> Samples:
        """Each series' oldest row."""

    @abstractmethod
    def count_between(self, start_ms: int, end_ms: int) -> int:
        """Samples with start_ms <= t < end_ms."""

    @abstractmethod
    def all_rows(self) -> Samples:
        """Every row with its series id, grouped by series (for merges)."""

    def _series_ids(self) -> npt.NDArray[np.int64]:
        offsets = np.asarray(self.offsets, dtype=np.int64)
        return np.repeat(np.asarray(self.series, dtype=np.int64), offsets[1:] - offsets[:-1])


@dataclass(frozen=True, eq=False)
class RawPart(BlockPart):
    """Format 1: uncompressed memory-mapped columns."""

    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    def rows(self, wanted: npt.NDArray[np.int64], start_ms: int, end_ms: int) -> Samples:
        return block_rows(
            self.series, self.offsets, self.timestamps, self.values, wanted, start_ms, end_ms
        )

    def newest(self) -> Samples:
        last = self.offsets[1:] - 1
        return Samples(self.series.copy(), self.timestamps[last], np.asarray(self.values[last]))

    def oldest(self) -> Samples:
        first = self.offsets[:-1]
        return Samples(self.series.copy(), self.timestamps[first], np.asarray(self.values[first]))

    def count_between(self, start_ms: int, end_ms: int) -> int:
        if self.max_t < start_ms or self.min_t >= end_ms:
            return 0
        ts = self.timestamps
        return int(np.count_nonzero((ts >= start_ms) & (ts < end_ms)))

    def all_rows(self) -> Samples:
        return Samples(self._series_ids(), np.array(self.timestamps), np.array(self.values))


# Columns of `chunks.npy`.
FIRST_ROW, ROWS, TS_START, TS_END, VALUES_START, VALUES_END, MIN_T, MAX_T, LAYOUT = range(9)


@dataclass(frozen=True, eq=False)
class CompressedPart(BlockPart):
    """Format 2: samples in zstd chunks (see `block_load`'s doc and `codec`)."""

    chunks: npt.NDArray[np.int64]
    """One row per chunk, columns FIRST_ROW ... LAYOUT."""
    bounds: npt.NDArray[np.int64]
    """First row of each chunk, then the row count (for searchsorted)."""
    timestamps_file: npt.NDArray[np.uint8]
    values_file: npt.NDArray[np.uint8]
    edges_path: Path
    cache_key: tuple[str, str, str]
    """(block path, block id, tenant): with the chunk index, the chunk's cache key."""

    # -- decoding --------------------------------------------------------------------------

    def _starts(self, index: int) -> npt.NDArray[np.int64]:
        first = int(self.chunks[index, FIRST_ROW])
        return codec.segment_starts(self.offsets, first, first + int(self.chunks[index, ROWS]))

    def _decode_timestamps(
        self, index: int, starts: npt.NDArray[np.int64] | None = None
    ) -> npt.NDArray[np.int64]:
        row = self.chunks[index]
        return codec.decode_timestamps(
            self.timestamps_file[row[TS_START] : row[TS_END]].data,
            int(row[ROWS]),
            int(row[LAYOUT]),
            self._starts(index) if starts is None else starts,
        )

    def _decode(self, index: int) -> Chunk:
        row = self.chunks[index]
        starts = self._starts(index)
        ts = self._decode_timestamps(index, starts)
        values = codec.decode_values(
            self.values_file[row[VALUES_START] : row[VALUES_END]].data,
            int(row[ROWS]),
            int(row[LAYOUT]),
            starts,
        )
        ts.flags.writeable = False
        values.flags.writeable = False
        return ts, values

    def _decoded(self, indices: Sequence[int]) -> list[Chunk]:
        """The chunks, from the cache or decoded (on several threads when there are many)."""
        found: list[Chunk | None] = [chunk_cache.get((*self.cache_key, i)) for i in indices]
        missing = [k for k, chunk in enumerate(found) if chunk is None]
        if missing:
            weights = np.array([self.chunks[indices[k], ROWS] for k in missing], np.int64)

            def decode(first: int, past: int) -> None:
                for k in missing[first:past]:
                    found[k] = self._decode(indices[k])

            kernels.run_split(decode, weights)
            for k in missing:
                chunk = found[k]
                assert chunk is not None
                chunk_cache.put((*self.cache_key, indices[k]), chunk)
        return [chunk for chunk in found if chunk is not None]

    # -- reads -----------------------------------------------------------------------------

    def rows(self, wanted: npt.NDArray[np.int64], start_ms: int, end_ms: int) -> Samples:
        if self.max_t < start_ms or self.min_t > end_ms or not len(wanted):
            return empty_samples()
        wanted = np.ascontiguousarray(wanted, dtype=np.int64)
        series = np.asarray(self.series)
        position = np.searchsorted(series, wanted)
        found = position < len(series)
        found[found] = series[position[found]] == wanted[found]
        at = position[found]
        offsets = np.asarray(self.offsets)
        sids, first, past, chunk = self._pieces(wanted[found], offsets[at], offsets[at + 1])
        in_range = (self.chunks[chunk, MIN_T] <= end_ms) & (self.chunks[chunk, MAX_T] >= start_ms)
        if not in_range.all():
            sids, first, past, chunk = (
                sids[in_range],
                first[in_range],
                past[in_range],
                chunk[in_range],
            )
        if not len(chunk):
            return empty_samples()
        # Pieces follow row order, so each chunk's pieces are one run.
        change = np.flatnonzero(chunk[1:] != chunk[:-1]) + 1
        group_first = np.concatenate(([0], change))
        group_past = np.append(change, len(chunk))
        needed = chunk[group_first]
        decoded_bytes = 16 * self.chunks[needed, ROWS]
        if int(decoded_bytes.sum()) <= _BATCH_BYTES:  # the usual case: one pass
            return self._gather(
                needed.tolist(), group_first, group_past, sids, first, past, start_ms, end_ms
            )
        batches = np.floor_divide(np.cumsum(decoded_bytes) - decoded_bytes, _BATCH_BYTES)
        cuts = np.flatnonzero(np.diff(batches)) + 1
        out = []
        for g0, g1 in zip([0, *cuts.tolist()], [*cuts.tolist(), len(needed)], strict=True):
            p0, p1 = int(group_first[g0]), int(group_past[g1 - 1])
            out.append(
                self._gather(
                    needed[g0:g1].tolist(),
                    group_first[g0:g1] - p0,
                    group_past[g0:g1] - p0,
                    sids[p0:p1],
                    first[p0:p1],
                    past[p0:p1],
                    start_ms,
                    end_ms,
                )
            )
        return Samples(
            np.concatenate([s.series_ids for s in out]),
            np.concatenate([s.timestamps for s in out]),
            np.concatenate([s.values for s in out]),
        )

    def _pieces(
        self,
        sids: npt.NDArray[np.int64],
        first: npt.NDArray[np.int64],
        past: npt.NDArray[np.int64],
    ) -> tuple[
        npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]
    ]:
        """Series row ranges cut at chunk bounds: (series id, first row, past row, chunk) per
        piece, in row order. Only a series longer than a chunk has more than one piece."""
        k1 = np.searchsorted(self.bounds, first, side="right") - 1
        k2 = np.searchsorted(self.bounds, past - 1, side="right") - 1
        span = k2 - k1 + 1
        if not len(span) or int(span.max()) == 1:
            return sids, first, past, k1
        owner = np.repeat(np.arange(len(span)), span)
        chunk = k1[owner] + np.arange(len(owner)) - np.repeat(np.cumsum(span) - span, span)
        return (
            sids[owner],
            np.maximum(first[owner], self.bounds[chunk]),
            np.minimum(past[owner], self.bounds[chunk + 1]),
            chunk,
        )

    def _gather(
        self,
        chunks: list[int],
        group_first: npt.NDArray[np.int64],
        group_past: npt.NDArray[np.int64],
        sids: npt.NDArray[np.int64],
        first: npt.NDArray[np.int64],
        past: npt.NDArray[np.int64],
        start_ms: int,
        end_ms: int,
    ) -> Samples:
        """The window's rows of the pieces, which lie in `chunks` (chunk g holds pieces
        group_first[g]:group_past[g])."""
        decoded = self._decoded(chunks)
        lo = np.empty(len(sids), np.int64)
        hi = np.empty(len(sids), np.int64)
        for g, (ts, _) in enumerate(decoded):
            a, b = int(group_first[g]), int(group_past[g])
            base = self.bounds[chunks[g]]
            lo[a:b], hi[a:b] = _piece_bounds(
                first[a:b] - base, past[a:b] - base, ts, start_ms, end_ms
            )
        lengths = hi - lo
        at = np.zeros(len(lengths), np.int64)
        np.cumsum(lengths[:-1], out=at[1:])
        total = int(lengths.sum())
        ids = np.empty(total, np.int64)
        out_ts = np.empty(total, np.int64)
        out_values = np.empty(total, np.float64)
        weights = np.add.reduceat(lengths, group_first)

        def copy(g0: int, g1: int) -> None:
            for g in range(g0, g1):
                a, b = int(group_first[g]), int(group_past[g])
                ts, values = decoded[g]
                copy_ranges(
                    lo[a:b], hi[a:b], at[a:b], sids[a:b], ts, values, ids, out_ts, out_values
                )

        kernels.run_split(copy, weights, total)
        return Samples(ids, out_ts, out_values)

    def _edges(
        self,
    ) -> tuple[
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
    ]:
        return codec.decode_edges(self.edges_path.read_bytes(), len(self.series))

    def newest(self) -> Samples:
        _, last_ts, _, last_values = self._edges()
        return Samples(np.array(self.series), last_ts, last_values)

    def oldest(self) -> Samples:
        first_ts, _, first_values, _ = self._edges()
        return Samples(np.array(self.series), first_ts, first_values)

    def count_between(self, start_ms: int, end_ms: int) -> int:
        """Whole chunks by their time range; only chunks straddling a bound are decoded."""
        if self.max_t < start_ms or self.min_t >= end_ms:
            return 0
        low, high = self.chunks[:, MIN_T], self.chunks[:, MAX_T]
        inside = (low >= start_ms) & (high < end_ms)
        total = int(self.chunks[inside, ROWS].sum())
        for index in np.flatnonzero(~inside & (high >= start_ms) & (low < end_ms)).tolist():
            cached = chunk_cache.get((*self.cache_key, index))
            ts = cached[0] if cached is not None else self._decode_timestamps(index)
            total += int(np.count_nonzero((ts >= start_ms) & (ts < end_ms)))
        return total

    def all_rows(self) -> Samples:
        """Decoded straight into the result, one chunk at a time per thread, and not cached:
        a merge reads each chunk once, and its blocks are about to be deleted."""
        ts = np.empty(self.row_count, np.int64)
        values = np.empty(self.row_count, np.float64)

        def decode(first: int, past: int) -> None:
            for index in range(first, past):
                chunk = chunk_cache.get((*self.cache_key, index)) or self._decode(index)
                at = int(self.bounds[index])
                ts[at : at + len(chunk[0])] = chunk[0]
                values[at : at + len(chunk[1])] = chunk[1]

        kernels.run_split(decode, np.ascontiguousarray(self.chunks[:, ROWS]))
        return Samples(self._series_ids(), ts, values)


@numba.njit(cache=True, nogil=True)
def _piece_bounds(
    first: npt.NDArray[np.int64],
    past: npt.NDArray[np.int64],
    timestamps: npt.NDArray[np.int64],
    start_ms: int,
    end_ms: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each piece's rows [lo, hi) within [start_ms, end_ms]: rows are time-sorted, so two binary
    searches bound the window."""
    lo = np.empty(len(first), np.int64)
    hi = np.empty(len(first), np.int64)
    for i in range(len(first)):
        a, b = first[i], past[i]
        lo[i] = a + np.searchsorted(timestamps[a:b], start_ms)
        hi[i] = a + np.searchsorted(timestamps[a:b], end_ms, side="right")
    return lo, hi
