"""The Python API of the product brief: a NotificationService sending NotificationRequests.

    service = initialize_notification_service({"slack": {"webhook_url": "https://hooks..."}})
    results = await service.send_notification(NotificationRequest(
        template_id="default", recipients=["oncall@example.com"],
        channels=[NotificationChannel.SLACK], priority=NotificationPriority.CRITICAL,
        variables={"alert": {...}}))

Today delivery is direct: one attempt per channel, results returned. The seam for the
persistent outbox is `deliver`: a callable taking (channel type, rendered message) that the
service awaits instead of `Channel.send`; an outbox writes a row there and delivers later.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from watchkeeper.clock import Clock
from watchkeeper.config import Settings

from .base import (
    Channel,
    DeliveryResult,
    NotificationChannel,
    NotificationPriority,
    RenderedMessage,
)
from .config import channel_from_config
from .default_templates import DEFAULT_TEMPLATES
from .templates import NotificationTemplate, TemplateRenderError, render

Deliver = Callable[[NotificationChannel, RenderedMessage], Awaitable[DeliveryResult]]

DEFAULT_TEMPLATE_ID = "default"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True)
class NotificationRequest:
    """What to send: a template, to whom, on which channels, at which priority, with what data.

    Empty `channels` means every configured channel. `priority` None takes the template's.
    `idempotency_key` identifies the notification across retries; one is made when absent.
    """

    template_id: str
    recipients: Sequence[str] = ()
    channels: Sequence[NotificationChannel] = ()
    priority: NotificationPriority | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None


class UnknownTemplateError(KeyError):
    """The request names a template the service does not have."""


def recipients_for(channel: NotificationChannel, recipients: Iterable[str]) -> tuple[str, ...]:
    """The recipients a channel addresses: `email:`/`sms:` prefixed, or by their shape.

    Email takes addresses with an `@`, SMS takes E.164 numbers (+15551234567); the webhook
    channels (Slack, Teams, webhook) post to their configured URL and take none.
    """
    picked: list[str] = []
    for raw in recipients:
        kind, sep, address = raw.partition(":")
        if sep and kind in {c.value for c in NotificationChannel}:
            if kind == channel.value:
                picked.append(address)
        elif channel is NotificationChannel.EMAIL and "@" in raw:
            picked.append(raw)
        elif channel is NotificationChannel.SMS and _E164.match(raw):
            picked.append(raw)
    return tuple(picked)


class NotificationService:
    """Renders a request per channel and hands each message to `deliver`."""

    def __init__(
        self,
        channels: Mapping[NotificationChannel, Channel],
        *,
        templates: Iterable[NotificationTemplate] = (),
        deliver: Deliver | None = None,
        owned_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.channels = dict(channels)
        self._templates = {t.id: t for t in DEFAULT_TEMPLATES.values()}
        self._templates.update({t.id: t for t in templates})
        self._deliver = deliver or self._send_directly
        self._owned_client = owned_client

    @property
    def templates(self) -> Mapping[str, NotificationTemplate]:
        return dict(self._templates)

    def add_template(self, template: NotificationTemplate) -> None:
        """Register or replace a template (it was validated when constructed)."""
        self._templates[template.id] = template

    def template_for(self, template_id: str, channel: NotificationChannel) -> NotificationTemplate:
        """The named template when it lists the channel, else that channel's default."""
        if template_id != DEFAULT_TEMPLATE_ID:
            template = self._templates.get(template_id)
            if template is None:
                raise UnknownTemplateError(template_id)
            if template.applies_to(channel):
                return template
        return DEFAULT_TEMPLATES[channel]

    async def send_notification(self, request: NotificationRequest) -> list[DeliveryResult]:
        """One result per requested channel, in the request's order."""
        kinds = [NotificationChannel(c) for c in request.channels] or list(self.channels)
        base_key = request.idempotency_key or uuid.uuid4().hex
        # Resolve every template first, so an unknown template sends nothing at all.
        templates = {kind: self.template_for(request.template_id, kind) for kind in kinds}
        return list(
            await asyncio.gather(
                *(self._one(request, kind, templates[kind], base_key) for kind in kinds)
            )
        )

    async def _one(
        self,
        request: NotificationRequest,
        kind: NotificationChannel,
        template: NotificationTemplate,
        base_key: str,
    ) -> DeliveryResult:
        try:
            message = render(
                template,
                request.variables,
                priority=request.priority,
                idempotency_key=f"{base_key}.{kind.value}",
                recipients=recipients_for(kind, request.recipients),
            )
        except TemplateRenderError as exc:
            return DeliveryResult.fail(kind.value, f"template {template.id}: {exc}")
        return await self._deliver(kind, message)

    async def _send_directly(
        self, kind: NotificationChannel, message: RenderedMessage
    ) -> DeliveryResult:
        channel = self.channels.get(kind)
        if channel is None:
            return DeliveryResult.fail(kind.value, f"no {kind.value} channel is configured")
        return await channel.send(message)

    async def aclose(self) -> None:
        for channel in self.channels.values():
            await channel.aclose()
        if self._owned_client is not None:
            await self._owned_client.aclose()


def initialize_notification_service(
    config: Mapping[str, Mapping[str, Any]],
    *,
    templates: Iterable[NotificationTemplate] = (),
    channels: Mapping[NotificationChannel, Channel] | None = None,
    deliver: Deliver | None = None,
    client: httpx.AsyncClient | None = None,
    clock: Clock | None = None,
) -> NotificationService:
    """A service with one channel per config entry (`{"slack": {...}, "email": {...}}`).

    `channels` adds ready-made channels (e.g. the WebSocket broadcaster); HTTP channels share
    `client`, or one client the service makes and closes in `aclose`.
    Raises pydantic.ValidationError for an invalid channel config.
    """
    shared = client or httpx.AsyncClient()
    built: dict[NotificationChannel, Channel] = {
        NotificationChannel(kind): channel_from_config(kind, cfg, client=shared, clock=clock)
        for kind, cfg in config.items()
    }
    built.update(channels or {})
    return NotificationService(
        built,
        templates=templates,
        deliver=deliver,
        owned_client=None if client is not None else shared,
    )


def channel_configs_from_settings(settings: Settings) -> dict[str, dict[str, Any]]:
    """Channel configs from the environment-level settings (SLACK_WEBHOOK_URL, EMAIL_SMTP_*)."""
    configs: dict[str, dict[str, Any]] = {}
    if settings.slack_webhook_url is not None:
        configs["slack"] = {"webhook_url": settings.slack_webhook_url.get_secret_value()}
    if settings.email_smtp_server:
        port = settings.email_smtp_port
        configs["email"] = {
            "host": settings.email_smtp_server,
            "port": port,
            "security": "tls" if port == 465 else "starttls" if port == 587 else "none",
        }
    return configs
