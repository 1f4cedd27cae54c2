"""Incidents: list, open, change (acknowledge, resolve, reopen, assign, correct), comment,
merge and split. Reads need `incidents:read`, changes `incidents:write`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from watchkeeper.api.deps import Context, CurrentPrincipal, TenantDB, require
from watchkeeper.api.schemas.incidents import (
    CommentCreate,
    IncidentAlertPublic,
    IncidentCreate,
    IncidentDetail,
    IncidentEventPublic,
    IncidentList,
    IncidentPublic,
    IncidentUpdate,
    MergeRequest,
    Severity,
    SplitRequest,
    SplitResult,
    Status,
)
from watchkeeper.db.tables import Incident
from watchkeeper.incidents import service
from watchkeeper.incidents.classifier import Category
from watchkeeper.incidents.lifecycle import Policy, members_of
from watchkeeper.wiring import incident_policy

router = APIRouter(prefix="/incidents", tags=["incidents"])


@dataclass(frozen=True)
class _Author:
    """Who makes a change and when: what every write hands the service with the change."""

    now: datetime
    actor: str


def _author(context: Context, principal: CurrentPrincipal) -> _Author:
    return _Author(now=context.clock.now(), actor=principal.name)


def _policy(context: Context) -> Policy:
    return incident_policy(context)


Author = Annotated[_Author, Depends(_author)]
IncidentPolicy = Annotated[Policy, Depends(_policy)]


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if end else None


def _public(row: Incident, alert_count: int) -> IncidentPublic:
    return IncidentPublic(
        id=row.id,
        number=row.number,
        title=row.title,
        status=row.status,
        severity=row.severity,
        category=row.category,
        category_confidence=row.category_confidence,
        category_source=row.category_source,
        assignee=row.assignee,
        correlation_key=row.correlation_key,
        correlation_reason=row.correlation_reason,
        merged_into=row.merged_into,
        created_at=row.created_at,
        updated_at=row.updated_at,
        acknowledged_at=row.acknowledged_at,
        resolved_at=row.resolved_at,
        time_to_acknowledge_seconds=_seconds(row.created_at, row.acknowledged_at),
        time_to_resolve_seconds=_seconds(row.created_at, row.resolved_at),
        alert_count=alert_count,
    )


def _detail(db: TenantDB, row: Incident) -> IncidentDetail:
    db.flush()
    alerts = members_of(db, row.id)
    return IncidentDetail(
        **_public(row, len(alerts)).model_dump(),
        alerts=[
            IncidentAlertPublic(
                fingerprint=a.fingerprint,
                alertname=a.alertname,
                group=a.group_name,
                labels=a.labels,
                annotations=a.annotations,
                state=a.state,
                joined_at=a.joined_at,
                resolved_at=a.resolved_at,
                reason=a.reason,
            )
            for a in alerts
        ],
        timeline=[
            IncidentEventPublic(
                id=e.id, at=e.at, kind=e.kind, actor=e.actor, message=e.message, data=e.data
            )
            for e in service.timeline(db, row)
        ],
    )


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@router.get(
    "",
    response_model=IncidentList,
    dependencies=[Depends(require("incidents:read"))],
    summary="Incidents, newest first, filtered and paginated",
)
def list_incidents(
    db: TenantDB,
    status: list[Status] | None = Query(None),
    severity: list[Severity] | None = Query(None),
    category: list[Category] | None = Query(None),
    assignee: str | None = Query(None, max_length=32, description="a user id"),
    since: datetime | None = Query(None, description="opened at or after (RFC 3339)"),
    until: datetime | None = Query(None, description="opened before (RFC 3339)"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> IncidentList:
    rows, total = service.list_incidents(
        db,
        service.IncidentFilter(
            status=status or (),
            severity=severity or (),
            category=category or (),
            assignee=assignee,
            since=_as_utc(since),
            until=_as_utc(until),
        ),
        limit=limit,
        offset=offset,
    )
    counts = service.alert_counts(db, [r.id for r in rows])
    return IncidentList(
        incidents=[_public(r, counts.get(r.id, 0)) for r in rows],
        total=total,
        next_offset=offset + len(rows) if offset + len(rows) < total else None,
    )


@router.post(
    "",
    response_model=IncidentDetail,
    status_code=201,
    dependencies=[Depends(require("incidents:write"))],
    summary="Open an incident by hand, optionally with alerts (by fingerprint)",
)
def create_incident(
    body: IncidentCreate, db: TenantDB, by: Author, policy: IncidentPolicy
) -> IncidentDetail:
    row = service.create(
        db,
        title=body.title,
        severity=body.severity,
        category=body.category,
        assignee=body.assignee,
        fingerprints=body.fingerprints,
        now=by.now,
        actor=by.actor,
        policy=policy,
    )
    return _detail(db, row)


@router.get(
    "/{incident}",
    response_model=IncidentDetail,
    dependencies=[Depends(require("incidents:read"))],
    summary="One incident (by id or number) with its alerts, timeline and MTTA/MTTR",
)
def get_incident(incident: str, db: TenantDB) -> IncidentDetail:
    return _detail(db, service.get(db, incident))


@router.patch(
    "/{incident}",
    response_model=IncidentDetail,
    dependencies=[Depends(require("incidents:write"))],
    summary="Acknowledge, resolve, reopen, assign, retitle, change severity or category",
)
def update_incident(
    incident: str, body: IncidentUpdate, db: TenantDB, by: Author, policy: IncidentPolicy
) -> IncidentDetail:
    row = service.get(db, incident)
    change = service.IncidentChange(
        status=body.status,
        severity=body.severity,
        title=body.title,
        category=body.category,
        assignee=body.assignee,
        assignee_set="assignee" in body.model_fields_set,
    )
    service.update(db, row, change, now=by.now, actor=by.actor, policy=policy)
    return _detail(db, row)


@router.post(
    "/{incident}/comments",
    response_model=IncidentDetail,
    status_code=201,
    dependencies=[Depends(require("incidents:write"))],
    summary="Add a comment to the timeline",
)
def comment_incident(
    incident: str, body: CommentCreate, db: TenantDB, by: Author
) -> IncidentDetail:
    row = service.get(db, incident)
    service.comment(db, row, body.text, now=by.now, actor=by.actor)
    return _detail(db, row)


@router.post(
    "/{incident}/merge",
    response_model=IncidentDetail,
    dependencies=[Depends(require("incidents:write"))],
    summary="Merge other incidents into this one (teaches the correlator they belong together)",
)
def merge_incidents(
    incident: str, body: MergeRequest, db: TenantDB, by: Author, policy: IncidentPolicy
) -> IncidentDetail:
    row = service.get(db, incident)
    service.merge(db, row, body.incidents, now=by.now, actor=by.actor, policy=policy)
    return _detail(db, row)


@router.post(
    "/{incident}/split",
    response_model=SplitResult,
    status_code=201,
    dependencies=[Depends(require("incidents:write"))],
    summary="Move named alerts to a new incident (teaches the correlator they differ)",
)
def split_incident(
    incident: str, body: SplitRequest, db: TenantDB, by: Author, policy: IncidentPolicy
) -> SplitResult:
    row = service.get(db, incident)
    created = service.split(
        db,
        row,
        body.fingerprints,
        title=body.title,
        now=by.now,
        actor=by.actor,
        policy=policy,
    )
    return SplitResult(source=_detail(db, row), created=_detail(db, created))
