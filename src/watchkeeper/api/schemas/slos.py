"""SLO API bodies: the SLO as stored (its YAML/JSON form), its generated group and status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

SLO_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One SLO as YAML or JSON: `name`, `objective` (percent), `window` "
        "(default 30d), `good` + `total` (PromQL) or `latency` (`histogram`, `threshold`), "
        "`labels`, `description`.",
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


class SloPublic(BaseModel):
    name: str
    group: str = Field(description="the rule group the SLO generates (read-only)")
    revision: int
    created_at: datetime
    updated_at: datetime
    slo: dict[str, Any] = Field(description="the SLO as written")


class SloList(BaseModel):
    slos: list[SloPublic]


class SliSeriesPublic(BaseModel):
    labels: dict[str, str]
    sli: float | None = Field(description="share of good events over the window; null: none")
    error_budget_remaining: float | None = Field(
        description="1 untouched, 0 spent, negative overspent"
    )
    burn_rates: dict[str, float | None] = Field(
        description="error rate over each alert window / error budget"
    )


class SloStatus(BaseModel):
    name: str
    objective: float
    window: str
    error_budget: float = Field(description="share of events allowed to be bad")
    sli: float | None = Field(description="as in `series` when there is one series")
    error_budget_remaining: float | None
    burn_rates: dict[str, float | None]
    series: list[SliSeriesPublic]
    firing_alerts: list[str] = Field(description="the SLO's burn-rate alerts firing now")
