"""What happens to an incident row: opening, members joining, status changes, the timeline,
classification and notifications. Shared by the API service and the correlation worker.

Every change is written in the caller's tenant session, and the notification it causes is an
outbox row in that same transaction (the escalation and channel stages read the outbox).
Each timeline row also becomes part of an `incident` event for `/ws/notifications`: one
event per incident and transaction, published just before the commit so it carries the
incident as committed rather than as it was halfway through a PATCH (see `_publish_changes`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from watchkeeper.db.tables import Incident, IncidentAlert, IncidentEvent, Tenant
from watchkeeper.domain.times import iso_or_none
from watchkeeper.events import publish
from watchkeeper.incidents.classifier import AlertText, IncidentClassifier, incident_text
from watchkeeper.incidents.metrics import TIME_TO_ACKNOWLEDGE, TIME_TO_RESOLVE
from watchkeeper.notify.outbox import OutboxMessage, enqueue
from watchkeeper.tenancy.scope import tenant_of
from watchkeeper.tenancy.service import ConflictError

STATUSES = ("triggered", "acknowledged", "resolved")
OPEN_STATUSES = ("triggered", "acknowledged")
SEVERITIES = ("critical", "high", "medium", "low")
_RANK = {name: rank for rank, name in enumerate(reversed(SEVERITIES))}
# An alert's `severity` label, as Prometheus rules usually spell it, to an incident severity.
ALERT_SEVERITY = {
    "critical": "critical",
    "page": "critical",
    "emergency": "critical",
    "high": "high",
    "error": "high",
    "major": "high",
    "warning": "medium",
    "warn": "medium",
    "medium": "medium",
    "minor": "low",
    "low": "low",
    "info": "low",
    "none": "low",
}
# Incident severity to outbox priority (the contract's critical/high/normal/low).
PRIORITY = {"critical": "critical", "high": "high", "medium": "normal", "low": "low"}
# From -> allowed targets; resolved -> triggered is a reopen.
TRANSITIONS = {
    "triggered": {"acknowledged", "resolved"},
    "acknowledged": {"triggered", "resolved"},
    "resolved": {"triggered"},
}
MAX_NOTIFIED_ALERTS = 50
_CHANGES = "watchkeeper.incidents.changes"
# The verb an `incident` event leads with when a transaction made several changes: what a
# client most likely reacts to (a status change before an assignment in the same PATCH).
_ACTION_RANK = ("opened", "reopened", "resolved", "acknowledged", "unacknowledged", "merged")


@dataclass(frozen=True)
class Member:
    """An alert about to join an incident, with why it joins."""

    fingerprint: str
    alertname: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    group_name: str = ""
    state: str = "firing"
    reason: str = ""


@dataclass(frozen=True)
class Policy:
    """How incident changes are classified and who hears about them."""

    classifier: IncidentClassifier
    receiver: str = "default"


def severity_of(labels: Mapping[str, str]) -> str:
    return ALERT_SEVERITY.get(labels.get("severity", "").lower(), "medium")


def worse(a: str, b: str) -> str:
    return a if _RANK.get(a, 0) >= _RANK.get(b, 0) else b


def record(
    db: Session,
    incident: Incident,
    kind: str,
    *,
    actor: str,
    message: str,
    now: datetime,
    data: Mapping[str, Any] | None = None,
) -> IncidentEvent:
    line = IncidentEvent(
        incident_id=incident.id,
        at=now,
        kind=kind,
        actor=actor,
        message=message,
        data=dict(data or {}),
    )
    db.add(line)
    _changed(db, incident, line)
    return line


def _changed(db: Session, incident: Incident, line: IncidentEvent) -> None:
    """Remember the timeline row; the incident's event is published before the commit."""
    pending: dict[str, tuple[Incident, list[IncidentEvent]]] = db.info.setdefault(_CHANGES, {})
    pending.setdefault(incident.id, (incident, []))[1].append(line)


def _action(line: IncidentEvent) -> str:
    if line.kind != "status_changed":
        return line.kind
    before, after = line.data.get("from"), line.data.get("to")
    if after == "triggered":
        return "reopened" if before == "resolved" else "unacknowledged"
    return str(after)


def event_data(incident: Incident, lines: Sequence[IncidentEvent]) -> dict[str, Any]:
    """An `incident` event: the incident after the transaction and the changes it made."""
    actions = list(dict.fromkeys(_action(line) for line in lines))
    ranked = [a for a in _ACTION_RANK if a in actions]
    return {
        "action": (ranked or actions)[0],
        "actions": actions,
        "incident": {
            **public_dict(incident),
            "merged_into": incident.merged_into,
            "updated_at": incident.updated_at.isoformat(),
        },
        "changes": [
            {
                "kind": line.kind,
                "actor": line.actor,
                "message": line.message,
                "at": line.at.isoformat(),
                "data": dict(line.data),
            }
            for line in lines
        ],
    }


@event.listens_for(Session, "before_commit")
def _publish_changes(session: Session) -> None:
    # before_commit runs ahead of the commit's final flush, so the event rows are inserted
    # in the same transaction as the changes they describe (events/bus.py fans them out
    # after the commit; a rollback publishes nothing).
    pending: dict[str, tuple[Incident, list[IncidentEvent]]] = session.info.pop(_CHANGES, {})
    for incident, lines in pending.values():
        publish(
            session,
            tenant_of(session) or incident.tenant_id,
            "incident",
            event_data(incident, lines),
            now=max(line.at for line in lines),
        )


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop(_CHANGES, None)


def members_of(db: Session, incident_id: str) -> list[IncidentAlert]:
    return list(
        db.scalars(
            select(IncidentAlert)
            .where(IncidentAlert.incident_id == incident_id)
            .order_by(IncidentAlert.joined_at, IncidentAlert.id)
        )
    )


def _insert_numbered(db: Session, incident: Incident) -> None:
    """Insert with the tenant's next number, computed by the INSERT itself. Two transactions
    opening incidents at once (an operator's POST beside the correlation worker) would read
    the same max() and the loser would fail on the unique number: SQLite runs the statement
    under its one write lock, and on PostgreSQL the tenant's row is locked first so its
    incident inserts queue until the earlier one commits."""
    tenant_id = tenant_of(db)
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())
    incident.number = (
        select(func.coalesce(func.max(Incident.number), 0) + 1)
        .where(Incident.tenant_id == tenant_id)
        .scalar_subquery()
    )
    db.add(incident)
    db.flush()


def open_incident(
    db: Session,
    *,
    title: str,
    members: Sequence[Member],
    now: datetime,
    actor: str,
    policy: Policy,
    severity: str | None = None,
    category: str | None = None,
    assignee: str | None = None,
    correlation_key: str = "",
    reason: str = "",
) -> Incident:
    """A new triggered incident with its first members, classified and notified."""
    incident = Incident(
        number=0,
        title=title[:300],
        status="triggered",
        severity=severity or "low",
        category=category or "",
        category_confidence=1.0 if category else 0.0,
        category_source="operator" if category else "model",
        assignee=assignee,
        correlation_key=correlation_key,
        correlation_reason=reason,
        notify_seq=0,
        created_at=now,
        updated_at=now,
        last_alert_at=now,
    )
    _insert_numbered(db, incident)
    record(db, incident, "opened", actor=actor, message=reason or f"opened by {actor}", now=now)
    for member in members:
        add_member(db, incident, member, now=now, actor=actor, adjust_severity=severity is None)
    if severity is None and not members:
        incident.severity = "medium"
    classify(db, incident, policy)
    notify(db, incident, "opened", now=now, policy=policy)
    return incident


def add_member(
    db: Session,
    incident: Incident,
    member: Member,
    *,
    now: datetime,
    actor: str,
    adjust_severity: bool = True,
) -> IncidentAlert:
    row = IncidentAlert(
        incident_id=incident.id,
        fingerprint=member.fingerprint,
        group_name=member.group_name,
        alertname=member.alertname,
        labels=dict(member.labels),
        annotations=dict(member.annotations),
        state=member.state,
        joined_at=now,
        resolved_at=now if member.state == "resolved" else None,
        reason=member.reason,
    )
    db.add(row)
    if adjust_severity:
        incident.severity = worse(incident.severity, severity_of(member.labels))
    incident.last_alert_at = max(incident.last_alert_at, now)
    incident.updated_at = now
    record(
        db,
        incident,
        "alert_joined",
        actor=actor,
        message=f"{member.alertname} joined: {member.reason}",
        now=now,
        data={"fingerprint": member.fingerprint, "alertname": member.alertname},
    )
    return row


def classify(db: Session, incident: Incident, policy: Policy) -> None:
    """Set the model's category unless an operator chose one (theirs is never overwritten)."""
    if incident.category_source == "operator":
        return
    tenant_id = tenant_of(db) or incident.tenant_id
    result = policy.classifier.classify(tenant_id, text_of(db, incident))
    incident.category = result.category
    incident.category_confidence = result.confidence


def text_of(db: Session, incident: Incident) -> str:
    db.flush()
    alerts = [AlertText(m.alertname, m.labels, m.annotations) for m in members_of(db, incident.id)]
    return incident_text(incident.title, alerts)


def change_status(
    db: Session,
    incident: Incident,
    status: str,
    *,
    now: datetime,
    actor: str,
    policy: Policy,
    reason: str = "",
) -> bool:
    """Move the incident to `status`; False when it already is there. Raises ConflictError
    for a move the lifecycle does not allow (e.g. acknowledging a resolved incident)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    previous = incident.status
    if status == previous:
        return False
    if status not in TRANSITIONS[previous]:
        raise ConflictError(
            f"incident #{incident.number} is {previous}; it cannot become {status}"
            + (" (reopen it with status=triggered first)" if previous == "resolved" else "")
        )
    incident.status = status
    incident.updated_at = now
    kind = status
    if status == "acknowledged" and incident.acknowledged_at is None:
        incident.acknowledged_at = now
        TIME_TO_ACKNOWLEDGE.labels(incident.severity).observe(
            (now - incident.created_at).total_seconds()
        )
    elif status == "resolved":
        incident.resolved_at = now
        TIME_TO_RESOLVE.labels(incident.severity).observe(
            (now - incident.created_at).total_seconds()
        )
    elif previous == "resolved":
        incident.resolved_at = None
        kind = "reopened"
    elif previous == "acknowledged":
        kind = "unacknowledged"
    message = f"{previous} -> {status} by {actor}" + (f": {reason}" if reason else "")
    record(
        db,
        incident,
        "status_changed",
        actor=actor,
        message=message,
        now=now,
        data={"from": previous, "to": status},
    )
    notify(db, incident, kind, now=now, policy=policy)
    return True


def public_dict(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "number": incident.number,
        "title": incident.title,
        "status": incident.status,
        "severity": incident.severity,
        "category": incident.category,
        "category_confidence": incident.category_confidence,
        "assignee": incident.assignee,
        "created_at": incident.created_at.isoformat(),
        "acknowledged_at": iso_or_none(incident.acknowledged_at),
        "resolved_at": iso_or_none(incident.resolved_at),
    }


def notify(db: Session, incident: Incident, kind: str, *, now: datetime, policy: Policy) -> None:
    """Queue the change for the incident's receiver (every integration of it: channel "")."""
    db.flush()
    incident.notify_seq += 1
    key = f"incident:{incident.id}:{incident.notify_seq}:{kind}"
    alerts: Iterable[IncidentAlert] = members_of(db, incident.id)[:MAX_NOTIFIED_ALERTS]
    payload = {
        "kind": "incident",
        "event": kind,
        "incident": public_dict(incident),
        "alerts": [
            {
                "fingerprint": a.fingerprint,
                "alertname": a.alertname,
                "status": a.state,
                "labels": a.labels,
                "annotations": a.annotations,
            }
            for a in alerts
        ],
    }
    row = enqueue(
        db,
        OutboxMessage(
            idempotency_key=key,
            channel="",
            receiver=policy.receiver,
            payload=payload,
            priority=PRIORITY.get(incident.severity, "normal"),
            source="incident",
            source_ref=incident.id,
        ),
        now,
    )
    if row is not None:
        record(
            db,
            incident,
            "notification_queued",
            actor="system",
            message=f"{kind} notification queued for receiver {policy.receiver!r}",
            now=now,
            data={"idempotency_key": key, "event": kind, "receiver": policy.receiver},
        )
