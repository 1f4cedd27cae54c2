"""Service level objectives as written; their rules live in alert rule groups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from watchkeeper.db.tables.base import Base, TenantOwned, UtcDateTime, new_id


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
