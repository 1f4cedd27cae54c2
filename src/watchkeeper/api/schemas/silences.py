"""Silences in Alertmanager's v2 API shapes (postableSilence, gettableSilence), and the alert
handling configuration and route-test documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class SilenceMatcher(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    value: str = Field(max_length=1000)
    isRegex: bool = False
    isEqual: bool = True


class PostableSilence(BaseModel):
    """Create a silence, or update the one named by `id` (Alertmanager's postableSilence)."""

    id: str | None = Field(None, max_length=36, description="update this silence")
    matchers: list[SilenceMatcher] = Field(min_length=1, max_length=100)
    startsAt: datetime
    endsAt: datetime
    createdBy: str | None = Field(None, max_length=200, description="default: the caller's name")
    comment: str = Field(max_length=10000)


class SilenceStatus(BaseModel):
    state: Literal["active", "pending", "expired"]


class GettableSilence(BaseModel):
    id: str
    status: SilenceStatus
    updatedAt: datetime
    matchers: list[SilenceMatcher]
    startsAt: datetime
    endsAt: datetime
    createdBy: str
    comment: str


class SilenceCreated(BaseModel):
    silenceID: str


class HandlingConfigDocument(BaseModel):
    """The alert handling configuration in force for the tenant."""

    source: Literal["tenant", "file", "default"] = Field(
        description="tenant: set with PUT; file: alerting.handling_config_file; default: built in"
    )
    updated_at: datetime | None = None
    updated_by: str = ""
    config: Any = Field(description="route, inhibit_rules, time_intervals, receivers")
    text: str = Field(description="the configuration as it was sent (YAML or JSON)")


class RouteTestRequest(BaseModel):
    labels: dict[str, str] = Field(max_length=200)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=200)


class RouteTestAnswer(BaseModel):
    """Which routes an alert would take, why, its groups and timers, and what mutes it."""

    labels: dict[str, str]
    at: float
    routes: list[dict[str, Any]] = Field(
        description="destinations: route, receiver, group_by, group_key, the three timers"
    )
    steps: list[dict[str, Any]] = Field(description="each route tried, its matchers, outcome")
    muted_by: list[dict[str, Any]] = Field(description="silences and inhibitions that apply")
    silenced_by: list[str]
    inhibited_by: list[str]
    would_notify: bool
