"""Alert state in the database: instance rows, their transition history, the alert-event queue.

Everything here runs inside the caller's tenant session, so a state change, its history row
and the alert event it causes commit together or not at all (a crash between two
evaluations loses nothing and duplicates nothing). Two stages read what is written here:
the dispatcher (alert/dispatcher_worker.py) takes `pending_events`, applies silences,
inhibition, routing and grouping, writes outbox rows and calls `mark_consumed` in the same
transaction; the correlator (incidents/correlation.py) follows the transition history by id
to open and close incidents.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from prometheus_client import Counter
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from watchkeeper.db.tables import AlertEvent, AlertInstance, AlertTransition
from watchkeeper.domain.alert_group import ZERO_TIME, am_time
from watchkeeper.events import publish
from watchkeeper.tenancy.scope import tenant_of

AlertState = Literal["pending", "firing", "resolved", "inactive"]
NotificationKind = Literal["firing", "resolved", "flapping"]
ACTIVE_STATES = ("pending", "firing")
NOTIFICATIONS_QUEUED = Counter(
    "watchkeeper_alert_notifications_queued", "Notifications written to the outbox", ["kind"]
)


def load_group_alerts(db: Session, group_name: str) -> dict[str, AlertInstance]:
    """The group's rows an evaluation can change: active ones and flapping ones."""
    rows = db.scalars(
        select(AlertInstance).where(
            AlertInstance.group_name == group_name,
            AlertInstance.state.in_(ACTIVE_STATES) | AlertInstance.flapping.is_(True),
        )
    )
    return {row.fingerprint: row for row in rows}


def load_by_fingerprint(
    db: Session, group_name: str, fingerprints: Iterable[str]
) -> dict[str, AlertInstance]:
    """Rows (resolved or inactive) that alerts becoming active again reuse."""
    wanted = list(fingerprints)
    if not wanted:
        return {}
    rows = db.scalars(
        select(AlertInstance).where(
            AlertInstance.group_name == group_name, AlertInstance.fingerprint.in_(wanted)
        )
    )
    return {row.fingerprint: row for row in rows}


def alert_payload(row: AlertInstance) -> dict[str, Any]:
    """The alert as Alertmanager's webhook carries it, plus value, flapping and explanation."""
    payload: dict[str, Any] = {
        "status": "firing" if row.state == "firing" else "resolved",
        "labels": dict(row.labels),
        "annotations": dict(row.annotations),
        "startsAt": am_time(row.fired_at or row.active_at),
        "endsAt": am_time(row.ends_at) if row.state != "firing" else ZERO_TIME,
        "generatorURL": row.generator_url,
        "fingerprint": row.fingerprint,
        "value": row.value,
        "flapping": row.flapping,
    }
    if row.explanation is not None:
        payload["explanation"] = row.explanation
    return payload


def record_transition(
    db: Session, row: AlertInstance, from_state: str, to_state: str, now: datetime
) -> None:
    db.add(
        AlertTransition(
            group_name=row.group_name,
            rule_name=row.rule_name,
            fingerprint=row.fingerprint,
            at=now,
            from_state=from_state,
            to_state=to_state,
            value=row.value,
        )
    )


def enqueue_event(
    db: Session, row: AlertInstance, kind: NotificationKind, now: datetime
) -> AlertEvent:
    """Queue an alert event for the dispatcher in the transaction of the change causing it."""
    event = AlertEvent(
        group_name=row.group_name,
        rule_name=row.rule_name,
        fingerprint=row.fingerprint,
        kind=kind,
        payload=alert_payload(row),
        status="pending",
        created_at=now,
    )
    db.add(event)
    _publish_alert(db, row, kind, now)
    return event


def _publish_alert(db: Session, row: AlertInstance, kind: NotificationKind, now: datetime) -> None:
    """An `alert` event for /ws/notifications, committed with the transition (events/bus.py)."""
    publish(
        db, tenant_of(db) or row.tenant_id, "alert", {"kind": kind, **alert_payload(row)}, now=now
    )


def pending_events(db: Session, limit: int = 500) -> list[AlertEvent]:
    """Alert events the dispatcher has not consumed, oldest first (the order they were
    caused in)."""
    return list(
        db.scalars(
            select(AlertEvent)
            .where(AlertEvent.status == "pending")
            .order_by(AlertEvent.id)
            .limit(limit)
        )
    )


def mark_consumed(db: Session, ids: Sequence[int], now: datetime) -> int:
    """Mark events consumed by the dispatcher; returns how many were still pending. (The
    stored status is `sent` and the time `sent_at`: column values kept from before the rename.)"""
    if not ids:
        return 0
    # The ORM-enabled UPDATE goes through the tenant filter like every other statement.
    result = db.execute(
        update(AlertEvent)
        .where(AlertEvent.id.in_(list(ids)), AlertEvent.status == "pending")
        .values(status="sent", sent_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def list_alerts(
    db: Session, *, states: Sequence[str] = ACTIVE_STATES, group_name: str | None = None
) -> list[AlertInstance]:
    query = select(AlertInstance).where(AlertInstance.state.in_(list(states)))
    if group_name is not None:
        query = query.where(AlertInstance.group_name == group_name)
    return list(db.scalars(query.order_by(AlertInstance.group_name, AlertInstance.rule_name)))


def find_alert(db: Session, fingerprint_: str) -> AlertInstance | None:
    """The alert with this fingerprint (the most recently evaluated if groups share it)."""
    return db.scalar(
        select(AlertInstance)
        .where(AlertInstance.fingerprint == fingerprint_)
        .order_by(AlertInstance.last_evaluation.desc())
        .limit(1)
    )


def history(db: Session, row: AlertInstance, limit: int = 200) -> list[AlertTransition]:
    """The alert's transitions, newest first."""
    return list(
        db.scalars(
            select(AlertTransition)
            .where(
                AlertTransition.fingerprint == row.fingerprint,
                AlertTransition.group_name == row.group_name,
            )
            .order_by(AlertTransition.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class FlapPolicy:
    """More than `max_changes` into firing or resolved within `window_seconds` is flapping."""

    max_changes: int = 6
    window_seconds: float = 3600.0


class Transitions:
    """State changes of alert rows with their history, flap accounting and notifications."""

    def __init__(self, db: Session, now_s: float, flap: FlapPolicy) -> None:
        self.db = db
        self.now_s = now_s
        self.now = datetime.fromtimestamp(now_s, UTC)
        self.flap = flap
        self.queued = 0

    def change(self, row: AlertInstance, to_state: str) -> None:
        from_state = row.state
        row.state = to_state
        record_transition(self.db, row, from_state, to_state, self.now)
        if to_state not in ("firing", "resolved"):
            return
        window_start = self.now_s - self.flap.window_seconds
        row.changes = [t for t in row.changes if t > window_start] + [self.now_s]
        if len(row.changes) > self.flap.max_changes:
            if not row.flapping:
                row.flapping = True
                record_transition(self.db, row, to_state, "flapping", self.now)
                self.notify(row, "flapping")
            return
        self.notify_current(row)

    def flap_expiry(self, row: AlertInstance) -> None:
        """A flapping alert whose changes fell back within the limit: notify where it stands."""
        if not row.flapping:
            return
        window_start = self.now_s - self.flap.window_seconds
        row.changes = [t for t in row.changes if t > window_start]
        if len(row.changes) <= self.flap.max_changes:
            row.flapping = False
            record_transition(self.db, row, "flapping", row.state, self.now)
            self.notify_current(row)

    def retire(self, row: AlertInstance) -> None:
        """End an alert whose rule is gone: resolved, and notified if it was announced."""
        row.flapping = False
        if row.state == "firing":
            row.ends_at = self.now
            row.state, from_state = "resolved", row.state
            record_transition(self.db, row, from_state, "resolved", self.now)
            self.notify_current(row)
        elif row.state == "pending":
            row.state = "inactive"
            record_transition(self.db, row, "pending", "inactive", self.now)

    def notify_current(self, row: AlertInstance) -> None:
        """Queue the alert's current state unless it is what was last notified."""
        current: NotificationKind = "firing" if row.state == "firing" else "resolved"
        if current == row.notified_state or (current == "resolved" and row.notified_state is None):
            return
        row.notified_state = current
        self.notify(row, current)

    def notify(self, row: AlertInstance, kind: NotificationKind) -> None:
        enqueue_event(self.db, row, kind, self.now)
        NOTIFICATIONS_QUEUED.labels(kind).inc()
        self.queued += 1


def retire_group_alerts(db: Session, group_name: str, now_s: float) -> int:
    """Resolve every active alert of a group being deleted; returns notifications queued."""
    transitions = Transitions(db, now_s, FlapPolicy())
    for row in load_group_alerts(db, group_name).values():
        transitions.retire(row)
    return transitions.queued
