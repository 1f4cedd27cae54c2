"""Prometheus' `ALERTS` and `ALERTS_FOR_STATE` series, written from the alert rows' states."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import structlog

from watchkeeper.db.tables import AlertInstance
from watchkeeper.domain.series import (
    METRIC_NAME_LABEL,
    STALE_NAN,
    SeriesSamples,
    labels_from_dict,
)
from watchkeeper.store.base import CardinalityLimitError, MetricStore

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class AlertSeries:
    """What an active alert's ALERTS and ALERTS_FOR_STATE series are made of."""

    labels: dict[str, str]
    state: str
    active_at: float

    def alerts_labels(self, state: str) -> dict[str, str]:
        return {**self.labels, METRIC_NAME_LABEL: "ALERTS", "alertstate": state}

    def for_state_labels(self) -> dict[str, str]:
        return {**self.labels, METRIC_NAME_LABEL: "ALERTS_FOR_STATE"}


ActiveSeries = dict[tuple[str, str], AlertSeries]
"""Pending and firing alerts by (fingerprint, state)."""


def active_series(rows: Iterable[AlertInstance]) -> ActiveSeries:
    return {
        (row.fingerprint, row.state): AlertSeries(
            dict(row.labels), row.state, row.active_at.timestamp()
        )
        for row in rows
        if row.state in ("pending", "firing")
    }


def write_alert_series(
    store: MetricStore,
    tenant_id: str,
    before: ActiveSeries,
    after: ActiveSeries,
    now_ms: int,
) -> None:
    """Prometheus' `ALERTS{alertstate}` (1) and `ALERTS_FOR_STATE` (activeAt, seconds) for
    every pending or firing alert, and staleness markers for those no longer so, as
    rules/alerting.go writes them. Written after the state commits (the store is not
    transactional with it); `before` comes from the database, so a restart still marks
    series that went stale while the process was down at the next evaluation."""
    batch: list[SeriesSamples] = []
    gone_for_state = {key[0] for key in before} - {key[0] for key in after}
    for (key, state), series in before.items():
        if (key, state) not in after:
            batch.append(_sample(series.alerts_labels(state), now_ms, STALE_NAN))
        if key in gone_for_state and state == series.state:
            batch.append(_sample(series.for_state_labels(), now_ms, STALE_NAN))
    for (_, state), series in after.items():
        batch.append(_sample(series.alerts_labels(state), now_ms, 1.0))
        batch.append(_sample(series.for_state_labels(), now_ms, series.active_at))
    if not batch:
        return
    try:
        result = store.append(tenant_id, batch)
    except CardinalityLimitError as exc:
        log.warning("alert_series_not_written", error=str(exc))
        return
    if result.errors:
        log.warning("alert_series_refused", first=result.errors[0])


def _sample(labels: dict[str, str], at_ms: int, value: float) -> SeriesSamples:
    return SeriesSamples(
        labels_from_dict(labels),
        np.array([at_ms], dtype=np.int64),
        np.array([value], dtype=np.float64),
    )
