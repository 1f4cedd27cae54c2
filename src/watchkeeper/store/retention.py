"""Deletes samples older than `metrics.retention_days`, in a thread, off the write path."""

from __future__ import annotations

import anyio
from prometheus_client import Counter

from watchkeeper.clock import Clock
from watchkeeper.runtime.worker import PeriodicWorker
from watchkeeper.store.base import MetricStore

SAMPLES_EXPIRED = Counter("watchkeeper_samples_expired", "Samples deleted by retention")


class RetentionWorker(PeriodicWorker):
    name = "retention"

    def __init__(
        self, store: MetricStore, clock: Clock, retention_days: int, interval: float = 3600.0
    ) -> None:
        super().__init__(clock, interval)
        self.store = store
        self.retention_days = retention_days
        self.deleted = 0

    def cutoff_ms(self) -> int:
        return int((self.clock.time() - self.retention_days * 86_400) * 1000)

    async def tick(self) -> None:
        removed = await anyio.to_thread.run_sync(self.store.delete_before, self.cutoff_ms())
        self.deleted += removed
        SAMPLES_EXPIRED.inc(removed)
