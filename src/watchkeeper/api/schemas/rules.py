"""Rules and alerts in Prometheus' HTTP API shapes (`/api/v1/rules`, `/api/v1/alerts`),
plus the rule group documents of the CRUD endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AlertMuteStatus(BaseModel):
    """Alertmanager's alert status: suppressed when a silence or an inhibition applies now."""

    state: Literal["active", "suppressed"]
    silencedBy: list[str] = Field(description="ids of the active silences that match")
    inhibitedBy: list[str] = Field(description="fingerprints of the inhibiting alerts")


class AlertPublic(BaseModel):
    """An alert as Prometheus lists it, with Alertmanager's fields and Watchkeeper's extras."""

    model_config = ConfigDict(populate_by_name=True)

    labels: dict[str, str]
    annotations: dict[str, str]
    state: Literal["pending", "firing", "resolved", "inactive"]
    activeAt: datetime
    value: str = Field(description="the last evaluated value, formatted as Prometheus does")
    fingerprint: str
    startsAt: datetime | None = Field(description="when it started firing")
    endsAt: datetime | None = Field(description="when it resolved")
    generatorURL: str
    flapping: bool
    explanation: dict[str, Any] | None = Field(
        None, description="anomaly rules: the detection loop's explanation of the series"
    )
    status: AlertMuteStatus | None = Field(
        None, description="GET /api/v1/alerts: silenced or inhibited now, and by what"
    )


class RulePublic(BaseModel):
    """One rule: Prometheus' alerting or recording rule object (alerting-only keys are null
    for recording rules)."""

    name: str
    query: str
    type: Literal["alerting", "recording"]
    ruleType: str = Field(description="promql, absence, anomaly, forecast or composite")
    labels: dict[str, str]
    health: Literal["ok", "err", "unknown"]
    lastError: str
    evaluationTime: float
    lastEvaluation: datetime | None
    state: Literal["inactive", "pending", "firing"] | None = None
    duration: float | None = None
    keepFiringFor: float | None = None
    annotations: dict[str, str] | None = None
    alerts: list[AlertPublic] | None = None


class RuleGroupPublic(BaseModel):
    name: str
    file: str
    source: Literal["api", "file", "slo"]
    interval: float
    limit: int
    rules: list[RulePublic]
    evaluationTime: float
    lastEvaluation: datetime | None
    health: Literal["ok", "err", "unknown"] = Field(
        "unknown", description="err when the last evaluation went over a budget (see lastError)"
    )
    lastError: str = ""


class RuleGroupsData(BaseModel):
    groups: list[RuleGroupPublic]


class RulesResponse(BaseModel):
    status: Literal["success"] = "success"
    data: RuleGroupsData


class AlertsData(BaseModel):
    alerts: list[AlertPublic]


class AlertsResponse(BaseModel):
    status: Literal["success"] = "success"
    data: AlertsData


class TransitionPublic(BaseModel):
    at: datetime
    from_state: str = Field(serialization_alias="from")
    to_state: str = Field(serialization_alias="to")
    value: str


class AlertDetail(AlertPublic):
    group: str
    rule: str
    history: list[TransitionPublic] = Field(description="state changes, newest first")


class AlertDetailResponse(BaseModel):
    status: Literal["success"] = "success"
    data: AlertDetail


class RuleGroupDocument(BaseModel):
    """A stored group: its rule-file form plus where it came from."""

    name: str
    source: Literal["api", "file", "slo"]
    file: str
    revision: int
    created_at: datetime
    updated_at: datetime
    group: dict[str, Any] = Field(description="the group as a rule file holds it (JSON form)")


RULE_GROUP_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One rule group (`name`, `interval`, `rules`) as YAML or JSON, "
        "exactly as in a Prometheus rule file; `name` may be left out (the path names it).",
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "interval": {"type": ["string", "number"]},
                        "rules": {"type": "array", "items": {"type": "object"}},
                    },
                    "required": ["rules"],
                }
            },
        },
    }
}
