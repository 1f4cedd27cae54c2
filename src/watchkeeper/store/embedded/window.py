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
def _copy_ranges(
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
        _copy_ranges(
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
