"""Leases that let one replica among several run a worker that must run once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from watchkeeper.db.tables.base import Base, UtcDateTime


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
