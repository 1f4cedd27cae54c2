"""Deletes samples older than `metrics.retention_days` and downsamples old blocks
(`storage.downsampling`), in a thread, off the write path."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
from prometheus_client import Counter

from watchkeeper.clock import Clock
from watchkeeper.runtime.worker import PeriodicWorker, Placement
from watchkeeper.store.base import Downsampling, MetricStore

SAMPLES_EXPIRED = Counter("watchkeeper_samples_expired", "Samples deleted by retention")


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
