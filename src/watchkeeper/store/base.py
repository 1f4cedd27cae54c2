"""The MetricStore interface every stage reads and writes metrics through, and the optional
capabilities a store may add (checked with `isinstance`, so callers never reach into a store)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from watchkeeper.domain.columns import SampleColumns, Selection
from watchkeeper.domain.series import Labels, Matcher, SeriesSamples


@dataclass(frozen=True)
class AppendResult:
    """What an append did; `appended` counts samples made durable."""

    appended: int
    duplicates: int = 0
    out_of_order: int = 0
    new_series: int = 0
    errors: list[str] = field(default_factory=list)


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


# -- optional capabilities -------------------------------------------------------------------


@runtime_checkable
class ColumnarAppend(Protocol):
    """Stores that take a write batch as columns (the embedded one): a remote_write request
    then never becomes one Python object per series (`ingest/service.py`)."""

    def append_columns(self, tenant_id: str, batch: SampleColumns) -> AppendResult: ...


@runtime_checkable
class ColumnarSelect(Protocol):
    """Stores that answer `select` as columns (see `Selection`; `query/source.py`)."""

    def select_columns(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> Selection: ...


@runtime_checkable
class Downsampling(Protocol):
    """Stores that keep their own blocks (the embedded one) can thin old data; a remote
    TSDB downsamples (or not) by its own configuration."""

    def downsample_before(self, older_than_ms: int, resolution_ms: int) -> int: ...


@runtime_checkable
class TenantRetention(Protocol):
    """Stores that can drop one tenant's old samples (the embedded and in-memory ones), so
    a tenant's `metrics_days` shorter than `metrics.retention_days` is enforced
    (`runtime/housekeeping.py`). The remote store cannot: neither VictoriaMetrics'
    `delete_series` (whole series, no time range) nor Prometheus' admin API (off by default)
    deletes a tenant's samples before a time safely, so there the TSDB's own retention applies."""

    def delete_tenant_before(self, tenant_id: str, cutoff_ms: int) -> int: ...
