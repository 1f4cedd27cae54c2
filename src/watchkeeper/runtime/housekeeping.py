"""Housekeeping: each tenant's retention policy enforced on its records, in small batches.

Per tenant (`watchkeeper.tenancy.retention`): anomaly records, alert state transitions,
resolved incidents with their timeline and members, settled notifications, and the audit
trail. The audit trail is pruned through `AuditLog.prune`, which keeps the chain verifiable
(tombstones, then deletion from the oldest end behind a signed anchor).

Metric samples: the store's `RetentionWorker` applies `metrics.retention_days` to every
tenant; a tenant whose `metrics_days` is shorter (a tenant can only shorten it) loses its older
samples here, through `TenantRetention.delete_tenant_before`, when the store offers it (the
embedded and in-memory stores; not the remote one, whose TSDB keeps its own retention).

Each batch is its own transaction, at most `max_batches` per table and tenant and pass, so a
backlog never holds a long lock and stopping the worker never waits long. Among replicas it
runs under a lease (`wiring.with_leases`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import anyio
import structlog
from sqlalchemy import ColumnElement, delete, select

from watchkeeper.audit import AuditLog
from watchkeeper.clock import Clock
from watchkeeper.config import Settings
from watchkeeper.db.tables import (
    AlertTransition,
    AnomalyRecord,
    Incident,
    IncidentAlert,
    IncidentEvent,
    NotificationOutbox,
)
from watchkeeper.notify.outbox import SETTLED
from watchkeeper.runtime.worker import PeriodicWorker, Placement
from watchkeeper.store.base import MetricStore, TenantRetention
from watchkeeper.tenancy.retention import all_policies
from watchkeeper.tenancy.scope import SessionFactory

log = structlog.get_logger(__name__)


class Housekeeping(PeriodicWorker):
    """Prunes every tenant's expired records by its retention policy."""

    name = "housekeeping"
    placement = Placement.RUN_ONCE

    def __init__(
        self,
        clock: Clock,
        sessions: SessionFactory,
        settings: Settings,
        audit: AuditLog,
        *,
        store: MetricStore | None = None,
        max_batches: int = 20,
    ) -> None:
        super().__init__(clock, settings.retention.interval_seconds)
        self.sessions = sessions
        self.settings = settings
        self.audit = audit
        self.store = store
        self.batch_size = settings.retention.batch_size
        self.max_batches = max_batches

    def prune(self) -> dict[str, int]:
        """Rows deleted in this pass, by kind (kinds with none are left out)."""
        now = self.clock.now()
        with self.sessions.system("retention policies") as db:
            policies = all_policies(db, self.settings)
        deleted: dict[str, int] = {}

        def count(kind: str, n: int) -> None:
            if n:
                deleted[kind] = deleted.get(kind, 0) + n

        for tenant_id, days in policies.items():

            def before(kind: str, days: dict[str, int] = days) -> datetime:
                return now - timedelta(days=days[kind])

            count(
                "anomalies",
                self._delete(
                    AnomalyRecord,
                    [
                        AnomalyRecord.tenant_id == tenant_id,
                        AnomalyRecord.at < before("anomalies_days"),
                    ],
                ),
            )
            count(
                "alert_history",
                self._delete(
                    AlertTransition,
                    [
                        AlertTransition.tenant_id == tenant_id,
                        AlertTransition.at < before("alert_history_days"),
                    ],
                ),
            )
            count(
                "notifications",
                self._delete(
                    NotificationOutbox,
                    [
                        NotificationOutbox.tenant_id == tenant_id,
                        NotificationOutbox.status.in_(SETTLED),
                        NotificationOutbox.next_attempt_at < before("notifications_days"),
                    ],
                ),
            )
            count("incidents", self._delete_incidents(tenant_id, before("incidents_days")))
            if (
                isinstance(self.store, TenantRetention)
                and days["metrics_days"] < self.settings.metrics.retention_days
            ):
                cutoff_ms = int(before("metrics_days").timestamp() * 1000)
                count("samples", self.store.delete_tenant_before(tenant_id, cutoff_ms))
        cutoffs = {
            tenant_id: now - timedelta(days=days["audit_days"])
            for tenant_id, days in policies.items()
        }
        default = now - timedelta(days=self.settings.retention.audit_days)
        for _ in range(self.max_batches):
            sealed, dropped = self.audit.prune(
                cutoffs, default=default, now=now, batch=self.batch_size
            )
            count("audit", dropped)
            if not sealed and not dropped:
                break
        if deleted:
            log.info("retention_pruned", **deleted)
        return deleted

    def _delete(self, model: Any, where: list[ColumnElement[bool]]) -> int:
        total = 0
        batch = select(model.id).where(*where).limit(self.batch_size).scalar_subquery()
        for _ in range(self.max_batches):
            with self.sessions.system("retention") as db:
                result = db.execute(delete(model).where(model.id.in_(batch), *where))
                n = int(getattr(result, "rowcount", 0) or 0)
            total += n
            if n < self.batch_size:
                break
        return total

    def _delete_incidents(self, tenant_id: str, cutoff: datetime) -> int:
        """Resolved incidents resolved before `cutoff`, with their members and timeline."""
        total = 0
        for _ in range(self.max_batches):
            with self.sessions.system("retention") as db:
                ids = list(
                    db.scalars(
                        select(Incident.id)
                        .where(
                            Incident.tenant_id == tenant_id,
                            Incident.status == "resolved",
                            Incident.resolved_at < cutoff,
                        )
                        .limit(self.batch_size)
                    )
                )
                if ids:
                    db.execute(delete(IncidentEvent).where(IncidentEvent.incident_id.in_(ids)))
                    db.execute(delete(IncidentAlert).where(IncidentAlert.incident_id.in_(ids)))
                    db.execute(delete(Incident).where(Incident.id.in_(ids)))
            total += len(ids)
            if len(ids) < self.batch_size:
                break
        return total

    async def tick(self) -> None:
        await anyio.to_thread.run_sync(self.prune)
