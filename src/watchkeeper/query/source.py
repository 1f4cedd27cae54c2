"""How the engine reads samples: columnar when the store can, per series otherwise.

`MetricStore.select` returns one object per series; for queries over thousands of series
the per-series objects and their concatenation cost more than the evaluation. A store that
also has `select_columns` hands over all matching series at once, already concatenated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from watchkeeper.domain.series import Labels, Matcher
from watchkeeper.query.values import Floats, Ints, SampleBlock
from watchkeeper.store.base import MetricStore


class SeriesColumns(Protocol):
    """Samples of many series, concatenated; series i owns [offsets[i], offsets[i+1]).

    Series are ordered by label set, each one's samples by time, as `select` returns them.
    """

    @property
    def labels(self) -> Sequence[Labels]: ...

    @property
    def timestamps(self) -> Ints: ...

    @property
    def values(self) -> Floats: ...

    @property
    def offsets(self) -> Ints: ...


@runtime_checkable
class ColumnarSelect(Protocol):
    """Optional store capability: `select` answered as columns (see SeriesColumns)."""

    def select_columns(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> SeriesColumns: ...


def fetch_block(
    store: MetricStore, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
) -> SampleBlock:
    """Samples with start_ms <= t <= end_ms of every matching series."""
    if isinstance(store, ColumnarSelect):
        cols = store.select_columns(tenant_id, matchers, start_ms, end_ms)
        return SampleBlock(list(cols.labels), cols.timestamps, cols.values, cols.offsets)
    return SampleBlock.from_series(store.select(tenant_id, matchers, start_ms, end_ms))
