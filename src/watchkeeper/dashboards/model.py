"""The Grafana dashboard JSON model: produced by the SDK, parsed back through it, bounded.

A stored dashboard is accepted only if it is a JSON object that Grafana's SDK parses
(`Dashboard.from_json`) and re-serialises; what the SDK does not model is dropped, so what we
store and serve is what Grafana's own schema knows. Sizes are bounded before parsing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

MAX_BYTES = 256 * 1024
"""Largest stored dashboard (serialised): the built-ins are about 15 KB."""
MAX_PANELS = 100
MAX_TARGETS = 10
MAX_EXPR_CHARS = 4096
MAX_TITLE_CHARS = 200

plugins.register_default_plugins()  # panel options and Prometheus targets parse as typed models


class InvalidDashboard(ValueError):
    """The JSON is not a dashboard we store; the message names what is wrong."""


def to_json(dashboard: model.Dashboard) -> dict[str, Any]:
    """Plain JSON of an SDK dashboard, with each panel given a unique id (Grafana needs one
    per panel for links and the native renderer keys panels by it), in the form the SDK
    parses it back to (its parser fills a few defaults the builders leave out), so what we
    serve is a fixed point of parse-and-serialise."""
    for number, panel in enumerate(dashboard.panels or [], start=1):
        panel.id_val = number
    first = _without_null_parts(json.loads(json.dumps(dashboard, cls=JSONEncoder)))
    again = model.Dashboard.from_json(first)
    data: dict[str, Any] = _without_null_parts(json.loads(json.dumps(again, cls=JSONEncoder)))
    return data


def _without_null_parts(data: dict[str, Any]) -> dict[str, Any]:
    """The SDK writes a panel part it was not given (`options`) as null but cannot parse a
    null back: leave such keys out, as Grafana does."""
    for panel in _all_panels(data.get("panels") or []):
        for key in [k for k, v in panel.items() if v is None]:
            del panel[key]
    return data


def parse(data: object) -> model.Dashboard:
    """The SDK's model of `data`, or InvalidDashboard saying why not."""
    if not isinstance(data, dict):
        raise InvalidDashboard("a dashboard is a JSON object")
    size = len(json.dumps(data, separators=(",", ":")))
    if size > MAX_BYTES:
        raise InvalidDashboard(f"dashboard is {size} bytes; the limit is {MAX_BYTES}")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise InvalidDashboard("`title` must be a non-empty string")
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidDashboard(f"`title` is longer than {MAX_TITLE_CHARS} characters")
    panels = data.get("panels", [])
    if not isinstance(panels, list):
        raise InvalidDashboard("`panels` must be a list")
    _check_panels(panels)
    try:
        return model.Dashboard.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidDashboard(f"not a Grafana dashboard model: {exc!r}") from None


def normalise(data: object) -> dict[str, Any]:
    """`data` parsed through the SDK and serialised again: the form we store and serve."""
    dashboard = parse(data)
    try:
        return to_json(dashboard)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidDashboard(f"not a Grafana dashboard model: {exc!r}") from None


def expressions(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel, rows' nested panels included."""
    for panel in _all_panels(data.get("panels") or []):
        for query in panel.get("targets") or []:
            expr = query.get("expr") if isinstance(query, dict) else None
            if isinstance(expr, str) and expr:
                yield str(panel.get("title", "")), expr


def _all_panels(panels: list[Any]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        if isinstance(panel, dict):
            yield panel
            yield from _all_panels(panel.get("panels") or [])


def _check_panels(panels: list[Any]) -> None:
    flat = list(_all_panels(panels))
    if len(flat) > MAX_PANELS:
        raise InvalidDashboard(f"{len(flat)} panels; the limit is {MAX_PANELS}")
    for index, panel in enumerate(panels):
        if not isinstance(panel, dict):
            raise InvalidDashboard(f"panels[{index}] must be an object")
    for panel in flat:
        kind = panel.get("type")
        if not isinstance(kind, str) or not kind:
            raise InvalidDashboard(f"panel {panel.get('title', '?')!r} has no `type`")
        targets = panel.get("targets", [])
        if not isinstance(targets, list) or len(targets) > MAX_TARGETS:
            raise InvalidDashboard(
                f"panel {panel.get('title', '?')!r}: `targets` must be a list of at most "
                f"{MAX_TARGETS}"
            )
        for query in targets:
            if not isinstance(query, dict):
                raise InvalidDashboard(
                    f"panel {panel.get('title', '?')!r}: a target is not an object"
                )
            expr = query.get("expr", "")
            if not isinstance(expr, str) or len(expr) > MAX_EXPR_CHARS:
                raise InvalidDashboard(
                    f"panel {panel.get('title', '?')!r}: `expr` must be a string of at most "
                    f"{MAX_EXPR_CHARS} characters"
                )
