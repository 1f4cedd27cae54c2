"""Deletes samples older than `metrics.retention_days` and downsamples old blocks
(`storage.downsampling`), in a thread, off the write path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import anyio
from prometheus_client import Counter

from watchkeeper.clock import Clock
from watchkeeper.runtime.worker import PeriodicWorker, Placement
from watchkeeper.store.base import MetricStore

SAMPLES_EXPIRED = Counter("watchkeeper_samples_expired", "Samples deleted by retention")


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


class RetentionWorker(PeriodicWorker):
    name = "retention"
    placement = Placement.PER_REPLICA

    def __init__(
        self,
        store: MetricStore,
        clock: Clock,
        retention_days: int,
        interval: float = 3600.0,
        tiers: Sequence[tuple[float, int]] = (),
    ) -> None:
        """`tiers`: (after seconds, resolution ms) pairs, finest first."""
        super().__init__(clock, interval)
        self.store = store
        self.retention_days = retention_days
        self.tiers = list(tiers)
        self.deleted = 0
        self.downsampled = 0

    def cutoff_ms(self) -> int:
        return int((self.clock.time() - self.retention_days * 86_400) * 1000)

    async def tick(self) -> None:
        await anyio.to_thread.run_sync(self.run_once)

    def run_once(self) -> None:
        removed = self.store.delete_before(self.cutoff_ms())
        self.deleted += removed
        SAMPLES_EXPIRED.inc(removed)
        if self.tiers and isinstance(self.store, Downsampling):
            now = self.clock.time()
            for after_s, resolution_ms in self.tiers:
                older_than_ms = int((now - after_s) * 1000)
                self.downsampled += self.store.downsample_before(older_than_ms, resolution_ms)
