"""In-memory, append-only columns: the head (recent samples) and per-series state.

Rows below `count` never change once written, so a reader that took a `view()` keeps a
consistent snapshot without holding the store's lock while appends continue (growth allocates
new arrays; old ones stay valid for whoever still holds them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

INT64_MIN = np.iinfo(np.int64).min
INT64_MAX = np.iinfo(np.int64).max

_Scalar = TypeVar("_Scalar", bound=np.generic)


@dataclass(frozen=True)
class Samples:
    """Rows of (series id, timestamp, value), grouped or not by series."""

    series_ids: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.timestamps)


class HeadColumns:
    """Growable sample rows; appends amortise to one numpy copy per row."""

    def __init__(self, capacity: int = 4096) -> None:
        self._sids = np.empty(capacity, np.int64)
        self._ts = np.empty(capacity, np.int64)
        self._values = np.empty(capacity, np.float64)
        self.count = 0

    def extend(self, rows: Samples) -> None:
        end = self.count + len(rows)
        if end > len(self._ts):
            capacity = max(end, 2 * len(self._ts))
            self._sids = _grown(self._sids, capacity, self.count)
            self._ts = _grown(self._ts, capacity, self.count)
            self._values = _grown(self._values, capacity, self.count)
        self._sids[self.count : end] = rows.series_ids
        self._ts[self.count : end] = rows.timestamps
        self._values[self.count : end] = rows.values
        self.count = end

    def view(self) -> Samples:
        n = self.count
        return Samples(self._sids[:n], self._ts[:n], self._values[:n])


class SeriesState:
    """Per-series newest timestamp and value bits (for ordering checks) and oldest timestamp."""

    def __init__(self) -> None:
        self.last_ts = np.empty(0, np.int64)
        self.last_bits = np.empty(0, np.uint64)
        self.first_ts = np.empty(0, np.int64)

    def ensure(self, n_series: int) -> None:
        """Room for ids below n_series; new series start with no samples."""
        old = len(self.last_ts)
        if n_series <= old:
            return
        capacity = max(n_series, 2 * old, 1024)
        self.last_ts = _grown(self.last_ts, capacity, old, INT64_MIN)
        self.last_bits = _grown(self.last_bits, capacity, old, 0)
        self.first_ts = _grown(self.first_ts, capacity, old, INT64_MAX)

    def record(self, grouped: Samples) -> None:
        """Account for accepted rows sorted by series id, in time order within a series."""
        sids = grouped.series_ids
        if not len(sids):
            return
        boundary = sids[1:] != sids[:-1]
        last = np.flatnonzero(np.append(boundary, True))
        first = np.flatnonzero(np.insert(boundary, 0, True))
        self.last_ts[sids[last]] = grouped.timestamps[last]
        self.last_bits[sids[last]] = grouped.values[last].view(np.uint64)
        firsts = sids[first]
        self.first_ts[firsts] = np.minimum(self.first_ts[firsts], grouped.timestamps[first])


def _grown(
    array: npt.NDArray[_Scalar], capacity: int, used: int, fill: int | None = None
) -> npt.NDArray[_Scalar]:
    grown = np.empty(capacity, array.dtype)
    grown[:used] = array[:used]
    if fill is not None:
        grown[used:] = fill
    return grown
