"""The write path every ingest route and worker shares: validate whole, then append durably."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from prometheus_client import Counter, Gauge

from watchkeeper.clock import Clock
from watchkeeper.domain.columns import SampleColumns
from watchkeeper.domain.series import Labels, SeriesSamples
from watchkeeper.ingest import remote_write
from watchkeeper.ingest.json_batch import parse_json_batch
from watchkeeper.ingest.outcome import AcceptedBatch, RejectedBatch, Rejection, RejectReason
from watchkeeper.ingest.validation import (
    BatchValidator,
    IngestLimits,
    preview_labels,
    reject_series,
)
from watchkeeper.store.base import AppendResult, CardinalityLimitError, ColumnarAppend, MetricStore

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
        """A Prometheus remote_write body; raises RemoteWriteDecodeError when it is not one.

        With a store that takes columns (the embedded one), the request never becomes one
        Python object per series: labels are checked once per distinct set (cached), times
        as arrays. Prometheus sends thousands of one-sample series per request.
        """
        limits = self.validator.limits
        bounds = remote_write.LabelBounds(
            max_name_bytes=limits.max_label_name_length,
            max_value_bytes=limits.max_label_value_length,
            max_labels=limits.max_labels_per_series,
            max_listed=limits.max_rejections_listed,
        )
        # New label sets wait here until the request is accepted: a refused one is not cached.
        pending: list[tuple[bytes, Labels]] = []
        columnar = self.store if isinstance(self.store, ColumnarAppend) else None
        try:
            if columnar is None:
                batch = remote_write.decode(
                    body, max_decoded_bytes=max_decoded_bytes, bounds=bounds, pending=pending
                )
            else:
                columns = remote_write.decode_columns(
                    body, max_decoded_bytes=max_decoded_bytes, bounds=bounds, pending=pending
                )
        except remote_write.LabelsRefused as refused:
            return self._commit(tenant_id, refused.rejected, "remote_write")
        if columnar is None:
            result = self.write(tenant_id, batch, source="remote_write")
        else:
            result = self._write_columns(tenant_id, columns, columnar)
        if result.ok:
            remote_write.remember(pending)
        return result

    def _write_columns(
        self,
        tenant_id: str,
        columns: SampleColumns,
        store: ColumnarAppend,
    ) -> IngestResult:
        rejected = self._check_columns(columns)
        if rejected is not None:
            return self._commit(tenant_id, rejected, "remote_write")
        try:
            appended: AppendResult = store.append_columns(tenant_id, columns)
        except CardinalityLimitError as exc:
            SAMPLES_REJECTED.labels("series_limit").inc(len(columns))
            return IngestResult(cardinality_error=str(exc))
        self.validator.remember(columns.series_labels)
        return self._appended(tenant_id, appended, "remote_write", 0)

    def _check_columns(self, columns: SampleColumns) -> RejectedBatch | None:
        rejected = RejectedBatch(max_listed=self.validator.limits.max_rejections_listed)
        for index, labels in enumerate(columns.series_labels):
            for reason, message in self.validator.label_problems(labels):
                count = int(np.count_nonzero(columns.series_index == index))
                reject_series(rejected, reason, message, index=index, labels=labels, samples=count)
        newest = int(self.clock.time() * 1000) + int(
            self.validator.limits.future_tolerance_seconds * 1000
        )
        if len(columns) and int(columns.timestamps.max()) > newest:
            for position in np.flatnonzero(columns.timestamps > newest)[:100].tolist():
                labels = columns.series_labels[int(columns.series_index[position])]
                rejected.add(
                    Rejection(
                        RejectReason.TIMESTAMP_TOO_NEW,
                        f"timestamp {int(columns.timestamps[position])} is more than "
                        f"{self.validator.limits.future_tolerance_seconds:g} s in the future",
                        timestamp_ms=int(columns.timestamps[position]),
                        labels=preview_labels(labels),
                    )
                )
        return rejected if rejected.rejected_by_reason else None

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
        self.validator.remember(series.labels for series in outcome.series)
        return self._appended(tenant_id, appended, source, outcome.duplicates_dropped)

    def _appended(
        self, tenant_id: str, appended: AppendResult, source: str, duplicates: int
    ) -> IngestResult:
        SAMPLES_INGESTED.labels(source).inc(appended.appended)
        if appended.errors:
            # Out of order or a new value for a stored timestamp, against data already stored:
            # the store refused those samples and kept the rest, as Prometheus does.
            SAMPLES_REJECTED.labels("out_of_order_or_duplicate").inc(len(appended.errors))
        if appended.new_series:
            SERIES_PER_TENANT.labels(tenant_id).set(self.store.series_count(tenant_id))
        return IngestResult(appended=appended, duplicates_dropped=duplicates)
