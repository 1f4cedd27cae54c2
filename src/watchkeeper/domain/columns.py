"""Batches of samples in columnar form, as ingest and query exchange them with a store.

`MetricStore.append` takes one `SeriesSamples` per series; a remote_write request from
Prometheus carries thousands of series with one sample each, and building an object per sample
costs more than storing it. `SampleColumns` keeps such a batch as four arrays so the decoder
and the store never loop over samples in Python; `Selection` is the same idea for reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchkeeper.domain.series import Labels, SeriesSamples


@dataclass(frozen=True)
class SampleColumns:
    """Samples of several series; sample i belongs to series_labels[series_index[i]].

    Within one series, samples keep the order they were sent in.
    """

    series_labels: list[Labels]
    series_index: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.timestamps)

    @classmethod
    def from_series(cls, batch: Sequence[SeriesSamples]) -> SampleColumns:
        """Columns of a batch; a label set that occurs twice becomes one series."""
        position: dict[Labels, int] = {}
        index_per_entry = [position.setdefault(s.labels, len(position)) for s in batch]
        counts = [len(s.timestamps) for s in batch]
        if not batch:
            return cls([], np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))
        return cls(
            series_labels=list(position),
            series_index=np.repeat(np.asarray(index_per_entry, np.int64), counts),
            timestamps=np.concatenate([s.timestamps for s in batch]).astype(np.int64, copy=False),
            values=np.concatenate([s.values for s in batch]).astype(np.float64, copy=False),
        )

    def to_series(self) -> list[SeriesSamples]:
        """One SeriesSamples per distinct series, samples in the order they were sent."""
        order = np.argsort(self.series_index, kind="stable")
        grouped = self.series_index[order]
        bounds = np.flatnonzero(np.diff(grouped)) + 1
        starts = np.concatenate(([0], bounds)).tolist() if len(order) else []
        ends = [*bounds.tolist(), len(order)] if len(order) else []
        timestamps, values = self.timestamps[order], self.values[order]
        return [
            SeriesSamples(
                self.series_labels[int(grouped[start])], timestamps[start:end], values[start:end]
            )
            for start, end in zip(starts, ends, strict=True)
        ]


@dataclass(frozen=True)
class Selection:
    """A columnar `select`: series i owns samples [offsets[i], offsets[i+1]).

    Stores that can answer this way offer `select_columns` (`store.base.ColumnarSelect`, read
    by watchkeeper.query.source): for queries over thousands of series, one gather beats one
    array per series.
    """

    labels: list[Labels]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    offsets: npt.NDArray[np.int64]
