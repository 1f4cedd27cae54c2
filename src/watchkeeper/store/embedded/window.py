"""Vectorised read helpers: cut rows to a time window and split them into series."""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import numpy.typing as npt

from watchkeeper.runtime import kernels
from watchkeeper.store.embedded.head import Samples


def series_in_window(
    rows: Samples, wanted: npt.NDArray[np.bool_], start_ms: int, end_ms: int
) -> Samples:
    """Rows of wanted series (a mask indexed by series id) with start_ms <= t <= end_ms."""
    ids, ts, vals = _rows_in_window(
        rows.series_ids, rows.timestamps, rows.values, wanted, start_ms, end_ms
    )
    return Samples(ids, ts, vals)


@numba.njit(cache=True, nogil=True)
def _rows_in_window(
    sids: npt.NDArray[np.int64],
    timestamps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    wanted: npt.NDArray[np.bool_],
    start_ms: int,
    end_ms: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    keep = np.empty(len(sids), np.bool_)
    total = 0
    for r in range(len(sids)):
        sid = sids[r]
        t = timestamps[r]
        k = start_ms <= t <= end_ms and sid < len(wanted) and wanted[sid]
        keep[r] = k
        total += k
    ids = np.empty(total, np.int64)
    ts = np.empty(total, np.int64)
    vals = np.empty(total, np.float64)
    j = 0
    for r in range(len(sids)):
        if keep[r]:
            ids[j] = sids[r]
            ts[j] = timestamps[r]
            vals[j] = values[r]
            j += 1
    return ids, ts, vals


@numba.njit(cache=True, nogil=True)
def _block_bounds(
    series: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    timestamps: npt.NDArray[np.int64],
    wanted: npt.NDArray[np.int64],
    start_ms: int,
    end_ms: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each wanted series' rows [lo, hi) within [start_ms, end_ms]: its rows are time-sorted,
    so two binary searches bound the window (empty when the block lacks the series)."""
    n = len(wanted)
    lo = np.zeros(n, np.int64)
    hi = np.zeros(n, np.int64)
    position = np.searchsorted(series, wanted)
    for i in range(n):
        p = position[i]
        if p < len(series) and series[p] == wanted[i]:
            first, past = offsets[p], offsets[p + 1]
            lo[i] = first + np.searchsorted(timestamps[first:past], start_ms)
            hi[i] = first + np.searchsorted(timestamps[first:past], end_ms, side="right")
    return lo, hi


@numba.njit(cache=True, nogil=True)
def copy_ranges(
    lo: npt.NDArray[np.int64],
    hi: npt.NDArray[np.int64],
    at: npt.NDArray[np.int64],
    wanted: npt.NDArray[np.int64],
    timestamps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    ids: npt.NDArray[np.int64],
    ts: npt.NDArray[np.int64],
    vals: npt.NDArray[np.float64],
) -> None:
    for i in range(len(lo)):
        k = at[i]
        for r in range(lo[i], hi[i]):
            ids[k] = wanted[i]
            ts[k] = timestamps[r]
            vals[k] = values[r]
            k += 1


def block_rows(
    series: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    timestamps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    wanted: npt.NDArray[np.int64],
    start_ms: int,
    end_ms: int,
) -> Samples:
    """A block's rows of the wanted (sorted) series within [start_ms, end_ms], by series."""
    timestamps, values = np.asarray(timestamps), np.asarray(values)
    wanted = np.ascontiguousarray(wanted, dtype=np.int64)
    lo, hi = _block_bounds(
        np.asarray(series), np.asarray(offsets), timestamps, wanted, start_ms, end_ms
    )
    lengths = hi - lo
    at = np.zeros(len(lengths), np.int64)
    np.cumsum(lengths[:-1], out=at[1:])
    total = int(lengths.sum())
    ids = np.empty(total, np.int64)
    ts = np.empty(total, np.int64)
    vals = np.empty(total, np.float64)

    def copy(first: int, past: int) -> None:
        copy_ranges(
            lo[first:past],
            hi[first:past],
            at[first:past],
            wanted[first:past],
            timestamps,
            values,
            ids,
            ts,
            vals,
        )

    kernels.run_split(copy, lengths, total)
    return Samples(ids, ts, vals)


@numba.njit(cache=True, nogil=True)
def _group_by_series(
    ids: npt.NDArray[np.int64],
    timestamps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    id_count: int,
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]
]:
    """A stable counting sort by series id: O(rows + ids), where a comparison sort of millions
    of rows is the slowest step of a large read."""
    ordered = True
    for r in range(1, len(ids)):
        if ids[r] < ids[r - 1]:
            ordered = False
            break
    if ordered:  # one block's rows: already grouped, only the boundaries are needed
        runs = 1 if len(ids) else 0
        for r in range(1, len(ids)):
            if ids[r] != ids[r - 1]:
                runs += 1
        sids = np.empty(runs, np.int64)
        offsets = np.empty(runs + 1, np.int64)
        j = 0
        for r in range(len(ids)):
            if r == 0 or ids[r] != ids[r - 1]:
                sids[j] = ids[r]
                offsets[j] = r
                j += 1
        offsets[runs] = len(ids)
        return sids, offsets, timestamps, values
    counts = np.zeros(id_count, np.int64)
    for sid in ids:
        counts[sid] += 1
    present = 0
    for c in counts:
        if c:
            present += 1
    sids = np.empty(present, np.int64)
    offsets = np.empty(present + 1, np.int64)
    cursor = np.empty(id_count, np.int64)
    j = 0
    running = 0
    for sid in range(id_count):
        if counts[sid]:
            sids[j] = sid
            offsets[j] = running
            j += 1
        cursor[sid] = running
        running += counts[sid]
    offsets[present] = running
    ts = np.empty(len(ids), np.int64)
    vals = np.empty(len(ids), np.float64)
    for r in range(len(ids)):
        sid = ids[r]
        at = cursor[sid]
        ts[at] = timestamps[r]
        vals[at] = values[r]
        cursor[sid] = at + 1
    return sids, offsets, ts, vals


def group_by_series(
    pieces: Sequence[Samples], id_count: int
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]
]:
    """(series ids ascending, offsets, timestamps, values) of the pieces' rows grouped by
    series. Pieces come oldest first and each keeps time order within a series, and the sort
    is stable, so every series stays in time order."""
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        empty = np.empty(0, np.int64)
        return empty, np.zeros(1, np.int64), empty, np.empty(0, np.float64)
    if len(pieces) > 1 and sum(len(p) for p in pieces) >= kernels.MIN_WORK:
        return _merge_pieces(pieces, id_count)
    if len(pieces) == 1:
        ids, ts, vals = pieces[0].series_ids, pieces[0].timestamps, pieces[0].values
    else:
        ids = np.concatenate([p.series_ids for p in pieces])
        ts = np.concatenate([p.timestamps for p in pieces])
        vals = np.concatenate([p.values for p in pieces])
    return _group_by_series(
        np.ascontiguousarray(ids, dtype=np.int64),
        np.ascontiguousarray(ts, dtype=np.int64),
        np.ascontiguousarray(vals, dtype=np.float64),
        id_count,
    )


def _merge_pieces(
    pieces: Sequence[Samples], id_count: int
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]
]:
    """`group_by_series` of several large pieces (a read over several blocks) without first
    concatenating them: each row is copied once, straight to its place, and the copy is split
    over the cores by series range. Block pieces are sorted by series, so a thread finds its
    range's rows by binary search; unsorted pieces (heads) are scanned whole by each thread."""
    columns = [
        (
            np.ascontiguousarray(p.series_ids, dtype=np.int64),
            np.ascontiguousarray(p.timestamps, dtype=np.int64),
            np.ascontiguousarray(p.values, dtype=np.float64),
        )
        for p in pieces
    ]
    counts = np.zeros(id_count, np.int64)
    ordered = []
    for ids, _, _ in columns:
        ordered.append(_count_rows(ids, counts))
    present = np.flatnonzero(counts).astype(np.int64)
    offsets = np.zeros(len(present) + 1, np.int64)
    np.cumsum(counts[present], out=offsets[1:])
    cursor = np.zeros(id_count, np.int64)
    cursor[present] = offsets[:-1]
    total = int(offsets[-1])
    ts_out = np.empty(total, np.int64)
    values_out = np.empty(total, np.float64)

    def scatter(first: int, past: int) -> None:
        low, high = int(present[first]), int(present[past - 1]) + 1
        for (ids, ts, vals), is_ordered in zip(columns, ordered, strict=True):
            _scatter_rows(ids, ts, vals, is_ordered, low, high, cursor, ts_out, values_out)

    kernels.run_split(scatter, counts[present], total)
    return present, offsets, ts_out, values_out


@numba.njit(cache=True, nogil=True)
def _count_rows(ids: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> bool:
    """Adds each id's rows to counts; whether ids are ascending."""
    ordered = True
    previous = ids[0]
    for sid in ids:
        counts[sid] += 1
        if sid < previous:
            ordered = False
        previous = sid
    return ordered


@numba.njit(cache=True, nogil=True)
def _scatter_rows(
    ids: npt.NDArray[np.int64],
    timestamps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    ordered: bool,
    low: int,
    high: int,
    cursor: npt.NDArray[np.int64],
    ts_out: npt.NDArray[np.int64],
    values_out: npt.NDArray[np.float64],
) -> None:
    """Rows with low <= id < high to their series' next free slot (threads own disjoint id
    ranges, so they never share a cursor)."""
    first, past = 0, len(ids)
    if ordered:
        first = int(np.searchsorted(ids, low))
        past = int(np.searchsorted(ids, high))
    for r in range(first, past):
        sid = ids[r]
        if sid < low or sid >= high:
            continue
        at = cursor[sid]
        ts_out[at] = timestamps[r]
        values_out[at] = values[r]
        cursor[sid] = at + 1
