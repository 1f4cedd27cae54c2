"""The MetricStore interface every stage reads and writes metrics through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from watchkeeper.domain.series import Labels, Matcher, SeriesSamples


@dataclass(frozen=True)
class AppendResult:
    """What an append did; `appended` counts samples made durable."""

    appended: int
    duplicates: int = 0
    out_of_order: int = 0
    new_series: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Selection:
    """A columnar `select`: series i owns samples [offsets[i], offsets[i+1]).

    Stores that can answer this way offer `select_columns` (see watchkeeper.query.source):
    for queries over thousands of series, one gather beats one array per series.
    """

    labels: list[Labels]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    offsets: npt.NDArray[np.int64]


class CardinalityLimitError(Exception):
    """Appending would create more series than the tenant is allowed; nothing was written."""


class MetricStore(Protocol):
    """Durable, tenant-partitioned series storage.

    Timestamps are int64 milliseconds since the epoch; values float64 (NaN, ±Inf and the
    staleness marker stored bit for bit). `append` returns only once the samples are durable.
    """

    def append(self, tenant_id: str, batch: Sequence[SeriesSamples]) -> AppendResult: ...

    def select(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[SeriesSamples]:
        """Samples with start_ms <= t <= end_ms of every series matching all matchers."""
        ...

    def series(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[Labels]: ...

    def label_names(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[str]: ...

    def label_values(
        self, tenant_id: str, name: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[str]: ...

    def series_count(self, tenant_id: str) -> int: ...

    def delete_before(self, cutoff_ms: int) -> int:
        """Drop samples older than cutoff_ms for every tenant; returns samples removed."""
        ...

    def close(self) -> None: ...
