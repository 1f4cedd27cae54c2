"""Immutable blocks: the head's samples, sorted by series then time, compressed in chunks.

Layout of `blocks/<number>/`: `meta.json` (format, a unique id, the last WAL segment the block
covers, and each tenant's time range) and one folder per tenant (hex of its id) with
`series.npy` (sorted series ids) and `offsets.npy` (row range of each series), both
memory-mapped, then the samples compressed by `codec` (format 2):
- `timestamps.zst`, `values.zst`: one zstd frame per chunk of ~64k rows (cut at series
  boundaries), memory-mapped; a query decodes only the chunks holding the series it reads;
- `chunks.npy`: per chunk its first row, row count, byte ranges in both files, time range and
  layout flags (read whole on open: 72 bytes per chunk);
- `edges.zst`: each series' first and last sample, so that opening the store does not decode
  every chunk to rebuild per-series state.
Decoded chunks are kept in a process-wide LRU cache bounded in bytes (`chunk_cache`), keyed
by block path, the block's unique id (a block rewritten at the same path by a merge never sees
the old block's entries), tenant and chunk.

Format 1 (blocks written before compression; no `format` in meta.json) has raw `.npy`
columns `timestamps.npy` and `values.npy` instead; it is still read, merged and downsampled.

A block is written under `<number>.tmp` (every file and the folders fsynced) and renamed into
place, so it either exists whole or not at all.

Merged (and downsampled) blocks replace several older ones: the new block is written whole as
`<number>.merge` (its meta lists the blocks it `replaces`), then the old folders are removed and
it is renamed to `<number>`. `resolve_merges` finishes that after a crash at any step: a
complete `.merge` folder holds everything its old blocks held.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt
import zstandard

from watchkeeper.runtime import kernels
from watchkeeper.store.embedded import codec
from watchkeeper.store.embedded.head import Samples
from watchkeeper.store.embedded.wal import fsync_directory
from watchkeeper.store.embedded.window import block_rows, copy_ranges

FORMAT = 2
"""Written by this version; 1 = raw columns (no `format` key), still readable."""

_RAW_COLUMNS = ("series", "offsets", "timestamps", "values")

CHUNK_CACHE_BYTES = 256 * 2**20
"""Default bound of the decoded-chunk cache: 16 B per sample, so 256 MiB holds ~16 M samples
(the hot recent blocks of a mid-sized install). Set from `storage.chunk_cache_mb` when the store is built (`wiring.build_store`)."""

_BATCH_BYTES = 64 * 2**20
"""A read holds at most about this many bytes of decoded chunks at once beyond its result
(chunks the cache already holds excepted): a query over every series of a large merged block
for a short range must not decode the whole block into memory first."""

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


chunk_cache = ChunkCache(CHUNK_CACHE_BYTES)


def _empty() -> Samples:
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
_FIRST_ROW, _ROWS, _TS_START, _TS_END, _VALUES_START, _VALUES_END, _MIN_T, _MAX_T, _LAYOUT = range(
    9
)


@dataclass(frozen=True, eq=False)
class CompressedPart(BlockPart):
    """Format 2: samples in zstd chunks (see the module doc and `codec`)."""

    chunks: npt.NDArray[np.int64]
    """One row per chunk, columns _FIRST_ROW ... _LAYOUT."""
    bounds: npt.NDArray[np.int64]
    """First row of each chunk, then the row count (for searchsorted)."""
    timestamps_file: npt.NDArray[np.uint8]
    values_file: npt.NDArray[np.uint8]
    edges_path: Path
    cache_key: tuple[str, str, str]
    """(block path, block id, tenant): with the chunk index, the chunk's cache key."""

    # -- decoding --------------------------------------------------------------------------

    def _starts(self, index: int) -> npt.NDArray[np.int64]:
        first = int(self.chunks[index, _FIRST_ROW])
        return codec.segment_starts(self.offsets, first, first + int(self.chunks[index, _ROWS]))

    def _decode_timestamps(
        self, index: int, starts: npt.NDArray[np.int64] | None = None
    ) -> npt.NDArray[np.int64]:
        row = self.chunks[index]
        return codec.decode_timestamps(
            self.timestamps_file[row[_TS_START] : row[_TS_END]].data,
            int(row[_ROWS]),
            int(row[_LAYOUT]),
            self._starts(index) if starts is None else starts,
        )

    def _decode(self, index: int) -> Chunk:
        row = self.chunks[index]
        starts = self._starts(index)
        ts = self._decode_timestamps(index, starts)
        values = codec.decode_values(
            self.values_file[row[_VALUES_START] : row[_VALUES_END]].data,
            int(row[_ROWS]),
            int(row[_LAYOUT]),
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
            weights = np.array([self.chunks[indices[k], _ROWS] for k in missing], np.int64)

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
            return _empty()
        wanted = np.ascontiguousarray(wanted, dtype=np.int64)
        series = np.asarray(self.series)
        position = np.searchsorted(series, wanted)
        found = position < len(series)
        found[found] = series[position[found]] == wanted[found]
        at = position[found]
        offsets = np.asarray(self.offsets)
        sids, first, past, chunk = self._pieces(wanted[found], offsets[at], offsets[at + 1])
        in_range = (self.chunks[chunk, _MIN_T] <= end_ms) & (self.chunks[chunk, _MAX_T] >= start_ms)
        if not in_range.all():
            sids, first, past, chunk = (
                sids[in_range],
                first[in_range],
                past[in_range],
                chunk[in_range],
            )
        if not len(chunk):
            return _empty()
        # Pieces follow row order, so each chunk's pieces are one run.
        change = np.flatnonzero(chunk[1:] != chunk[:-1]) + 1
        group_first = np.concatenate(([0], change))
        group_past = np.append(change, len(chunk))
        needed = chunk[group_first]
        decoded_bytes = 16 * self.chunks[needed, _ROWS]
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
        low, high = self.chunks[:, _MIN_T], self.chunks[:, _MAX_T]
        inside = (low >= start_ms) & (high < end_ms)
        total = int(self.chunks[inside, _ROWS].sum())
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

        kernels.run_split(decode, np.ascontiguousarray(self.chunks[:, _ROWS]))
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


@dataclass(frozen=True)
class Block:
    number: int
    path: Path
    parts: dict[str, BlockPart]
    resolution_ms: int = 0
    """0: raw samples; else at most one sample per series in each bucket of this size."""

    @property
    def max_t(self) -> int:
        return max((p.max_t for p in self.parts.values()), default=np.iinfo(np.int64).min)

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


def _tenant_folder(tenant_id: str) -> str:
    return tenant_id.encode().hex() or "_"


def write_block(
    directory: Path,
    number: int,
    tenants: dict[str, Samples],
    *,
    resolution_ms: int = 0,
    replaces: Sequence[int] = (),
) -> Block:
    """Sort each tenant's rows by series (stable: time order within a series is kept), persist.

    With `replaces`, the block is a merge: written as `<number>.merge` (see the module doc).
    """
    name = f"{number:08d}.merge" if replaces else f"{number:08d}"
    final = directory / name
    tmp = directory / f"{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    meta: dict[str, object] = {
        "format": FORMAT,
        "id": uuid.uuid4().hex,
        "wal_upto": number,
        "tenants": {},
        "resolution_ms": resolution_ms,
        "replaces": list(replaces),
    }
    tenant_meta: dict[str, dict[str, int | str]] = {}
    cctx = zstandard.ZstdCompressor(level=codec.ZSTD_LEVEL)
    for tenant_id, rows in tenants.items():
        if not len(rows):
            continue
        order = np.argsort(rows.series_ids, kind="stable")
        sids = rows.series_ids[order]
        series, first = np.unique(sids, return_index=True)
        offsets = np.append(first, len(sids)).astype(np.int64)
        folder = tmp / _tenant_folder(tenant_id)
        folder.mkdir()
        _write_part(
            folder,
            cctx,
            series.astype(np.int64),
            offsets,
            np.ascontiguousarray(rows.timestamps[order], dtype=np.int64),
            np.ascontiguousarray(rows.values[order], dtype=np.float64),
        )
        tenant_meta[tenant_id] = {
            "folder": folder.name,
            "min_t": int(rows.timestamps.min()),
            "max_t": int(rows.timestamps.max()),
        }
    meta["tenants"] = tenant_meta
    with (tmp / "meta.json").open("w") as file:
        json.dump(meta, file)
        file.flush()
        os.fsync(file.fileno())
    fsync_directory(tmp)
    tmp.rename(final)
    fsync_directory(directory)
    return load_block(final)


def _write_part(
    folder: Path,
    cctx: zstandard.ZstdCompressor,
    series: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    timestamps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
) -> None:
    """One tenant's sorted rows as format-2 files, each fsynced, then the folder."""
    bounds = codec.chunk_bounds(offsets)
    table = np.empty((len(bounds) - 1, 9), np.int64)
    with (
        (folder / "timestamps.zst").open("wb") as ts_file,
        (folder / "values.zst").open("wb") as values_file,
    ):
        ts_at = values_at = 0
        for index in range(len(bounds) - 1):
            first, past = int(bounds[index]), int(bounds[index + 1])
            chunk = codec.encode_chunk(
                cctx,
                first,
                timestamps[first:past],
                values[first:past],
                codec.segment_starts(offsets, first, past),
            )
            ts_file.write(chunk.timestamps)
            values_file.write(chunk.values)
            table[index] = (
                first,
                chunk.rows,
                ts_at,
                ts_at + len(chunk.timestamps),
                values_at,
                values_at + len(chunk.values),
                chunk.min_t,
                chunk.max_t,
                chunk.layout,
            )
            ts_at += len(chunk.timestamps)
            values_at += len(chunk.values)
        for file in (ts_file, values_file):
            file.flush()
            os.fsync(file.fileno())
    first_rows, last_rows = offsets[:-1], offsets[1:] - 1
    edges = codec.encode_edges(
        cctx, timestamps[first_rows], timestamps[last_rows], values[first_rows], values[last_rows]
    )
    with (folder / "edges.zst").open("wb") as file:
        file.write(edges)
        file.flush()
        os.fsync(file.fileno())
    for name, column in (("series", series), ("offsets", offsets), ("chunks", table)):
        with (folder / f"{name}.npy").open("wb") as file:
            np.save(file, column)
            file.flush()
            os.fsync(file.fileno())
    fsync_directory(folder)


def load_block(path: Path) -> Block:
    meta_path = path / "meta.json"
    meta = json.loads(meta_path.read_text())
    block_format = int(meta.get("format", 1))
    if block_format > FORMAT:
        raise RuntimeError(f"{path}: block format {block_format} is newer than this version's")
    block_id = meta.get("id")
    if not block_id:  # format 1: not cached, but make the key unique anyway
        stat = meta_path.stat()
        block_id = f"{stat.st_ino}-{stat.st_mtime_ns}"
    parts: dict[str, BlockPart] = {}
    for tenant_id, info in meta["tenants"].items():
        folder = path / info["folder"]
        if block_format == 1:
            columns = {
                name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _RAW_COLUMNS
            }
            parts[tenant_id] = RawPart(
                series=np.asarray(columns["series"]),
                offsets=np.asarray(columns["offsets"]),
                min_t=int(info["min_t"]),
                max_t=int(info["max_t"]),
                timestamps=columns["timestamps"],
                values=columns["values"],
            )
            continue
        offsets = np.asarray(np.load(folder / "offsets.npy", mmap_mode="r"))
        chunks = np.load(folder / "chunks.npy")
        parts[tenant_id] = CompressedPart(
            series=np.asarray(np.load(folder / "series.npy", mmap_mode="r")),
            offsets=offsets,
            min_t=int(info["min_t"]),
            max_t=int(info["max_t"]),
            chunks=chunks,
            bounds=np.append(chunks[:, _FIRST_ROW], offsets[-1]).astype(np.int64),
            timestamps_file=np.memmap(folder / "timestamps.zst", dtype=np.uint8, mode="r"),
            values_file=np.memmap(folder / "values.zst", dtype=np.uint8, mode="r"),
            edges_path=folder / "edges.zst",
            cache_key=(str(path), str(block_id), tenant_id),
        )
    return Block(
        number=int(meta["wal_upto"]),
        path=path,
        parts=parts,
        resolution_ms=int(meta.get("resolution_ms", 0)),
    )


def drop_tenant(block: Block, tenant_id: str) -> Block:
    """`block` without `tenant_id`'s part (its retention expired it): meta.json is replaced
    first (atomically), then the folder removed, so a crash leaves at most an orphan folder
    that nothing reads."""
    meta_path = block.path / "meta.json"
    meta = json.loads(meta_path.read_text())
    info = meta["tenants"].pop(tenant_id, None)
    if info is None:
        return block
    tmp = block.path / "meta.json.tmp"
    with tmp.open("w") as file:
        json.dump(meta, file)
        file.flush()
        os.fsync(file.fileno())
    tmp.replace(meta_path)
    fsync_directory(block.path)
    shutil.rmtree(block.path / info["folder"], ignore_errors=True)
    parts = {t: p for t, p in block.parts.items() if t != tenant_id}
    return Block(block.number, block.path, parts, block.resolution_ms)


def resolve_merges(directory: Path) -> None:
    """Finish merges a crash interrupted: a complete `<n>.merge` replaces its old blocks."""
    for entry in sorted(directory.iterdir()):
        if not entry.name.endswith(".merge"):
            continue
        meta = json.loads((entry / "meta.json").read_text())
        for old in meta.get("replaces", []):
            shutil.rmtree(directory / f"{int(old):08d}", ignore_errors=True)
        fsync_directory(directory)
        entry.rename(directory / entry.name.removesuffix(".merge"))
        fsync_directory(directory)


def finish_merge(directory: Path, merged: Block, replaced: Sequence[Block]) -> Block:
    """Remove the replaced blocks' folders and move the merged block into place."""
    for block in replaced:
        shutil.rmtree(block.path, ignore_errors=True)
    fsync_directory(directory)
    final = directory / f"{merged.number:08d}"
    merged.path.rename(final)
    fsync_directory(directory)
    return load_block(final)


def merge_rows(blocks: Sequence[Block], tenant_id: str, cutoff_ms: int) -> Samples:
    """One tenant's rows of several blocks (oldest first, either format), at or after
    cutoff_ms."""
    parts = [b.parts[tenant_id].all_rows() for b in blocks if tenant_id in b.parts]
    if not parts:
        return _empty()
    rows = Samples(
        np.concatenate([p.series_ids for p in parts]),
        np.concatenate([p.timestamps for p in parts]),
        np.concatenate([p.values for p in parts]),
    )
    keep = rows.timestamps >= cutoff_ms
    return Samples(rows.series_ids[keep], rows.timestamps[keep], rows.values[keep])


def downsample(rows: Samples, resolution_ms: int) -> Samples:
    """The last sample of each series in each `resolution_ms` bucket (time order kept).

    As VictoriaMetrics' downsampling: queries read the sparser samples like any others, so
    `rate()` and `*_over_time()` work unchanged on windows of at least two buckets.
    """
    if resolution_ms <= 0 or not len(rows):
        return rows
    order = np.lexsort((rows.timestamps, rows.series_ids))
    sids, ts, vals = rows.series_ids[order], rows.timestamps[order], rows.values[order]
    bucket = np.floor_divide(ts, resolution_ms)
    last = np.ones(len(ts), dtype=np.bool_)
    last[:-1] = (sids[1:] != sids[:-1]) | (bucket[1:] != bucket[:-1])
    return Samples(sids[last], ts[last], vals[last])


def block_numbers(directory: Path) -> list[int]:
    """Complete blocks, oldest first; half-written `.tmp` folders are removed."""
    numbers = []
    for entry in directory.iterdir():
        if entry.name.endswith(".tmp"):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.isdigit():
            numbers.append(int(entry.name))
    return sorted(numbers)
