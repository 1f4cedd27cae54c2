"""Retention policy bodies: days per kind; null means the global default."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Days = Annotated[int, Field(ge=1, le=36500, description="days (1 to 36500)")]


class RetentionUpdate(BaseModel):
    """Only the keys sent change; a null value returns that kind to the global default."""

    model_config = ConfigDict(extra="forbid")

    audit_days: Days | None = None
    incidents_days: Days | None = None
    anomalies_days: Days | None = None
    alert_history_days: Days | None = None
    notifications_days: Days | None = None
    metrics_days: Days | None = None


class RetentionPublic(BaseModel):
    overrides: dict[str, int | None] = Field(description="the tenant's values; null: default")
    effective: dict[str, int] = Field(description="the periods in force, in days")
    defaults: dict[str, int] = Field(description="the global defaults (`retention:` settings)")
    enforced_per_tenant: list[str] = Field(
        description="kinds whose tenant value is applied (metrics_days only where the metric "
        "store can delete per tenant: the embedded store, not a remote TSDB)"
    )
