"""The short form of a dashboard, `[{"type": "graph", "metric": ..., "title": ...}]`,
turned into a Grafana dashboard by the same SDK panels as the built-ins."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash

from watchkeeper.dashboards import panels
from watchkeeper.dashboards.model import (
    MAX_EXPR_CHARS,
    MAX_PANELS,
    MAX_TITLE_CHARS,
    InvalidDashboard,
)
from watchkeeper.query.errors import QueryError
from watchkeeper.query.syntax import parse

PANEL_TYPES = ("graph", "timeseries", "stat", "gauge", "table", "heatmap")
_UID_UNSAFE = re.compile(r"[^a-z0-9-]+")


def uid_for(name: str) -> str:
    """A stable uid from a name (Grafana allows 40 characters of [a-zA-Z0-9-_])."""
    slug = _UID_UNSAFE.sub("-", name.lower()).strip("-")[:40]
    return slug or "dashboard"


def build(
    name: str, specs: Sequence[Mapping[str, Any]], *, uid: str | None = None
) -> dash.Dashboard:
    """A dashboard with one panel per spec; InvalidDashboard names the first bad spec."""
    if not name.strip() or len(name) > MAX_TITLE_CHARS:
        raise InvalidDashboard(f"name must be 1 to {MAX_TITLE_CHARS} characters")
    if len(specs) > MAX_PANELS:
        raise InvalidDashboard(f"{len(specs)} panels; the limit is {MAX_PANELS}")
    board = (
        dash.Dashboard(name)
        .uid(uid or uid_for(name))
        .tags(["custom"])
        .timezone("utc")
        .time("now-6h", "now")
        .refresh("30s")
    )
    for index, spec in enumerate(specs):
        board = board.with_panel(_panel(index, spec))
    return board


def _panel(index: int, spec: Mapping[str, Any]) -> panels.Panel:
    if not isinstance(spec, Mapping):
        raise InvalidDashboard(f"panels[{index}] must be an object")
    kind = spec.get("type", "graph")
    metric = spec.get("metric")
    title = spec.get("title") or metric
    if kind not in PANEL_TYPES:
        raise InvalidDashboard(
            f"panels[{index}].type {kind!r} is not one of {', '.join(PANEL_TYPES)}"
        )
    if not isinstance(metric, str) or not metric.strip() or len(metric) > MAX_EXPR_CHARS:
        raise InvalidDashboard(
            f"panels[{index}].metric must be a PromQL expression of 1 to {MAX_EXPR_CHARS} "
            "characters"
        )
    if not isinstance(title, str) or len(title) > MAX_TITLE_CHARS:
        raise InvalidDashboard(
            f"panels[{index}].title must be at most {MAX_TITLE_CHARS} characters"
        )
    try:
        parse(metric)
    except QueryError as exc:
        raise InvalidDashboard(f"panels[{index}].metric is not valid PromQL: {exc}") from None
    if kind == "stat":
        return panels.stat_panel(title, panels.target(metric, instant=True), width=6)
    if kind == "gauge":
        return panels.gauge_panel(title, panels.target(metric, instant=True), width=6)
    if kind == "table":
        query = panels.table_target(metric)
        return panels.table_panel(title, query)
    if kind == "heatmap":
        return panels.heatmap_panel(title, panels.target(metric))
    return panels.time_series(title, panels.target(metric))


def to_model(
    name: str, specs: Sequence[Mapping[str, Any]], *, uid: str | None = None
) -> dict[str, Any]:
    """The JSON model of `build(...)`."""
    from watchkeeper.dashboards.model import to_json

    return to_json(build(name, specs, uid=uid).build())
