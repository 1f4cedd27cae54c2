"""The metadata tables. Every tenant-owned row carries `tenant_id` via `TenantOwned`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps stored and returned as timezone-aware UTC on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; every stored time must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class TenantOwned:
    """Mixin for rows that belong to one tenant; the tenant-scoped session filters on it."""

    tenant_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class User(Base):
    """A person. Users are global; what they may do in a tenant comes from a Membership."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_superadmin: Mapped[bool] = mapped_column(Boolean, default=False)
    password_change_required: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Membership(TenantOwned, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", name="uq_memberships_tenant_user"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ApiKey(TenantOwned, Base):
    """A machine credential: `wk_<prefix>_<secret>`; only a SHA-256 of the secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class RefreshToken(TenantOwned, Base):
    """One link of a rotating refresh-token family; reuse of a used link revokes the family."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family", "family_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    family_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class AuditRecord(Base):
    """Who did what, in which tenant, when, with which outcome.

    `tenant_id` is empty only for requests that never reached a tenant (a failed login).
    Records are chained: `hash` covers the record and the previous record's hash, so an
    edited or deleted row breaks the chain (`watchkeeper audit verify`).
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_at", "tenant_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    actor_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    action: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AnomalyRecord(TenantOwned, Base):
    """A point the detection loop judged anomalous, with its explanation as data and words.

    `series_hash` (SHA-256 of the canonical series text) plus `at` is unique, so replaying
    samples after a crash does not record an event twice.
    """

    __tablename__ = "anomaly_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "series_hash", "at", name="uq_anomaly_events_series_at"),
        Index("ix_anomaly_events_tenant_at", "tenant_id", "at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    series_hash: Mapped[str] = mapped_column(String(64))
    series: Mapped[str] = mapped_column(Text)
    metric: Mapped[str] = mapped_column(String(200), index=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    detector: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    pattern: Mapped[str] = mapped_column(String(32))
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    sentence: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DetectionModel(TenantOwned, Base):
    """One series' detector as the loop and training know it: where its saved state stands.

    `revision` grows each time training replaces the model, so the loop reloads it;
    `last_sample_at` is the newest sample inside the saved state (where scoring resumes).
    """

    __tablename__ = "detection_models"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "series_hash", "detector", name="uq_detection_models_series_detector"
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    series_hash: Mapped[str] = mapped_column(String(64))
    series: Mapped[str] = mapped_column(Text)
    metric: Mapped[str] = mapped_column(String(200))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    detector: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    trained_at: Mapped[datetime] = mapped_column(UtcDateTime())
    first_sample_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_sample_at: Mapped[datetime] = mapped_column(UtcDateTime())
    points: Mapped[int] = mapped_column(Integer, default=0)
    events: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TrainingJob(TenantOwned, Base):
    """A request to (re)train the detectors of the series a selector matches."""

    __tablename__ = "training_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    selector: Mapped[str] = mapped_column(Text)
    detector: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # queued | running | succeeded | failed
    series_total: Mapped[int] = mapped_column(Integer, default=0)
    series_trained: Mapped[int] = mapped_column(Integer, default=0)
    points: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


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


class AlertNotification(TenantOwned, Base):
    """The outbox: a notification to send, written in the transaction of the state change.

    `kind` is firing, resolved or flapping; `payload` is the alert in Alertmanager's form.
    The notification pipeline takes `pending` rows and marks them `sent`.
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


class NotificationOutbox(TenantOwned, Base):
    """The delivery outbox: one message to one channel, written in the transaction that caused
    it (an alert group flush, an incident change, an escalation step, an API call).

    Delivery workers claim `pending` rows whose `next_attempt_at` has come (status `sending`
    with a lease in `claimed_until`, so a row claimed by a process that died is taken again
    once the lease ends), send them and mark them `sent`, or back to `pending` with a later
    `next_attempt_at`, or `dead` after the last attempt. `idempotency_key` is unique per tenant:
    enqueueing the same key twice is a no-op, and channels that accept one receive it.
    `payload` holds the template variables; the message is rendered at delivery.
    """

    __tablename__ = "notification_outbox"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_notification_outbox_key"),
        Index("ix_notification_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))  # a NotificationChannel value
    receiver: Mapped[str] = mapped_column(String(200), default="")  # configured receiver name
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    template_id: Mapped[str] = mapped_column(String(100), default="")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(32), default="api")  # alert_group, incident, ...
    source_ref: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


# -- alert dispatch: silences, group state (migration 0005) --------------------------------


# -- notification delivery: templates, rate limits, quiet hours (migration 0006) ----------


# -- incidents: incidents, timeline, correlation, classification (migration 0007) ---------


# -- templates, escalation, schedules (migration 0008) ---------------------------------
