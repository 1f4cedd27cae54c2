"""The metadata tables. Every tenant-owned row carries `tenant_id` via `TenantOwned`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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
    require_admin_2fa: Mapped[bool] = mapped_column(Boolean, default=False)
    """Admins of this tenant must log in with a second factor (they are sent to enrol first)."""


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
    # Session generation: every access and refresh token carries the value it was issued
    # under; bumping it (password reset, disable, demotion) ends all of the user's sessions.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


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
    # The user's token_version when issued; a refresh under an older version is refused.
    user_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class UserTotp(Base):
    """A user's TOTP secret (AES-GCM encrypted when an encryption key is configured).

    `enabled_at` is None while enrolment waits for a first valid code; `last_step` is the
    time step of the last accepted code, so a code cannot be replayed in its window.
    """

    __tablename__ = "user_totp"

    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    enabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class RecoveryCode(Base):
    """A one-time 2FA recovery code; only its SHA-256 is kept (codes carry 80 random bits)."""

    __tablename__ = "user_recovery_codes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


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
    # Migration 0012 (watchkeeper.audit): a random per-row salt inside the hash, erased when
    # the row is rewritten; `seal` signs a row legitimately rewritten (pseudonymised, pruned).
    salt: Mapped[str | None] = mapped_column(String(32), nullable=True)
    seal: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AuditCheckpoint(Base):
    """A signed position of the audit chain, kept apart from its rows (migration 0012).

    `head` is the newest record appended (updated with every append), `anchor` the newest
    record pruned from the oldest end; `count` is how many records were appended (head) or
    pruned (anchor) since the genesis. See `watchkeeper.audit`.
    """

    __tablename__ = "audit_checkpoints"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    signature: Mapped[str] = mapped_column(String(64))


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


class AnomalyFeedback(TenantOwned, Base):
    """An operator's verdict on one anomaly event (migration 0016): true or false positive.

    One verdict per event (a new one replaces it); it goes with the event when retention
    removes that. Kept as data so detectors can later learn from it (precision per model).
    """

    __tablename__ = "anomaly_feedback"

    anomaly_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("anomaly_events.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


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
    # When an operator last put the row back from `dead` (migration 0013): such an attempt
    # skips the anti-spam gate, as a retry does.
    retried_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


# -- alert dispatch: silences, group state (migration 0005) --------------------------------


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


# -- notification delivery: templates, rate limits, quiet hours (migration 0006) ----------


class NotificationReceiver(TenantOwned, Base):
    """A named receiver (contact point): a list of channel integrations, Alertmanager-style.

    `integrations` is `[{"type": "slack", "config": {...}}, ...]`; each config passed its
    channel's schema and its secret fields are encrypted (notify/crypto.py), bound to
    `receiver:<tenant>/<name>/<index>` so a token copied elsewhere does not decrypt.
    """

    __tablename__ = "notification_receivers"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_notification_receivers_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    integrations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class NotificationBucket(TenantOwned, Base):
    """A token bucket of the rate limits: `key` is `channel:<type>` or `recipient:<type>:<to>`.

    Kept in the database so a restart does not hand every recipient a fresh burst.
    """

    __tablename__ = "notification_buckets"
    __table_args__ = (UniqueConstraint("tenant_id", "key", name="uq_notification_buckets_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300))
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class NotificationSuppression(TenantOwned, Base):
    """An open dedup or rate-limit window: what it held back, and where the digest goes.

    `key` is `dedup:<hash>` or `rate:<bucket key>`. When `window_ends_at` passes, the
    delivery worker queues one digest listing `items` (if any) and deletes the row.
    """

    __tablename__ = "notification_suppressions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key", name="uq_notification_suppressions_key"),
        Index("ix_notification_suppressions_ends", "window_ends_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300))
    channel: Mapped[str] = mapped_column(String(16))
    receiver: Mapped[str] = mapped_column(String(200), default="")
    integration: Mapped[int] = mapped_column(Integer, default=-1)  # index in the receiver
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    window_ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    suppressed: Mapped[int] = mapped_column(Integer, default=0)
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class QuietHours(TenantOwned, Base):
    """A recipient's quiet hours in their own time zone: `start`-`end` as HH:MM (may wrap
    midnight). Non-critical messages to them wait until `end`."""

    __tablename__ = "notification_quiet_hours"
    __table_args__ = (
        UniqueConstraint("tenant_id", "recipient", name="uq_notification_quiet_hours_recipient"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(254))
    timezone: Mapped[str] = mapped_column(String(64))
    start: Mapped[str] = mapped_column(String(5))
    end: Mapped[str] = mapped_column(String(5))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


# -- incidents: incidents, timeline, correlation, classification (migration 0007) ---------


class Incident(TenantOwned, Base):
    """An incident: related alerts seen as one problem, from trigger to resolution.

    `number` is the tenant's human-facing sequence (#1, #2, ...). `correlation_key` is what
    the correlator matches new alerts on (shared label values, or the alertname);
    `category_source` is "model" or "operator" (an operator's choice is never overwritten).
    `notify_seq` counts the notifications queued, so each one's idempotency key is stable.
    A merged incident is resolved with `merged_into` naming the incident that absorbed it.
    """

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number", name="uq_incidents_number"),
        Index("ix_incidents_tenant_status", "tenant_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))  # triggered | acknowledged | resolved
    severity: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32), default="")
    category_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    category_source: Mapped[str] = mapped_column(String(16), default="model")
    assignee: Mapped[str | None] = mapped_column(String(32), nullable=True)
    correlation_key: Mapped[str] = mapped_column(String(500), default="")
    correlation_reason: Mapped[str] = mapped_column(Text, default="")
    merged_into: Mapped[str | None] = mapped_column(String(32), nullable=True)
    notify_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_alert_at: Mapped[datetime] = mapped_column(UtcDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class IncidentAlert(TenantOwned, Base):
    """An alert (by fingerprint) that belongs to an incident, and why it joined."""

    __tablename__ = "incident_alerts"
    __table_args__ = (
        UniqueConstraint("incident_id", "fingerprint", name="uq_incident_alerts_member"),
        Index("ix_incident_alerts_fingerprint", "tenant_id", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    fingerprint: Mapped[str] = mapped_column(String(16))
    group_name: Mapped[str] = mapped_column(String(200), default="")
    alertname: Mapped[str] = mapped_column(String(200))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    annotations: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16))  # firing | resolved
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    reason: Mapped[str] = mapped_column(Text)


class IncidentEvent(TenantOwned, Base):
    """One line of an incident's timeline: who (`actor`) did or saw what (`kind`), when."""

    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident", "tenant_id", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("incidents.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AlertnameFiring(TenantOwned, Base):
    """How often alerts of one alertname fired: the denominator of learned co-occurrence."""

    __tablename__ = "incident_alertname_firings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "alertname", name="uq_incident_alertname_firings_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alertname: Mapped[str] = mapped_column(String(200))
    fired: Mapped[int] = mapped_column(Integer, default=0)


class AlertnameCooccurrence(TenantOwned, Base):
    """Evidence that two alertnames (`name_a` < `name_b`) belong together: firings within the
    correlation window of each other, plus operators' merges, minus their splits."""

    __tablename__ = "incident_cooccurrence"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name_a", "name_b", name="uq_incident_cooccurrence_pair"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name_a: Mapped[str] = mapped_column(String(200))
    name_b: Mapped[str] = mapped_column(String(200))
    together: Mapped[float] = mapped_column(Float, default=0.0)


class CategoryCorrection(TenantOwned, Base):
    """An operator's category for an incident's text: training data for the tenant's model."""

    __tablename__ = "incident_category_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class CorrelationCursor(TenantOwned, Base):
    """The correlator's place in a tenant's alert transitions, and its in-flight memory:
    `pending` alerts waiting for `min_alerts`, `recent` firings for co-occurrence counting."""

    __tablename__ = "incident_correlation_cursors"
    __table_args__ = (UniqueConstraint("tenant_id", name="uq_incident_correlation_cursors_tenant"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    last_transition_id: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recent: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


# -- templates, escalation, schedules (migration 0008) ---------------------------------


class EventRecord(TenantOwned, Base):
    """One event for `/ws/notifications` clients, kept so a reconnecting client can resume.

    `seq` is the event id clients see and send back as `last_event_id`: it counts per tenant
    (`EventSequence`, migration 0012), so it says nothing about other tenants. `key`
    makes a `notification` event at-most-once per outbox idempotency key. The
    log is capped (`events:` settings: newest N per tenant, at most M hours), see
    `watchkeeper.events`.
    """

    __tablename__ = "event_log"
    __table_args__ = (
        Index("ix_event_log_tenant_event", "tenant_id", "id"),
        Index("ix_event_log_tenant_key", "tenant_id", "key"),
        UniqueConstraint("tenant_id", "seq", name="uq_event_log_tenant_seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))  # notification | anomaly | prediction | ...
    key: Mapped[str] = mapped_column(String(200), default="")  # idempotency key, "" for none
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class EventSequence(Base):
    """A tenant's last event `seq`; the row lock taken to increment it orders the tenant's
    events by commit, so a client resuming after `seq` misses none (migration 0012)."""

    __tablename__ = "event_sequences"

    tenant_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(Integer)


class StoredTemplate(TenantOwned, Base):
    """A tenant's notification template; `template_id` is the id the API and outbox use."""

    __tablename__ = "notification_templates"
    __table_args__ = (
        UniqueConstraint("tenant_id", "template_id", name="uq_notification_templates_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    template_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    subject_template: Mapped[str] = mapped_column(Text)
    body_template: Mapped[str] = mapped_column(Text)
    html_template: Mapped[str | None] = mapped_column(Text, nullable=True)
    channels: Mapped[list[str]] = mapped_column(JSON)
    priority: Mapped[str] = mapped_column(String(16))
    variables: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


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


class WorkerLease(Base):
    """Who runs a worker that must run once among replicas (`watchkeeper.runtime.lease`).

    Not tenant-owned: a lease covers every tenant's share of that worker's work.
    """

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    acquired_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Set when the holder gave the lease up at a clean shutdown (runtime/drain.py); null while
    # held, or when it ran out instead (a crash). Migration 0014.
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class TenantRetention(TenantOwned, Base):
    """A tenant's retention overrides in days; None keeps the global default (`retention:`
    settings). Enforced by `watchkeeper.runtime.retention.RetentionWorker` (migration 0012)."""

    __tablename__ = "tenant_retention"
    __table_args__ = (UniqueConstraint("tenant_id", name="uq_tenant_retention_tenant"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    audit_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    incidents_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    anomalies_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    alert_history_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    notifications_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    metrics_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class StoredDashboard(TenantOwned, Base):
    """A tenant's own dashboard: the Grafana JSON model, normalised through Grafana's SDK
    (`watchkeeper.dashboards.model`); `uid` is the dashboard's uid in that model."""

    __tablename__ = "dashboards"
    __table_args__ = (UniqueConstraint("tenant_id", "uid", name="uq_dashboards_uid"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    uid: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    model: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SloDefinition(TenantOwned, Base):
    """A service level objective as written (`spec`); its rules live in the group `slo:<name>`
    (an AlertRuleGroup with source "slo"), regenerated whenever the SLO changes."""

    __tablename__ = "slos"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_slos_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
