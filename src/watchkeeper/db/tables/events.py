"""The per-tenant event log that `/ws/notifications` clients resume from (see
`watchkeeper.events`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from watchkeeper.db.tables.base import Base, TenantOwned, UtcDateTime


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
