"""Notification templates: sandboxed Jinja2, checked when created, rendered per channel.

Templates are written by operators through the API, so they run in Jinja2's immutable
sandbox: no access to Python internals (`__class__`, `__globals__`), no mutating methods,
and every render is bounded in time, output and intermediate sizes
(`template_sandbox.BoundedSandbox`); over a limit, `TemplateBudgetError` names the setting.
A missing variable renders empty (a missing annotation must not drop a page), but an unsafe
access raises instead of rendering empty, so an operator sees why a template misbehaves.

Variables follow one contract (see SAMPLE_VARIABLES): `alert` (name, status, severity,
summary, description, value, labels, annotations, starts_at, ends_at, url, fingerprint),
`alerts` (the list, for grouped notifications) and `status`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from jinja2 import ChainableUndefined, TemplateSyntaxError
from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import SecurityError

from watchkeeper.template_sandbox import BoundedSandbox, RenderBudgetError
from watchkeeper.template_sandbox import render as render_bounded

from .base import NotificationChannel, NotificationPriority, RenderedMessage


class TemplateValidationError(ValueError):
    """A template that does not compile: which part, which line, what is wrong."""

    def __init__(self, part: str, message: str, line: int | None = None) -> None:
        self.part = part
        self.line = line
        self.message = message
        where = f"{part}, line {line}" if line else part
        super().__init__(f"{where}: {message}")


class TemplateRenderError(ValueError):
    """A template that compiled but failed on these variables (unsafe access, bad call)."""

    def __init__(self, part: str, message: str) -> None:
        self.part = part
        self.message = message
        super().__init__(f"{part}: {message}")


class TemplateBudgetError(TemplateRenderError):
    """A render stopped for going over a budget; `limit` names the setting."""

    def __init__(self, part: str, message: str, limit: str) -> None:
        self.limit = limit
        super().__init__(part, message)


class _LenientUndefined(ChainableUndefined):
    """Missing values render empty and chain; a sandbox violation raises SecurityError."""

    __slots__ = ()

    def _fail_if_unsafe(self) -> None:
        if self._undefined_exception is SecurityError:
            self._fail_with_undefined_error()

    def __str__(self) -> str:
        self._fail_if_unsafe()
        return super().__str__()

    def __getattr__(self, name: str) -> Any:
        self._fail_if_unsafe()
        return super().__getattr__(name)


def slack_escape(value: object) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _environment(autoescape: bool) -> BoundedSandbox:
    env = BoundedSandbox(
        undefined=_LenientUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.add_filters({"slack_escape": slack_escape})
    return env


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


def _compile(env: BoundedSandbox, part: str, source: str) -> JinjaTemplate:
    try:
        return env.from_string(source)
    except TemplateSyntaxError as exc:  # also unknown filters and tests (TemplateAssertionError)
        raise TemplateValidationError(part, exc.message or str(exc), exc.lineno) from exc


@dataclass(frozen=True)
class NotificationTemplate:
    """A named pair of subject and body templates for some channels, with a default priority.

    Raises TemplateValidationError at construction, so a bad template is refused when saved:

        NotificationTemplate("disk", "Disk full", "{{ alert.name }}", "{{ alert.summary }}",
                             channels=[NotificationChannel.SLACK])
    """

    id: str
    name: str
    subject_template: str
    body_template: str
    channels: Sequence[NotificationChannel] = tuple(NotificationChannel)  # stored as a tuple
    priority: NotificationPriority = NotificationPriority.NORMAL
    html_template: str | None = None
    _compiled: dict[str, JinjaTemplate] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(NotificationChannel(c) for c in self.channels))
        object.__setattr__(self, "priority", NotificationPriority(self.priority))
        if not self.id:
            raise TemplateValidationError("id", "must not be empty")
        self._compiled["subject"] = _compile(_TEXT, "subject_template", self.subject_template)
        self._compiled["body"] = _compile(_TEXT, "body_template", self.body_template)
        if self.html_template is not None:
            self._compiled["html"] = _compile(_HTML, "html_template", self.html_template)

    def applies_to(self, channel: NotificationChannel) -> bool:
        return channel in self.channels


def _run(template: JinjaTemplate, part: str, variables: Mapping[str, Any]) -> str:
    try:
        return render_bounded(template, variables)
    except RenderBudgetError as exc:
        raise TemplateBudgetError(part, str(exc), exc.limit) from exc
    except SecurityError as exc:
        raise TemplateRenderError(part, f"blocked by the sandbox: {exc}") from exc
    except Exception as exc:  # a template can raise anything a filter raises
        _raise_render(part, exc)


def _raise_render(part: str, exc: Exception) -> NoReturn:
    raise TemplateRenderError(part, f"{type(exc).__name__}: {exc}") from exc


def render(
    template: NotificationTemplate,
    variables: Mapping[str, Any],
    *,
    priority: NotificationPriority | None = None,
    idempotency_key: str = "",
    recipients: Iterable[str] = (),
) -> RenderedMessage:
    """Render subject, body (and HTML when the template has one) into a RenderedMessage."""
    compiled = template._compiled
    subject = " ".join(_run(compiled["subject"], "subject_template", variables).split())
    text = _run(compiled["body"], "body_template", variables).strip()
    html = _run(compiled["html"], "html_template", variables) if "html" in compiled else None
    return RenderedMessage(
        subject=subject,
        text=text,
        html=html,
        priority=priority or template.priority,
        template_id=template.id,
        idempotency_key=idempotency_key,
        recipients=tuple(recipients),
        facts=alert_facts(variables),
        link=alert_link(variables),
        variables=dict(variables),
    )


def render_or_fallback(
    template: NotificationTemplate,
    fallback: NotificationTemplate,
    variables: Mapping[str, Any],
    *,
    priority: NotificationPriority | None = None,
    idempotency_key: str = "",
    recipients: Iterable[str] = (),
) -> tuple[RenderedMessage, str]:
    """`render`, or, when the template goes over its budget, the channel's built-in
    `fallback`: the page still goes out. Returns (message, why the fallback was used or "")."""
    options: dict[str, Any] = {
        "priority": priority,
        "idempotency_key": idempotency_key,
        "recipients": tuple(recipients),
    }
    try:
        return render(template, variables, **options), ""
    except TemplateBudgetError as exc:
        if fallback is template:
            raise
        note = f"template {template.id} over its budget ({exc}); sent with {fallback.id!r}"
        message = render(fallback, variables, **options)
        return message, note


MAX_FACTS = 8
_HIDDEN_LABELS = frozenset({"alertname", "severity"})


def alert_facts(variables: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Status, severity and the alert's labels as short pairs for Slack fields / Teams facts."""
    alert = variables.get("alert")
    if not isinstance(alert, Mapping):
        return ()
    facts = [(k.title(), str(alert[k])) for k in ("status", "severity") if alert.get(k)]
    labels = alert.get("labels")
    if isinstance(labels, Mapping):
        facts += [(str(k), str(v)) for k, v in sorted(labels.items()) if k not in _HIDDEN_LABELS]
    return tuple(facts[:MAX_FACTS])


def alert_link(variables: Mapping[str, Any]) -> str | None:
    alert = variables.get("alert")
    if not isinstance(alert, Mapping):
        return None
    link = alert.get("url") or alert.get("generator_url")
    return str(link) if link and re.match(r"https?://", str(link)) else None


_SAMPLE_ALERT: dict[str, Any] = {
    "name": "HighCPUUsage",
    "status": "firing",
    "severity": "critical",
    "summary": "CPU usage above 90% on web-1",
    "description": "CPU usage on web-1:9100 has been above 90% for 5 minutes (current 97.3%).",
    "value": 97.3,
    "labels": {
        "alertname": "HighCPUUsage",
        "instance": "web-1:9100",
        "job": "node",
        "service": "checkout",
        "severity": "critical",
    },
    "annotations": {
        "summary": "CPU usage above 90% on web-1",
        "runbook_url": "https://runbooks.example.com/high-cpu",
    },
    "starts_at": "2024-05-01T12:00:00Z",
    "ends_at": None,
    "url": "http://localhost:8000/alerts/HighCPUUsage",
    "fingerprint": "",
}

SAMPLE_VARIABLES: dict[str, Any] = {
    "alert": _SAMPLE_ALERT,
    "alerts": [_SAMPLE_ALERT],
    "status": "firing",
}


def preview(
    template: NotificationTemplate, variables: Mapping[str, Any] | None = None
) -> RenderedMessage:
    """Render against the sample alert, with `variables` overriding top-level keys."""
    return render(template, {**SAMPLE_VARIABLES, **(variables or {})})
