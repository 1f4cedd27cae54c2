"""Schedules and escalation policies stored per tenant (tenant sessions only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from watchkeeper.db.tables import EscalationPolicyRow, OnCallSchedule
from watchkeeper.tenancy.service import ConflictError, NotFoundError

from .policies import EscalationPolicy
from .schedules import Schedule


def list_schedules(db: Session) -> list[OnCallSchedule]:
    return list(db.scalars(select(OnCallSchedule).order_by(OnCallSchedule.name)))


def find_schedule(db: Session, id_or_name: str) -> OnCallSchedule:
    row = db.scalar(
        select(OnCallSchedule).where(
            or_(OnCallSchedule.id == id_or_name, OnCallSchedule.name == id_or_name)
        )
    )
    if row is None:
        raise NotFoundError(f"schedule {id_or_name!r} not found")
    return row


def schedule_of(row: OnCallSchedule) -> Schedule:
    return Schedule.model_validate({**row.spec, "timezone": row.timezone})


def _name_free(
    db: Session, model: type[OnCallSchedule | EscalationPolicyRow], name: str, own: str
) -> None:
    clash = db.scalar(select(model.id).where(model.name == name, model.id != own))
    if clash is not None:
        raise ConflictError(f"the name {name!r} is already taken")


def save_schedule(
    db: Session, *, name: str, schedule: Schedule, now: datetime, row: OnCallSchedule | None = None
) -> OnCallSchedule:
    _name_free(db, OnCallSchedule, name, row.id if row else "")
    spec = schedule.model_dump(mode="json", exclude={"timezone"})
    if row is None:
        row = OnCallSchedule(name=name, created_at=now)
        db.add(row)
    row.name, row.timezone, row.spec, row.updated_at = name, schedule.timezone, spec, now
    db.flush()
    return row


def list_policies(db: Session) -> list[EscalationPolicyRow]:
    return list(
        db.scalars(
            select(EscalationPolicyRow).order_by(
                EscalationPolicyRow.position, EscalationPolicyRow.name
            )
        )
    )


def find_policy(db: Session, id_or_name: str) -> EscalationPolicyRow:
    row = db.scalar(
        select(EscalationPolicyRow).where(
            or_(EscalationPolicyRow.id == id_or_name, EscalationPolicyRow.name == id_or_name)
        )
    )
    if row is None:
        raise NotFoundError(f"escalation policy {id_or_name!r} not found")
    return row


def policy_of(row: EscalationPolicyRow) -> EscalationPolicy:
    return EscalationPolicy.model_validate(row.spec)


def save_policy(
    db: Session,
    *,
    name: str,
    position: int,
    policy: EscalationPolicy,
    now: datetime,
    row: EscalationPolicyRow | None = None,
) -> EscalationPolicyRow:
    _name_free(db, EscalationPolicyRow, name, row.id if row else "")
    if row is None:
        row = EscalationPolicyRow(name=name, created_at=now)
        db.add(row)
    row.name, row.position, row.updated_at = name, position, now
    row.spec = policy.model_dump(mode="json")
    db.flush()
    return row


def delete_row(db: Session, row: OnCallSchedule | EscalationPolicyRow) -> None:
    db.delete(row)
