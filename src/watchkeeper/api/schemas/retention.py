"""Retention policy bodies: days per kind; null means the global default."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_DAYS = {"ge": 1, "le": 36500}


class RetentionUpdate(BaseModel):
    """Only the keys sent change; a null value returns that kind to the global default."""

    model_config = ConfigDict(extra="forbid")

    audit_days: int | None = Field(None, **_DAYS)  # type: ignore[arg-type]
    incidents_days: int | None = Field(None, **_DAYS)  # type: ignore[arg-type]
    anomalies_days: int | None = Field(None, **_DAYS)  # type: ignore[arg-type]
    alert_history_days: int | None = Field(None, **_DAYS)  # type: ignore[arg-type]
    notifications_days: int | None = Field(None, **_DAYS)  # type: ignore[arg-type]
    metrics_days: int | None = Field(None, **_DAYS)  # type: ignore[arg-type]


class RetentionPublic(BaseModel):
    overrides: dict[str, int | None] = Field(description="the tenant's values; null: default")
    effective: dict[str, int] = Field(description="the periods in force, in days")
    defaults: dict[str, int] = Field(description="the global defaults (`retention:` settings)")
    enforced_per_tenant: list[str] = Field(
        description="kinds whose tenant value is applied (metrics_days is not yet: the metric "
        "store deletes for every tenant at once)"
    )
