"""The alert dispatcher worker: alert events in, silences/inhibition/routing/grouping applied,
outbox rows out — per tenant, in one transaction.

Each tick, for each tenant with pending alert events or a group timer due, it locks the
tenant's dispatch state row, restores the `Dispatcher` (groups: what each receiver was told),
feeds it the pending events in order, flushes due groups, enqueues one outbox row per
notification, marks the events consumed and saves the state. All of that commits together,
so a crash anywhere replays the same tick: the events are still pending, the state is the
previous one, and the notification numbers (`seq`, part of the idempotency key) are reused —
nothing lost, nothing sent twice. Among replicas one runs this worker, under a lease
(`runtime/lease.py`); the per-tenant row lock also keeps two from interleaving during a hand-over.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import structlog
from prometheus_client import Counter, Gauge
from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.alert import handling, silence_store
from watchkeeper.alert.dispatch import Dispatcher
from watchkeeper.alert.grouping import Notification
from watchkeeper.alert.model import Alert, AlertStatus, ConfigError
from watchkeeper.alert.state import mark_consumed, pending_events
from watchkeeper.clock import Clock
from watchkeeper.db.tables import AlertDispatchState, AlertEvent, Tenant
from watchkeeper.domain.alert_group import ZERO_TIME, AlertGroup, GroupAlert
from watchkeeper.domain.times import utc
from watchkeeper.notify.outbox import OutboxMessage, enqueue
from watchkeeper.runtime.worker import PeriodicWorker, Placement
from watchkeeper.tenancy.scope import SessionFactory

log = structlog.get_logger(__name__)

DISPATCHED = Counter(
    "watchkeeper_dispatcher_notifications_queued",
    "Alert group notifications the dispatcher wrote to the outbox",
    ["receiver"],
)
SILENCES_ACTIVE = Gauge("watchkeeper_silences_active", "Silences active now, all tenants")

_PRIORITY = {"critical": "critical", "warning": "high", "info": "low"}
_RANK = {"low": 0, "normal": 1, "high": 2, "critical": 3}


_LATEST = datetime(9999, 1, 1, tzinfo=UTC).timestamp()


def _stored_time(seconds: float) -> datetime:
    # Clamped: a route may set timers of centuries, a stored time cannot pass year 9999.
    return utc(min(max(seconds, 0.0), _LATEST))


def _seconds(text: object) -> float | None:
    if not isinstance(text, str) or not text or text == ZERO_TIME:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def event_alert(event: AlertEvent) -> Alert:
    """An alert event (firing, resolved, flapping; payload in Alertmanager's form) as an Alert."""
    payload: dict[str, Any] = event.payload
    resolved = event.kind == "resolved" or payload.get("status") == "resolved"
    starts_at = _seconds(payload.get("startsAt"))
    ends_at = _seconds(payload.get("endsAt"))
    if resolved and ends_at is None:
        ends_at = event.created_at.timestamp()
    return Alert(
        labels={str(k): str(v) for k, v in (payload.get("labels") or {}).items()},
        starts_at=starts_at if starts_at is not None else event.created_at.timestamp(),
        annotations={str(k): str(v) for k, v in (payload.get("annotations") or {}).items()},
        ends_at=ends_at,
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        generator_url=str(payload.get("generatorURL") or ""),
        flapping=event.kind == "flapping" or bool(payload.get("flapping")),
        fingerprint=event.fingerprint,
    )


def priority(alerts: tuple[Alert, ...]) -> str:
    """The most urgent of the alerts' `severity` labels (critical, warning→high, info→low)."""
    found = [_PRIORITY.get(a.labels.get("severity", ""), "normal") for a in alerts]
    return max(found, key=_RANK.__getitem__, default="normal")


def group_alert(alert: Alert, at: float) -> GroupAlert:
    """An alert of a flushed group as the channels get it; a resolved alert without an end
    ends at the flush."""
    ends_at = alert.ends_at if alert.status is AlertStatus.RESOLVED else None
    if alert.status is AlertStatus.RESOLVED and ends_at is None:
        ends_at = at
    return GroupAlert.create(
        status=alert.status.value,
        labels=alert.labels,
        annotations=alert.annotations,
        starts_at=_stored_time(alert.starts_at),
        ends_at=None if ends_at is None else _stored_time(ends_at),
        generator_url=alert.generator_url,
        fingerprint_=alert.fingerprint,
    )


def alert_group(notification: Notification, *, external_url: str) -> AlertGroup:
    """The typed group value for what changed (see `domain/alert_group.py`)."""
    alerts = (
        notification.firing + notification.flapping + notification.resolved
    ) + notification.reminders
    return AlertGroup(
        alerts=tuple(group_alert(a, notification.at) for a in alerts),
        receiver=notification.receiver,
        group_key=notification.group_key,
        group_labels=notification.group_labels,
        external_url=external_url,
        changes={
            "new": [a.fingerprint for a in notification.firing],
            "resolved": [a.fingerprint for a in notification.resolved],
            "flapping": [a.fingerprint for a in notification.flapping],
            "reminders": [a.fingerprint for a in notification.reminders],
            "unchanged": notification.summary.unchanged + len(notification.reminders),
            "reason": notification.reason.value,
            "summary": notification.summary.to_dict(),
        },
    )


def outbox_message(notification: Notification, seq: int, *, external_url: str) -> OutboxMessage:
    digest = hashlib.sha256(notification.group_key.encode()).hexdigest()[:16]
    alerts = notification.firing + notification.flapping + notification.reminders
    return OutboxMessage(
        idempotency_key=f"ag:{digest}:{seq}:{notification.receiver}"[:200],
        channel="",
        receiver=notification.receiver,
        payload=alert_group(notification, external_url=external_url).to_payload(),
        priority=priority(alerts or notification.resolved),
        source="alert_group",
        source_ref=notification.group_key[:200],
    )


@dataclass(frozen=True)
class TenantDispatch:
    tenant_id: str
    events: int
    notifications: int


class DispatchWorker(PeriodicWorker):
    """Routes pending alert events of every tenant into outbox rows (module docstring)."""

    name = "dispatcher"
    placement = Placement.RUN_ONCE

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        clock: Clock,
        defaults: handling.HandlingDefaults,
        interval: float = 1.0,
        external_url: str = "",
        batch: int = 500,
    ) -> None:
        super().__init__(clock, interval)
        self.sessions = sessions
        self.defaults = defaults
        self.external_url = external_url
        self.batch = batch

    async def tick(self) -> None:
        await anyio.to_thread.run_sync(self.run_once)

    def tenants(self) -> list[str]:
        with self.sessions.system("alert dispatch: list tenants") as db:
            return list(db.scalars(select(Tenant.id).where(Tenant.disabled.is_(False))))

    def run_once(self) -> list[TenantDispatch]:
        """One pass over every tenant; a tenant whose config is broken is logged and skipped."""
        done = []
        for tenant_id in self.tenants():
            try:
                result = self.dispatch(tenant_id)
            except ConfigError as exc:
                log.error("alert_dispatch_config_invalid", tenant=tenant_id, error=str(exc))
                continue
            if result is not None:
                done.append(result)
        with self.sessions.system("alert dispatch: count silences") as db:
            SILENCES_ACTIVE.set(silence_store.count_active(db, self.clock.time()))
        return done

    def dispatch(self, tenant_id: str) -> TenantDispatch | None:
        """One tenant's events and due groups, in one transaction; None when it was idle."""
        now = self.clock.time()
        with self.sessions.tenant(tenant_id) as db:
            state = db.scalar(select(AlertDispatchState).with_for_update())
            events = pending_events(db, self.batch)
            if not events and (state is None or not _due(state, now)):
                return None
            config = handling.load(db, self.defaults)
            dispatcher = Dispatcher(
                config.config, clock=self.clock, silences=silence_store.load_current(db, now)
            )
            if state is None:
                state = AlertDispatchState(state={}, seq=0, updated_at=_stored_time(now))
                db.add(state)
            else:
                dispatcher.restore(state.state)
            for event in events:
                dispatcher.receive(event_alert(event))
            notifications = dispatcher.flush_due()
            queued = self._enqueue(db, notifications, state, now)
            mark_consumed(db, [e.id for e in events], _stored_time(now))
            state.state = dispatcher.to_dict()
            next_at = dispatcher.next_flush_at()
            state.next_flush_at = None if next_at is None else _stored_time(next_at)
            state.updated_at = _stored_time(now)
        for notification in queued:
            DISPATCHED.labels(notification.receiver).inc()
        return TenantDispatch(tenant_id, len(events), len(queued))

    def _enqueue(
        self,
        db: Session,
        notifications: list[Notification],
        state: AlertDispatchState,
        now: float,
    ) -> list[Notification]:
        seq = state.seq or 0
        for notification in notifications:
            seq += 1
            message = outbox_message(notification, seq, external_url=self.external_url)
            enqueue(db, message, _stored_time(now))
        state.seq = seq
        return notifications


def _due(state: AlertDispatchState, now: float) -> bool:
    return state.next_flush_at is not None and state.next_flush_at.timestamp() <= now
