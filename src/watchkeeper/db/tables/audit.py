"""The hash-chained audit log and its signed checkpoints (see `watchkeeper.audit`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from watchkeeper.db.tables.base import Base, UtcDateTime


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
