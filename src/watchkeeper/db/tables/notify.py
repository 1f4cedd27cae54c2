"""Notification delivery: the outbox, receivers, templates, rate-limit buckets, dedup and
rate-limit windows, quiet hours (migrations 0006 and 0008)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from watchkeeper.db.tables.base import Base, TenantOwned, UtcDateTime, new_id


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
