"""Dashboards over the API: the list's summaries; the bodies are Grafana JSON models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class DashboardSummaryPublic(BaseModel):
    uid: str
    title: str
    builtin: bool
    tags: list[str]
    version: int
    updated_at: datetime | None
    url: str
    """Where the JSON model is: `GET` it and import it into Grafana, or render it."""


class DashboardSaved(BaseModel):
    uid: str
    title: str
    version: int
    url: str
