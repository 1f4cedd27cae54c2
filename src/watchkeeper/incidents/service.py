"""Incidents as operators use them (API and CLI): every function takes a tenant session.

Operators' corrections teach: a category change is stored and, once committed, refits the
tenant's classifier in the background; a merge adds co-occurrence evidence between the merged alertnames, a split takes
it away between the alerts moved out and those left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from watchkeeper.db.tables import (
    AlertInstance,
    CategoryCorrection,
    Incident,
    IncidentAlert,
    IncidentEvent,
    Membership,
)
from watchkeeper.incidents import cooccurrence
from watchkeeper.incidents.classifier import CATEGORIES
from watchkeeper.incidents.lifecycle import (
    SEVERITIES,
    Member,
    Policy,
    change_status,
    classify,
    members_of,
    open_incident,
    record,
    severity_of,
    text_of,
    worse,
)
from watchkeeper.tenancy.scope import tenant_of
from watchkeeper.tenancy.service import ConflictError, NotFoundError


@dataclass(frozen=True)
class IncidentFilter:
    status: Sequence[str] = ()
    severity: Sequence[str] = ()
    category: Sequence[str] = ()
    assignee: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class IncidentChange:
    """A PATCH: only the fields given change (`assignee_set` tells "unassign" from "absent")."""

    status: str | None = None
    severity: str | None = None
    title: str | None = None
    category: str | None = None
    assignee: str | None = None
    assignee_set: bool = False


def get(db: Session, ref: str) -> Incident:
    """By id, or by number (`42` or `#42`)."""
    number = ref.removeprefix("#")
    if number.isdigit() and len(number) < 10:
        row = db.scalar(select(Incident).where(Incident.number == int(number)))
    else:
        row = db.get(Incident, ref) if len(ref) <= 32 else None
        if row is not None and row.tenant_id != tenant_of(db):
            row = None
    if row is None:
        raise NotFoundError(f"incident {ref!r} not found")
    return row


def timeline(db: Session, incident: Incident) -> list[IncidentEvent]:
    return list(
        db.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident.id)
            .order_by(IncidentEvent.at, IncidentEvent.id)
        )
    )


def list_incidents(
    db: Session, where: IncidentFilter, *, limit: int, offset: int
) -> tuple[list[Incident], int]:
    query = select(Incident)
    if where.status:
        query = query.where(Incident.status.in_(where.status))
    if where.severity:
        query = query.where(Incident.severity.in_(where.severity))
    if where.category:
        query = query.where(Incident.category.in_(where.category))
    if where.assignee is not None:
        query = query.where(Incident.assignee == where.assignee)
    if where.since is not None:
        query = query.where(Incident.created_at >= where.since)
    if where.until is not None:
        query = query.where(Incident.created_at < where.until)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(
        query.order_by(Incident.created_at.desc(), Incident.number.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total)


def alert_counts(db: Session, incident_ids: Sequence[str]) -> dict[str, int]:
    if not incident_ids:
        return {}
    rows = db.execute(
        select(IncidentAlert.incident_id, func.count())
        .where(IncidentAlert.incident_id.in_(incident_ids))
        .group_by(IncidentAlert.incident_id)
    ).all()
    return {incident_id: int(n) for incident_id, n in rows}


def _check_assignee(db: Session, user_id: str) -> None:
    if db.scalar(select(Membership.id).where(Membership.user_id == user_id)) is None:
        raise ValueError(f"assignee {user_id!r} is not a user of this tenant")


def _check_category(category: str) -> None:
    if category not in CATEGORIES:
        raise ValueError(f"category must be one of {', '.join(CATEGORIES)}, not {category!r}")


def _check_severity(severity: str) -> None:
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")


def _alert_members(db: Session, fingerprints: Sequence[str], actor: str) -> list[Member]:
    members = []
    for fingerprint in dict.fromkeys(fingerprints):
        alert = db.scalar(
            select(AlertInstance)
            .where(AlertInstance.fingerprint == fingerprint)
            .order_by(AlertInstance.last_evaluation.desc())
            .limit(1)
        )
        if alert is None:
            raise ValueError(f"no alert with fingerprint {fingerprint!r}")
        labels = dict(alert.labels)
        labels.setdefault("alertname", alert.rule_name)
        members.append(
            Member(
                fingerprint=fingerprint,
                alertname=labels["alertname"],
                labels=labels,
                annotations=dict(alert.annotations),
                group_name=alert.group_name,
                state="firing" if alert.state == "firing" else "resolved",
                reason=f"added by {actor}",
            )
        )
    return members


def create(
    db: Session,
    *,
    title: str,
    now: datetime,
    actor: str,
    policy: Policy,
    severity: str | None = None,
    category: str | None = None,
    assignee: str | None = None,
    fingerprints: Sequence[str] = (),
) -> Incident:
    if severity is not None:
        _check_severity(severity)
    if category is not None:
        _check_category(category)
    if assignee is not None:
        _check_assignee(db, assignee)
    members = _alert_members(db, fingerprints, actor)
    return open_incident(
        db,
        title=title,
        members=members,
        now=now,
        actor=actor,
        policy=policy,
        severity=severity,
        category=category,
        assignee=assignee,
        reason=f"opened by {actor}",
    )


def update(
    db: Session,
    incident: Incident,
    change: IncidentChange,
    *,
    now: datetime,
    actor: str,
    policy: Policy,
) -> Incident:
    """Apply a PATCH; validation happens before anything changes."""
    if change.severity is not None:
        _check_severity(change.severity)
    if change.category is not None:
        _check_category(change.category)
    if change.assignee_set and change.assignee is not None:
        _check_assignee(db, change.assignee)
    if change.title is not None and change.title != incident.title:
        record(db, incident, "title_changed", actor=actor, message=change.title, now=now)
        incident.title = change.title
    if change.severity is not None and change.severity != incident.severity:
        record(
            db,
            incident,
            "severity_changed",
            actor=actor,
            message=f"{incident.severity} -> {change.severity}",
            now=now,
            data={"from": incident.severity, "to": change.severity},
        )
        incident.severity = change.severity
    if change.assignee_set and change.assignee != incident.assignee:
        record(
            db,
            incident,
            "assignee_changed",
            actor=actor,
            message=f"assigned to {change.assignee}" if change.assignee else "unassigned",
            now=now,
            data={"from": incident.assignee, "to": change.assignee},
        )
        incident.assignee = change.assignee
    if change.category is not None:
        correct_category(db, incident, change.category, now=now, actor=actor, policy=policy)
    if change.status is not None:
        change_status(db, incident, change.status, now=now, actor=actor, policy=policy)
    incident.updated_at = now
    return incident


def correct_category(
    db: Session, incident: Incident, category: str, *, now: datetime, actor: str, policy: Policy
) -> None:
    """An operator's category: kept on the incident, stored as training data, model refit."""
    previous = incident.category
    incident.category, incident.category_confidence = category, 1.0
    incident.category_source = "operator"
    record(
        db,
        incident,
        "category_changed",
        actor=actor,
        message=f"{previous or 'none'} -> {category}",
        now=now,
        data={"from": previous, "to": category},
    )
    db.add(
        CategoryCorrection(
            incident_id=incident.id,
            text=text_of(db, incident),
            category=category,
            actor=actor,
            at=now,
        )
    )
    db.flush()
    corrections = [(c.text, c.category) for c in db.scalars(select(CategoryCorrection))]
    tenant_id = tenant_of(db) or incident.tenant_id
    classifier = policy.classifier
    event.listen(
        db,
        "after_commit",
        lambda _session: classifier.refit_soon(tenant_id, corrections),
        once=True,
    )


def comment(db: Session, incident: Incident, text: str, *, now: datetime, actor: str) -> None:
    record(db, incident, "comment", actor=actor, message=text, now=now)
    incident.updated_at = now


def merge(
    db: Session,
    target: Incident,
    refs: Sequence[str],
    *,
    now: datetime,
    actor: str,
    policy: Policy,
) -> list[Incident]:
    """Move the alerts of the `refs` incidents into `target`; they resolve as merged."""
    sources = [get(db, ref) for ref in dict.fromkeys(refs)]
    if not sources:
        raise ValueError("name at least one incident to merge into this one")
    for source in sources:
        if source.id == target.id:
            raise ValueError(f"incident #{target.number} cannot be merged into itself")
        if source.merged_into is not None:
            raise ConflictError(f"incident #{source.number} was already merged")
    for source in sources:
        kept = members_of(db, target.id)
        have = {m.fingerprint for m in kept}
        moved = members_of(db, source.id)
        cooccurrence.adjust(
            db, {m.alertname for m in kept}, {m.alertname for m in moved}, delta=1.0
        )
        for member in moved:
            if member.fingerprint in have:
                db.delete(member)
                continue
            member.incident_id = target.id
            member.reason = f"{member.reason}; merged from #{source.number} by {actor}"
            target.severity = worse(target.severity, severity_of(member.labels))
            target.last_alert_at = max(target.last_alert_at, member.joined_at)
        record(
            db,
            target,
            "merged",
            actor=actor,
            message=f"incident #{source.number} merged into this one ({len(moved)} alerts)",
            now=now,
            data={"source": source.id, "alerts": [m.fingerprint for m in moved]},
        )
        record(
            db,
            source,
            "merged",
            actor=actor,
            message=f"merged into incident #{target.number}",
            now=now,
            data={"target": target.id},
        )
        source.merged_into = target.id
        if source.status != "resolved":
            change_status(
                db,
                source,
                "resolved",
                now=now,
                actor=actor,
                policy=policy,
                reason=f"merged into #{target.number}",
            )
    db.flush()
    classify(db, target, policy)
    target.updated_at = now
    return sources


def split(
    db: Session,
    incident: Incident,
    fingerprints: Sequence[str],
    *,
    now: datetime,
    actor: str,
    policy: Policy,
    title: str | None = None,
) -> Incident:
    """Move the named alerts into a new incident; at least one alert must stay behind."""
    wanted = list(dict.fromkeys(fingerprints))
    if not wanted:
        raise ValueError("name at least one alert fingerprint to split off")
    members = members_of(db, incident.id)
    by_fingerprint = {m.fingerprint: m for m in members}
    unknown = [f for f in wanted if f not in by_fingerprint]
    if unknown:
        raise ValueError(f"alerts {', '.join(unknown)} are not in incident #{incident.number}")
    if len(wanted) == len(members):
        raise ValueError("a split must leave at least one alert in the incident")
    moving = [by_fingerprint[f] for f in wanted]
    staying = [m for m in members if m.fingerprint not in set(wanted)]
    cooccurrence.adjust(
        db, {m.alertname for m in moving}, {m.alertname for m in staying}, delta=-1.0
    )
    for member in moving:
        db.delete(member)
    db.flush()
    first = moving[0]
    new = open_incident(
        db,
        title=title or f"{first.alertname} (split from #{incident.number})",
        members=[
            Member(
                fingerprint=m.fingerprint,
                alertname=m.alertname,
                labels=m.labels,
                annotations=m.annotations,
                group_name=m.group_name,
                state=m.state,
                reason=f"split from #{incident.number} by {actor}",
            )
            for m in moving
        ],
        now=now,
        actor=actor,
        policy=policy,
        reason=f"split from #{incident.number} by {actor}",
    )
    record(
        db,
        incident,
        "split",
        actor=actor,
        message=f"{len(moving)} alerts moved to new incident #{new.number}",
        now=now,
        data={"target": new.id, "alerts": wanted},
    )
    incident.severity = "low"
    for member in staying:
        incident.severity = worse(incident.severity, severity_of(member.labels))
    classify(db, incident, policy)
    incident.updated_at = now
    return new
