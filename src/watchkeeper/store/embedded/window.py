"""Vectorised read helpers: cut rows to a time window and split them into series."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from watchkeeper.store.embedded.head import Samples


def series_in_window(
    rows: Samples, wanted: npt.NDArray[np.bool_], start_ms: int, end_ms: int
) -> Samples:
    """Rows of wanted series (a mask indexed by series id) with start_ms <= t <= end_ms."""
    sids = rows.series_ids
    keep = (rows.timestamps >= start_ms) & (rows.timestamps <= end_ms)
    keep &= wanted[np.minimum(sids, len(wanted) - 1)] & (sids < len(wanted))
    return Samples(sids[keep], rows.timestamps[keep], rows.values[keep])


def split_by_series(
    pieces: Sequence[Samples],
) -> Iterator[tuple[int, npt.NDArray[np.int64], npt.NDArray[np.float64]]]:
    """(series id, timestamps, values) per series, ascending ids.

    Pieces come oldest first and each keeps time order within a series, so one stable sort by
    series id leaves every series in time order.
    """
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        return
    sids = np.concatenate([p.series_ids for p in pieces])
    timestamps = np.concatenate([p.timestamps for p in pieces])
    values = np.concatenate([p.values for p in pieces])
    if len(pieces) > 1 or np.any(sids[1:] < sids[:-1]):
        order = np.argsort(sids, kind="stable")
        sids, timestamps, values = sids[order], timestamps[order], values[order]
    bounds = np.flatnonzero(sids[1:] != sids[:-1]) + 1
    starts = [0, *bounds.tolist()]
    ends = [*bounds.tolist(), len(sids)]
    for start, end, sid in zip(starts, ends, sids[starts].tolist(), strict=True):
        yield sid, timestamps[start:end], values[start:end]
