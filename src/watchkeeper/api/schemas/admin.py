from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ConfigUpdateResult(BaseModel):
    changed: list[str]
    restart_required: list[str]
    config: dict[str, Any]


class AuditRecordPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_type: str
    actor_id: str | None
    actor_name: str | None
    action: str
    method: str
    path: str
    status_code: int
    outcome: str
    request_id: str
    client_ip: str | None
    details: dict[str, Any] | None


class AuditVerifyResult(BaseModel):
    """`audit verify` over HTTP: the chain, its checkpoints, what is wrong."""

    intact: bool
    checked: int = Field(description="records walked")
    first_bad: int | None = Field(description="first altered record, if any")
    missing: list[int] | None = Field(description="[first, last] id range missing at the end")
    problems: list[str]
    warnings: list[str]


class ComponentStatus(BaseModel):
    name: str
    healthy: bool
    detail: str


class SystemStatus(BaseModel):
    version: str
    profile: str
    uptime_seconds: float
    tenant: str
    components: list[ComponentStatus]
    counts: dict[str, int]
