"""Render stage: the row's template with its payload as variables.

A payload holding an alert group (`AlertGroup.from_payload`) renders with the group's
template variables and the message carries the typed group on to the channel; any other
payload is the variables themselves. A template that fails at render time falls back to the
channel's built-in (the note is kept on the row); a sandbox violation is a dead row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

import structlog
from sqlalchemy.orm import Session

from watchkeeper.domain.alert_group import AlertGroup
from watchkeeper.notify.base import NotificationChannel
from watchkeeper.notify.default_templates import DEFAULT_TEMPLATES
from watchkeeper.notify.outbox import OutboxStatus
from watchkeeper.notify.recipients import recipients_for
from watchkeeper.notify.templates import (
    NotificationTemplate,
    TemplateRenderError,
    render_or_fallback,
)

from .work import Outcome, Step, Work

log = structlog.get_logger(__name__)

TemplateSource = Callable[[Session, str, NotificationChannel], NotificationTemplate]
"""(tenant session, template id, channel) -> the template to render with (default:
`template_store.load_template`: the tenant's template, else the channel's built-in)."""


class Render:
    """Renders each row once its channel is known; templates are looked up once per batch."""

    def __init__(self, templates: TemplateSource, console_url: str = "") -> None:
        self.templates = templates
        self.console_url = console_url.rstrip("/")
        self._loaded: dict[tuple[str, str, NotificationChannel], NotificationTemplate] = {}

    def __call__(self, db: Session, work: Work, now: datetime) -> Step:
        claim, kind = work.claim, work.kind
        assert kind is not None, "the channel stage runs first"
        key = (claim.tenant_id, claim.template_id, kind)
        template = self._loaded.get(key)
        if template is None:
            template = self.templates(db, claim.template_id, kind)
            self._loaded[key] = template
        group = AlertGroup.from_payload(claim.payload)
        variables = group.template_variables() if group is not None else dict(claim.payload)
        if group is None:
            variables = incident_links(variables, self.console_url)
        try:
            message, note = render_or_fallback(
                template,
                DEFAULT_TEMPLATES[kind],
                variables,
                priority=claim.priority_level,
                idempotency_key=claim.idempotency_key,
                recipients=recipients_for(kind, claim.recipients),
            )
        except TemplateRenderError as exc:
            return Outcome(claim, OutboxStatus.DEAD, f"template {template.id}: {exc}")
        if note:  # kept on the row as its last_error once sent, and logged now
            log.warning("notification_template_fallback", id=claim.id, reason=note)
        return replace(work, message=replace(message, group=group), note=note)


def incident_links(variables: dict[str, Any], console_url: str) -> dict[str, Any]:
    """An incident's page in the console as `incident.url`, and as `alert.url` where the
    `alert` view of an incident message has none, so every template's "Open in Watchkeeper"
    link lands on it. Needs `server.public_url` (or the server's own address)."""
    incident = variables.get("incident")
    if not console_url or not isinstance(incident, dict) or not incident.get("id"):
        return variables
    url = f"{console_url}/ui/incidents?id={quote(str(incident['id']), safe='')}"
    out = {**variables, "incident": {"url": url, **incident}}
    alert = variables.get("alert")
    if isinstance(alert, dict):
        out["alert"] = {"url": url, **alert}
    else:
        out.setdefault("alert", {"url": url, "name": incident.get("title", "")})
    return out
