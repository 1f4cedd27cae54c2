"""Tenants' own dashboards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from watchkeeper.db.tables.base import Base, TenantOwned, UtcDateTime, new_id


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
