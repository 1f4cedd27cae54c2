"""The write path every ingest route and worker shares: validate whole, then append durably."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from watchkeeper.clock import Clock
from watchkeeper.domain.series import SeriesSamples
from watchkeeper.ingest import remote_write
from watchkeeper.ingest.json_batch import parse_json_batch
from watchkeeper.ingest.outcome import AcceptedBatch, RejectedBatch
from watchkeeper.ingest.validation import BatchValidator, IngestLimits
from watchkeeper.store.base import AppendResult, CardinalityLimitError, MetricStore

SAMPLES_INGESTED = Counter(
    "watchkeeper_samples_ingested", "Samples written to the store", ["source"]
)
SAMPLES_REJECTED = Counter(
    "watchkeeper_samples_rejected", "Samples refused at ingest, by reason", ["reason"]
)
SERIES_PER_TENANT = Gauge("watchkeeper_tenant_series", "Series stored per tenant", ["tenant"])


@dataclass(frozen=True)
class IngestResult:
    """Either `appended` (all samples durable) or `rejected` (nothing written)."""

    appended: AppendResult | None = None
    rejected: RejectedBatch | None = None
    cardinality_error: str | None = None
    duplicates_dropped: int = 0

    @property
    def ok(self) -> bool:
        return self.appended is not None


class IngestService:
    """Thread-safe; called from request threads and from the collectors' sink."""

    def __init__(
        self, store: MetricStore, clock: Clock, limits: IngestLimits | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.validator = BatchValidator(limits)
        self._lock = threading.Lock()

    def write(self, tenant_id: str, batch: list[SeriesSamples], *, source: str) -> IngestResult:
        outcome = self.validator.validate(batch, int(self.clock.time() * 1000))
        return self._commit(tenant_id, outcome, source)

    def write_remote(self, tenant_id: str, body: bytes, *, max_decoded_bytes: int) -> IngestResult:
        """A Prometheus remote_write body; raises RemoteWriteDecodeError when it is not one."""
        batch = remote_write.decode(body, max_decoded_bytes=max_decoded_bytes)
        return self.write(tenant_id, batch, source="remote_write")

    def write_json(self, tenant_id: str, body: bytes) -> IngestResult:
        series, indices, format_errors = parse_json_batch(
            body, self.validator.limits.max_rejections_listed
        )
        outcome = self.validator.validate(
            series, int(self.clock.time() * 1000), series_indices=indices
        )
        if format_errors.rejected_by_reason:
            if isinstance(outcome, RejectedBatch):
                format_errors.rejections.extend(outcome.rejections)
                for reason, count in outcome.rejected_by_reason.items():
                    format_errors.rejected_by_reason[reason] = (
                        format_errors.rejected_by_reason.get(reason, 0) + count
                    )
            return self._commit(tenant_id, format_errors, "json")
        return self._commit(tenant_id, outcome, "json")

    def _commit(
        self, tenant_id: str, outcome: AcceptedBatch | RejectedBatch, source: str
    ) -> IngestResult:
        if isinstance(outcome, RejectedBatch):
            for reason, count in outcome.rejected_by_reason.items():
                SAMPLES_REJECTED.labels(reason.value).inc(count)
            return IngestResult(rejected=outcome)
        try:
            appended = self.store.append(tenant_id, outcome.series)
        except CardinalityLimitError as exc:
            SAMPLES_REJECTED.labels("series_limit").inc(outcome.samples)
            return IngestResult(cardinality_error=str(exc))
        SAMPLES_INGESTED.labels(source).inc(appended.appended)
        if appended.new_series:
            SERIES_PER_TENANT.labels(tenant_id).set(self.store.series_count(tenant_id))
        return IngestResult(appended=appended, duplicates_dropped=outcome.duplicates_dropped)
