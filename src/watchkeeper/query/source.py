"""How the engine reads samples: columnar when the store can, per series otherwise.

`MetricStore.select` returns one object per series; for queries over thousands of series
the per-series objects and their concatenation cost more than the evaluation. A store that
also has `select_columns` (`ColumnarSelect`) hands over all matching series at once, already
concatenated: series ordered by label set, each one's samples by time, as `select` returns them.
"""

from __future__ import annotations

from collections.abc import Sequence

from watchkeeper.domain.series import Matcher
from watchkeeper.query.values import SampleBlock
from watchkeeper.store.base import ColumnarSelect, MetricStore


def fetch_block(
    store: MetricStore, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
) -> SampleBlock:
    """Samples with start_ms <= t <= end_ms of every matching series."""
    if isinstance(store, ColumnarSelect):
        cols = store.select_columns(tenant_id, matchers, start_ms, end_ms)
        return SampleBlock(list(cols.labels), cols.timestamps, cols.values, cols.offsets)
    return SampleBlock.from_series(store.select(tenant_id, matchers, start_ms, end_ms))
