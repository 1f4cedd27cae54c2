"""Schedules and escalation policies stored per tenant (tenant sessions only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from watchkeeper.db.tables import EscalationPolicyRow, Membership, OnCallSchedule, User
from watchkeeper.tenancy.service import ConflictError, find_by_id_or_name

from .policies import EscalationPolicy, Target
from .schedules import Schedule


@dataclass(frozen=True)
class UnknownTarget:
    """A target no user or schedule of the tenant answers to; `path` is where the policy
    names it (`levels.<i>.targets.<j>`)."""

    path: str
    target: Target


class UnknownTargetError(ValueError):
    """A policy names users or schedules the tenant does not have. Refused at save because
    the escalation worker would otherwise find out mid-incident, and page no one."""

    def __init__(self, unknown: list[UnknownTarget]) -> None:
        self.unknown = unknown
        named = ", ".join(f"{u.target.type} {u.target.id!r} ({u.path})" for u in unknown)
        super().__init__(f"escalation policy names unknown targets: {named}")


def list_schedules(db: Session) -> list[OnCallSchedule]:
    return list(db.scalars(select(OnCallSchedule).order_by(OnCallSchedule.name)))


def find_schedule(db: Session, id_or_name: str) -> OnCallSchedule:
    return find_by_id_or_name(
        db, OnCallSchedule, (OnCallSchedule.id, OnCallSchedule.name), id_or_name, "schedule"
    )


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
    return find_by_id_or_name(
        db,
        EscalationPolicyRow,
        (EscalationPolicyRow.id, EscalationPolicyRow.name),
        id_or_name,
        "escalation policy",
    )


def policy_of(row: EscalationPolicyRow) -> EscalationPolicy:
    return EscalationPolicy.model_validate(row.spec)


def unknown_targets(db: Session, policy: EscalationPolicy) -> list[UnknownTarget]:
    """The user and schedule targets that match no member or schedule of the session's
    tenant, by id or name as the worker resolves them (a user of another tenant is unknown:
    memberships are tenant rows). Receivers are not checked: one named `default` exists
    implicitly, and delivery reports a missing one as a dead letter."""
    wanted = {
        kind: {t.id for level in policy.levels for t in level.targets if t.type == kind}
        for kind in ("user", "schedule")
    }
    known: dict[str, set[str]] = {"user": set(), "schedule": set()}
    if wanted["user"]:
        members = db.execute(
            select(User.id, User.username)
            .join(Membership, Membership.user_id == User.id)
            .where(or_(User.id.in_(wanted["user"]), User.username.in_(wanted["user"])))
        )
        for user_id, username in members:
            known["user"] |= {user_id, username}
    if wanted["schedule"]:
        schedules = db.execute(
            select(OnCallSchedule.id, OnCallSchedule.name).where(
                or_(
                    OnCallSchedule.id.in_(wanted["schedule"]),
                    OnCallSchedule.name.in_(wanted["schedule"]),
                )
            )
        )
        for schedule_id, schedule_name in schedules:
            known["schedule"] |= {schedule_id, schedule_name}
    return [
        UnknownTarget(f"levels.{i}.targets.{j}", target)
        for i, level in enumerate(policy.levels)
        for j, target in enumerate(level.targets)
        if target.type in known and target.id not in known[target.type]
    ]


def save_policy(
    db: Session,
    *,
    name: str,
    position: int,
    policy: EscalationPolicy,
    now: datetime,
    row: EscalationPolicyRow | None = None,
) -> EscalationPolicyRow:
    """Raises UnknownTargetError for a user or schedule the tenant does not have."""
    unknown = unknown_targets(db, policy)
    if unknown:
        raise UnknownTargetError(unknown)
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
