"""Incidents over the API: create, change, merge and split bodies; the incident with its
alerts, timeline and MTTA/MTTR."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.incidents.classifier import Category

Status = Literal["triggered", "acknowledged", "resolved"]
Severity = Literal["critical", "high", "medium", "low"]
Fingerprint = Field(min_length=1, max_length=16, pattern=r"^[0-9a-f]+$")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentCreate(_Body):
    title: str = Field(min_length=1, max_length=300)
    severity: Severity | None = Field(None, description="default: from the alerts' severity")
    category: Category | None = Field(None, description="default: the classifier's")
    assignee: str | None = Field(None, min_length=1, max_length=32, description="a user id")
    fingerprints: list[str] = Field(
        default_factory=list, max_length=500, description="alerts to attach, by fingerprint"
    )


class IncidentUpdate(_Body):
    """Only the fields sent change; `assignee: null` unassigns."""

    status: Status | None = Field(
        None, description="triggered -> acknowledged -> resolved; triggered again reopens"
    )
    severity: Severity | None = None
    title: str | None = Field(None, min_length=1, max_length=300)
    category: Category | None = Field(
        None, description="an operator correction: it retrains the tenant's classifier"
    )
    assignee: str | None = Field(None, min_length=1, max_length=32)


class CommentCreate(_Body):
    text: str = Field(min_length=1, max_length=10000)


class MergeRequest(_Body):
    incidents: list[str] = Field(
        min_length=1, max_length=100, description="ids or numbers of incidents to merge into this"
    )


class SplitRequest(_Body):
    fingerprints: list[str] = Field(
        min_length=1, max_length=500, description="alerts to move to a new incident"
    )
    title: str | None = Field(None, min_length=1, max_length=300)


class IncidentAlertPublic(BaseModel):
    fingerprint: str
    alertname: str
    group: str
    labels: dict[str, str]
    annotations: dict[str, str]
    state: str
    joined_at: datetime
    resolved_at: datetime | None
    reason: str = Field(description="why the alert joined this incident")


class IncidentEventPublic(BaseModel):
    id: int
    at: datetime
    kind: str = Field(
        description="opened, alert_joined, alert_resolved, status_changed, notification_queued, "
        "comment, assignee_changed, severity_changed, category_changed, merged, split, ..."
    )
    actor: str
    message: str
    data: dict[str, Any]


class IncidentPublic(BaseModel):
    id: str
    number: int
    title: str
    status: Status
    severity: str
    category: str
    category_confidence: float
    category_source: Literal["model", "operator"]
    assignee: str | None
    correlation_key: str
    correlation_reason: str
    merged_into: str | None
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    time_to_acknowledge_seconds: float | None = Field(description="this incident's MTTA term")
    time_to_resolve_seconds: float | None = Field(description="this incident's MTTR term")
    alert_count: int


class IncidentDetail(IncidentPublic):
    alerts: list[IncidentAlertPublic]
    timeline: list[IncidentEventPublic]


class IncidentList(BaseModel):
    incidents: list[IncidentPublic]
    total: int
    next_offset: int | None = Field(description="offset of the next page; null on the last")


class SplitResult(BaseModel):
    source: IncidentDetail
    created: IncidentDetail
