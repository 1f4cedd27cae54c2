"""Compression of block columns: delta-of-delta timestamps, XOR values, byte shuffle, zstd.

A part's rows (sorted by series, then time) are cut into chunks of about `CHUNK_ROWS` rows at
series boundaries, so that a query decompresses only the chunks holding the series it reads.
A series longer than the target is cut inside; every chain below restarts at each chunk start,
so a chunk decodes on its own.

Timestamps: within a series, scrapes are regular, so the difference of consecutive differences
is almost always 0. The first row of a series stores its timestamp minus the previous series'
first timestamp (series of one scrape job start within milliseconds of each other). Each word
is zigzag-mapped (small negatives become small positives instead of 0xff... runs).

Values: each float64's bits XOR the previous value of the same series (the first value of a
series is kept whole): equal values give 0, close ones share sign, exponent and the leading
mantissa bits, which become zero bytes.

The 8-byte words are then stored either byte-shuffled (byte k of every word together, so the
runs of zero high bytes compress to nothing) or in plain order, whichever zstd compresses
smaller: shuffling wins on integer-valued gauges (byte counts) but loses on decimal counters
such as `node_cpu_seconds_total` (12345.67), whose mantissas repeat a short binary period that
zstd's match finder only sees while each word's bytes stay together (measured on
bench/workload.py's series: 3.0 vs 4.0 B/sample for gauges, 5.7 vs 4.0 for counters). Both orders decode at the same speed; a flag per chunk records the choice.

Everything is mod 2**64 arithmetic on the raw bits, so every float64 (NaN payloads, the
staleness marker, ±Inf, -0.0) and every int64 timestamp round-trips exactly. The per-row
loops are compiled (numba, nogil), never Python per sample.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt
import zstandard

CHUNK_ROWS = 65_536
"""Target rows per chunk: 1 MiB decoded, ~1 ms to decode; small enough that a query for a few
series decodes little, large enough that zstd sees the repeats and per-chunk overhead is nil."""

ZSTD_LEVEL = 6
"""On bench/workload.py's series (values; timestamps are ~0.001 B/sample at any level): level 3
gives 4.15 B/sample, 6 gives 3.80 at twice the compression time (~0.13 s per million rows, in
the background compaction), 9-12 gain under 1 % and take 2-4x longer. Decompression speed
hardly depends on the level."""

TIMESTAMPS_SHUFFLED = 1
VALUES_SHUFFLED = 2
"""Bits of a chunk's `layout` flag: which of its two streams is byte-shuffled."""

_local = threading.local()


def _decompressor() -> zstandard.ZstdDecompressor:
    """One decompression context per thread: a context must not be used by two threads at once,
    and queries decode chunks on several threads."""
    dctx: zstandard.ZstdDecompressor | None = getattr(_local, "dctx", None)
    if dctx is None:
        dctx = _local.dctx = zstandard.ZstdDecompressor()
    return dctx


@dataclass(frozen=True)
class EncodedChunk:
    """One chunk's compressed streams (zstd frames) and what a reader needs to skip it."""

    first_row: int
    rows: int
    timestamps: bytes
    values: bytes
    layout: int
    min_t: int
    max_t: int


def chunk_bounds(
    offsets: npt.NDArray[np.int64], target: int | None = None
) -> npt.NDArray[np.int64]:
    """First row of each chunk, then the row count: cuts fall at series boundaries, except
    inside a series longer than `target` (default `CHUNK_ROWS`), which is cut every `target`
    rows."""
    target = CHUNK_ROWS if target is None else target
    if target < 1:
        raise ValueError("chunk target must be at least one row")
    return _chunk_bounds(np.ascontiguousarray(offsets, dtype=np.int64), target)


@numba.njit(cache=True, nogil=True)
def _chunk_bounds(offsets: npt.NDArray[np.int64], target: int) -> npt.NDArray[np.int64]:
    n_series = len(offsets) - 1
    total = offsets[n_series]
    out = np.empty(n_series + total // target + 2, np.int64)
    out[0] = 0
    k = 0
    start = 0  # first row of the open chunk
    for i in range(n_series):
        first, past = offsets[i], offsets[i + 1]
        if past - start <= target:
            continue
        if first > start:  # close the open chunk before this series
            k += 1
            out[k] = first
            start = first
        while past - start > target:  # a series longer than the target on its own
            start += target
            k += 1
            out[k] = start
    if total > start:
        k += 1
        out[k] = total
    return out[: k + 1].copy()


def segment_starts(offsets: npt.NDArray[np.int64], first: int, past: int) -> npt.NDArray[np.int64]:
    """Rows (relative to `first`) where a delta chain restarts in chunk [first, past): its first
    row and each series start inside it."""
    inner_first = int(np.searchsorted(offsets, first, side="right"))
    inner_past = int(np.searchsorted(offsets, past, side="left"))
    starts = np.empty(1 + max(0, inner_past - inner_first), np.int64)
    starts[0] = 0
    starts[1:] = np.asarray(offsets[inner_first:inner_past], dtype=np.int64) - first
    return starts


# -- compiled per-row transforms --------------------------------------------------------------
# All arithmetic is on uint64 so it wraps; mixing int64 and uint64 in numba promotes to float.


@numba.njit(cache=True, nogil=True)
def _timestamp_words(
    ts: npt.NDArray[np.uint64], starts: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint64]:
    one, sign_shift = np.uint64(1), np.uint64(63)
    zero = np.uint64(0)
    out = np.empty(len(ts), np.uint64)
    prev_first = zero
    prev = zero
    delta = zero
    s = 0
    for r in range(len(ts)):
        t = ts[r]
        if s < len(starts) and r == starts[s]:
            e = t - prev_first
            prev_first = t
            delta = zero
            s += 1
        else:
            d = t - prev
            e = d - delta
            delta = d
        prev = t
        out[r] = (e << one) ^ (zero - (e >> sign_shift))  # zigzag
    return out


@numba.njit(cache=True, nogil=True)
def _timestamps_from_words(
    words: npt.NDArray[np.uint64], starts: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint64]:
    one, zero = np.uint64(1), np.uint64(0)
    out = np.empty(len(words), np.uint64)
    prev_first = zero
    prev = zero
    delta = zero
    s = 0
    for r in range(len(words)):
        z = words[r]
        e = (z >> one) ^ (zero - (z & one))
        if s < len(starts) and r == starts[s]:
            t = prev_first + e
            prev_first = t
            delta = zero
            s += 1
        else:
            delta = delta + e
            t = prev + delta
        prev = t
        out[r] = t
    return out


@numba.njit(cache=True, nogil=True)
def _value_words(
    bits: npt.NDArray[np.uint64], starts: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint64]:
    out = np.empty(len(bits), np.uint64)
    s = 0
    for r in range(len(bits)):
        if s < len(starts) and r == starts[s]:
            out[r] = bits[r]
            s += 1
        else:
            out[r] = bits[r] ^ bits[r - 1]
    return out


@numba.njit(cache=True, nogil=True)
def _values_from_words(
    words: npt.NDArray[np.uint64], starts: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint64]:
    out = np.empty(len(words), np.uint64)
    s = 0
    for r in range(len(words)):
        if s < len(starts) and r == starts[s]:
            out[r] = words[r]
            s += 1
        else:
            out[r] = words[r] ^ out[r - 1]
    return out


@numba.njit(cache=True, nogil=True)
def _shuffle(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8]:
    n = len(words)
    out = np.empty(8 * n, np.uint8)
    mask = np.uint64(0xFF)
    for i in range(n):
        w = words[i]
        for j in range(8):
            out[j * n + i] = np.uint8((w >> np.uint64(8 * j)) & mask)
    return out


@numba.njit(cache=True, nogil=True)
def _unshuffle(planes: npt.NDArray[np.uint8], n: int) -> npt.NDArray[np.uint64]:
    out = np.zeros(n, np.uint64)
    for j in range(8):
        shift = np.uint64(8 * j)
        base = j * n
        for i in range(n):
            out[i] |= np.uint64(planes[base + i]) << shift
    return out


# -- streams ----------------------------------------------------------------------------------


def _plain(words: npt.NDArray[np.uint64]) -> bytes:
    return words.astype("<u8", copy=False).tobytes()


def _compress(cctx: zstandard.ZstdCompressor, words: npt.NDArray[np.uint64]) -> tuple[bytes, bool]:
    """The smaller of the shuffled and the plain frame, and whether it is the shuffled one."""
    shuffled = cctx.compress(_shuffle(words).tobytes())
    plain = cctx.compress(_plain(words))
    return (shuffled, True) if len(shuffled) <= len(plain) else (plain, False)


def _words(frame: bytes | memoryview, n: int, shuffled: bool) -> npt.NDArray[np.uint64]:
    raw = _decompressor().decompress(frame, max_output_size=8 * n)
    if len(raw) != 8 * n:
        raise ValueError(f"corrupt chunk: {len(raw)} bytes decoded, {8 * n} expected")
    planes = np.frombuffer(raw, np.uint8)
    if shuffled:
        return _unshuffle(planes, n)
    return planes.view("<u8").astype(np.uint64, copy=False)


def encode_chunk(
    cctx: zstandard.ZstdCompressor,
    first_row: int,
    timestamps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    starts: npt.NDArray[np.int64],
) -> EncodedChunk:
    """Compress one chunk's rows; `starts` as `segment_starts` gives them."""
    if not len(starts) or starts[0] != 0:
        raise ValueError("a chunk's chains start at its first row")
    ts = np.ascontiguousarray(timestamps, dtype=np.int64)
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    ts_frame, ts_shuffled = _compress(cctx, _timestamp_words(ts.view(np.uint64), starts))
    value_frame, values_shuffled = _compress(cctx, _value_words(bits, starts))
    layout = (TIMESTAMPS_SHUFFLED if ts_shuffled else 0) | (
        VALUES_SHUFFLED if values_shuffled else 0
    )
    return EncodedChunk(
        first_row=first_row,
        rows=len(ts),
        timestamps=ts_frame,
        values=value_frame,
        layout=layout,
        min_t=int(ts.min()),
        max_t=int(ts.max()),
    )


def decode_timestamps(
    frame: bytes | memoryview,
    n: int,
    layout: int,
    starts: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    words = _words(frame, n, bool(layout & TIMESTAMPS_SHUFFLED))
    return _timestamps_from_words(words, starts).view(np.int64)


def decode_values(
    frame: bytes | memoryview,
    n: int,
    layout: int,
    starts: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    words = _words(frame, n, bool(layout & VALUES_SHUFFLED))
    return _values_from_words(words, starts).view(np.float64)


# -- per-series edges -------------------------------------------------------------------------


def encode_edges(
    cctx: zstandard.ZstdCompressor,
    first_ts: npt.NDArray[np.int64],
    last_ts: npt.NDArray[np.int64],
    first_values: npt.NDArray[np.float64],
    last_values: npt.NDArray[np.float64],
) -> bytes:
    """Each series' first and last sample, so that opening a store (which needs them to rebuild
    per-series state) decodes a few bytes per series instead of every chunk. Compressed too:
    uncompressed they would cost 32 B per series and block, as much as the samples of a
    series scraped ten times per block."""
    n = len(first_ts)
    first_u = np.asarray(first_ts, dtype=np.int64).view(np.uint64)
    last_u = np.asarray(last_ts, dtype=np.int64).view(np.uint64)
    first_bits = np.asarray(first_values, dtype=np.float64).view(np.uint64)
    last_bits = np.asarray(last_values, dtype=np.float64).view(np.uint64)
    columns = np.empty((4, n), np.uint64)
    columns[0, :1] = first_u[:1]
    np.subtract(first_u[1:], first_u[:-1], out=columns[0, 1:])
    np.subtract(last_u, first_u, out=columns[1])
    columns[2, :1] = first_bits[:1]
    np.bitwise_xor(first_bits[1:], first_bits[:-1], out=columns[2, 1:])
    np.bitwise_xor(last_bits, first_bits, out=columns[3])
    return cctx.compress(_shuffle(columns.ravel()).tobytes())


def decode_edges(
    frame: bytes | memoryview, n: int
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]
]:
    """(first timestamps, last timestamps, first values, last values), one per series."""
    columns = _words(frame, 4 * n, True).reshape(4, n)
    first_u = np.cumsum(columns[0], dtype=np.uint64)
    last_u = columns[1] + first_u
    first_bits = np.bitwise_xor.accumulate(columns[2])
    last_bits = columns[3] ^ first_bits
    return (
        first_u.view(np.int64),
        last_u.view(np.int64),
        first_bits.view(np.float64),
        last_bits.view(np.float64),
    )
