"""On-call schedules, escalation policies and where each incident's escalation stands
(migration 0008)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from watchkeeper.db.tables.base import Base, TenantOwned, UtcDateTime, new_id


class OnCallSchedule(TenantOwned, Base):
    """Rotations and overrides as one JSON document (see `watchkeeper.oncall.schedules`)."""

    __tablename__ = "oncall_schedules"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_oncall_schedules_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class EscalationPolicyRow(TenantOwned, Base):
    """Levels, repeat and reminder settings, and which incidents it takes (`position` orders
    policies: the first that matches an incident escalates it)."""

    __tablename__ = "escalation_policies"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_escalation_policies_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class EscalationState(TenantOwned, Base):
    """Where one incident's escalation stands, written at each step so a restart resumes it.

    `cycle` grows when a resolved-then-reopened or re-triggered incident starts over, so
    the outbox idempotency keys of a new cycle differ from the old ones.
    """

    __tablename__ = "escalation_states"
    __table_args__ = (
        UniqueConstraint("tenant_id", "incident_id", name="uq_escalation_states_incident"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(64))
    policy_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # escalating | exhausted | acknowledged | done
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    level: Mapped[int] = mapped_column(Integer, default=0)  # next level to notify
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_level: Mapped[int] = mapped_column(Integer, default=-1)  # last level notified
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
