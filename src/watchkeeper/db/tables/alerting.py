"""Alert rules and the state of their alerts, then what the dispatcher keeps: silences, a
tenant's handling configuration and its aggregation groups (migration 0005)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from watchkeeper.db.tables.base import Base, TenantOwned, UtcDateTime, new_id


class AlertRuleGroup(TenantOwned, Base):
    """A rule group as code: its JSON form (`spec`), where it came from, its last evaluation.

    `source` is "api" (managed through /api/v1/rules/groups) or "file" (loaded from
    `rule_files`, read-only over the API). `revision` grows on every change so evaluators
    recompile it; `rule_health` holds each rule's health, lastError and evaluation times.
    """

    __tablename__ = "alert_rule_groups"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_alert_rule_groups_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(8))
    file: Mapped[str] = mapped_column(Text, default="")
    interval_seconds: Mapped[float] = mapped_column(Float)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_evaluation: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    evaluation_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    rule_health: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AlertInstance(TenantOwned, Base):
    """One alert of one rule (its label set, keyed by `fingerprint`) and where its state stands.

    The row is written at each transition, so a restarted evaluator resumes it: `fired_at` is
    the alert's startsAt, `notified_state` the last state a notification was queued for.
    A resolved row is reused when the same label set becomes active again.
    """

    __tablename__ = "alert_instances"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "group_name", "fingerprint", name="uq_alert_instances_fingerprint"
        ),
        Index("ix_alert_instances_tenant_state", "tenant_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    group_name: Mapped[str] = mapped_column(String(200))
    rule_name: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(16), index=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    annotations: Mapped[dict[str, str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))  # pending | firing | resolved
    value: Mapped[float] = mapped_column(Float)
    active_at: Mapped[datetime] = mapped_column(UtcDateTime())
    fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    keep_firing_since: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_evaluation: Mapped[datetime] = mapped_column(UtcDateTime())
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    changes: Mapped[list[float]] = mapped_column(JSON, default=list)
    notified_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    generator_url: Mapped[str] = mapped_column(Text, default="")
    explanation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class AlertTransition(TenantOwned, Base):
    """One state change of an alert, for `GET /api/v1/alerts/{fingerprint}`'s history."""

    __tablename__ = "alert_transitions"
    __table_args__ = (Index("ix_alert_transitions_fingerprint", "tenant_id", "fingerprint", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_name: Mapped[str] = mapped_column(String(200))
    rule_name: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)


class AlertEvent(TenantOwned, Base):
    """The alert-event queue: an alert's change, written in the transaction of the change.

    `kind` is firing, resolved or flapping; `payload` is the alert in Alertmanager's form.
    The dispatcher takes `pending` rows, routes and groups them into outbox rows, and marks
    them `sent` (consumed) in the same transaction. The table keeps its original name.
    """

    __tablename__ = "alert_notifications"
    __table_args__ = (Index("ix_alert_notifications_status", "tenant_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_name: Mapped[str] = mapped_column(String(200))
    rule_name: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class SilenceRow(TenantOwned, Base):
    """A silence (Alertmanager's model); expired ones stay as history. Its state (pending,
    active, expired) is derived from the clock, never stored; expiring sets `ends_at`."""

    __tablename__ = "silences"
    __table_args__ = (Index("ix_silences_tenant_ends_at", "tenant_id", "ends_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # {name,value,isRegex,isEqual}
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AlertHandlingConfig(TenantOwned, Base):
    """A tenant's `route`, `inhibit_rules`, `time_intervals`, `receivers` as the text it sent
    (YAML or JSON), kept verbatim so YAML-only values round-trip; absent: the default."""

    __tablename__ = "alert_handling_configs"
    __table_args__ = (UniqueConstraint("tenant_id", name="uq_alert_handling_configs_tenant"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    text: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AlertDispatchState(TenantOwned, Base):
    """The dispatcher's aggregation groups for one tenant (`Dispatcher.to_dict`), saved in the
    transaction that writes the outbox rows they caused; `seq` numbers the notifications
    (part of their idempotency keys); `next_flush_at` lets an idle tenant be skipped cheaply."""

    __tablename__ = "alert_dispatch_state"
    __table_args__ = (UniqueConstraint("tenant_id", name="uq_alert_dispatch_state_tenant"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    next_flush_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
