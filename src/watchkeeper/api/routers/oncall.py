"""On-call schedules (`/api/v1/schedules`) and escalation policies (`/api/v1/escalation-policies`)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from watchkeeper.api.deps import Context, TenantDB, require
from watchkeeper.api.errors import ApiError
from watchkeeper.db.tables import EscalationPolicyRow, OnCallSchedule
from watchkeeper.oncall import service
from watchkeeper.oncall.policies import EscalationPolicy
from watchkeeper.oncall.schedules import Schedule, who_is_on_call

router = APIRouter(prefix="/api/v1", tags=["on-call"])


class ScheduleBody(Schedule):
    name: str = Field(min_length=1, max_length=200)


class SchedulePublic(ScheduleBody):
    model_config = ConfigDict(extra="ignore")
    id: str


class OnCallPublic(BaseModel):
    schedule: str
    at: datetime
    users: list[str]


class PolicyBody(EscalationPolicy):
    name: str = Field(min_length=1, max_length=200)
    position: int = Field(0, ge=0, le=1_000_000, description="lower is tried first")


class PolicyPublic(PolicyBody):
    model_config = ConfigDict(extra="ignore")
    id: str


def _schedule(row: OnCallSchedule) -> SchedulePublic:
    return SchedulePublic.model_validate(
        {**row.spec, "timezone": row.timezone, "name": row.name, "id": row.id}
    )


def _policy(row: EscalationPolicyRow) -> PolicyPublic:
    return PolicyPublic.model_validate(
        {**row.spec, "name": row.name, "position": row.position, "id": row.id}
    )


def _schedule_doc(body: ScheduleBody) -> Schedule:
    return Schedule.model_validate(body.model_dump(exclude={"name"}))


def _policy_doc(body: PolicyBody) -> EscalationPolicy:
    return EscalationPolicy.model_validate(body.model_dump(exclude={"name", "position"}))


def _save_policy(
    db: Session, body: PolicyBody, now: datetime, row: EscalationPolicyRow | None = None
) -> EscalationPolicyRow:
    """`service.save_policy`, with unknown targets answered like any invalid field."""
    try:
        return service.save_policy(
            db,
            name=body.name,
            position=body.position,
            policy=_policy_doc(body),
            now=now,
            row=row,
        )
    except service.UnknownTargetError as exc:
        raise ApiError(
            422,
            str(exc),
            code="unknown_target",
            details=[
                {
                    "field": f"body.{u.path}.id",
                    "message": f"no {u.target.type} {u.target.id!r} in this tenant",
                    "type": "unknown_target",
                }
                for u in exc.unknown
            ],
        ) from None


@router.get(
    "/schedules",
    response_model=list[SchedulePublic],
    dependencies=[Depends(require("oncall:read"))],
)
def list_schedules(db: TenantDB) -> list[SchedulePublic]:
    return [_schedule(row) for row in service.list_schedules(db)]


@router.post(
    "/schedules",
    status_code=201,
    response_model=SchedulePublic,
    dependencies=[Depends(require("oncall:write"))],
)
def create_schedule(body: ScheduleBody, db: TenantDB, context: Context) -> SchedulePublic:
    row = service.save_schedule(
        db, name=body.name, schedule=_schedule_doc(body), now=context.clock.now()
    )
    return _schedule(row)


@router.get(
    "/schedules/{schedule_id}",
    response_model=SchedulePublic,
    dependencies=[Depends(require("oncall:read"))],
)
def get_schedule(schedule_id: str, db: TenantDB) -> SchedulePublic:
    return _schedule(service.find_schedule(db, schedule_id))


@router.put(
    "/schedules/{schedule_id}",
    response_model=SchedulePublic,
    dependencies=[Depends(require("oncall:write"))],
)
def replace_schedule(
    schedule_id: str, body: ScheduleBody, db: TenantDB, context: Context
) -> SchedulePublic:
    row = service.find_schedule(db, schedule_id)
    row = service.save_schedule(
        db, name=body.name, schedule=_schedule_doc(body), now=context.clock.now(), row=row
    )
    return _schedule(row)


@router.delete(
    "/schedules/{schedule_id}",
    status_code=204,
    response_class=Response,
    dependencies=[Depends(require("oncall:write"))],
)
def delete_schedule(schedule_id: str, db: TenantDB) -> Response:
    service.delete_row(db, service.find_schedule(db, schedule_id))
    return Response(status_code=204)


@router.get(
    "/schedules/{schedule_id}/oncall",
    response_model=OnCallPublic,
    dependencies=[Depends(require("oncall:read"))],
    summary="Who is on call at `at` (default: now)",
)
def on_call(
    schedule_id: str,
    db: TenantDB,
    context: Context,
    at: datetime | None = Query(None, description="RFC 3339 time with an offset"),
) -> OnCallPublic:
    if at is not None and at.tzinfo is None:
        raise ApiError(422, "`at` needs a UTC offset, e.g. 2026-12-24T18:00:00Z")
    moment = at or context.clock.now()
    row = service.find_schedule(db, schedule_id)
    return OnCallPublic(
        schedule=row.name, at=moment, users=who_is_on_call(service.schedule_of(row), moment)
    )


@router.get(
    "/escalation-policies",
    response_model=list[PolicyPublic],
    dependencies=[Depends(require("oncall:read"))],
)
def list_policies(db: TenantDB) -> list[PolicyPublic]:
    return [_policy(row) for row in service.list_policies(db)]


@router.post(
    "/escalation-policies",
    status_code=201,
    response_model=PolicyPublic,
    dependencies=[Depends(require("oncall:write"))],
)
def create_policy(body: PolicyBody, db: TenantDB, context: Context) -> PolicyPublic:
    return _policy(_save_policy(db, body, context.clock.now()))


@router.get(
    "/escalation-policies/{policy_id}",
    response_model=PolicyPublic,
    dependencies=[Depends(require("oncall:read"))],
)
def get_policy(policy_id: str, db: TenantDB) -> PolicyPublic:
    return _policy(service.find_policy(db, policy_id))


@router.put(
    "/escalation-policies/{policy_id}",
    response_model=PolicyPublic,
    dependencies=[Depends(require("oncall:write"))],
)
def replace_policy(
    policy_id: str, body: PolicyBody, db: TenantDB, context: Context
) -> PolicyPublic:
    row = service.find_policy(db, policy_id)
    return _policy(_save_policy(db, body, context.clock.now(), row))


@router.delete(
    "/escalation-policies/{policy_id}",
    status_code=204,
    response_class=Response,
    dependencies=[Depends(require("oncall:write"))],
)
def delete_policy(policy_id: str, db: TenantDB) -> Response:
    service.delete_row(db, service.find_policy(db, policy_id))
    return Response(status_code=204)
