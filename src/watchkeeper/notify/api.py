"""The Python notification API: a NotificationService sending NotificationRequests.

    service = initialize_notification_service({"slack": {"webhook_url": "https://hooks..."}})
    results = await service.send_notification(NotificationRequest(
        template_id="default", recipients=["oncall@example.com"],
        channels=[NotificationChannel.SLACK], priority=NotificationPriority.CRITICAL,
        variables={"alert": {...}}))

Without a database delivery is direct: one attempt per channel, results returned. Given an
`OutboxTarget` (a database, a tenant), `send_notification` writes one outbox row per channel
and waits until the delivery worker has settled them, so the Python API gets the same
retries, rate limits and dead letter as everything else (docs/design/notifications.md);
`direct=True` still sends at once. `deliver` remains a seam for tests and custom transports.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import structlog

from watchkeeper.clock import Clock

from .base import (
    Channel,
    DeliveryResult,
    NotificationChannel,
    NotificationPriority,
    RenderedMessage,
)
from .config import channel_from_config
from .default_templates import DEFAULT_TEMPLATES
from .http import HttpClient, OwnedClient
from .outbound import OutboundPolicy
from .recipients import recipients_for
from .templates import NotificationTemplate, TemplateRenderError, render_or_fallback

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from watchkeeper.tenancy.scope import SessionFactory

    from .delivery import DeliveryWorker

log = structlog.get_logger(__name__)

Deliver = Callable[[NotificationChannel, RenderedMessage], Awaitable[DeliveryResult]]

DEFAULT_TEMPLATE_ID = "default"


@dataclass(frozen=True)
class OutboxTarget:
    """Where `send_notification` queues: a tenant of a database (`SessionFactory`).

    With `worker`, the service drains the outbox itself while it waits (library use without
    a server); otherwise it waits for the server's delivery workers, up to `wait_seconds`.
    """

    sessions: SessionFactory
    tenant_id: str
    clock: Clock
    worker: DeliveryWorker | None = None
    wait_seconds: float = 60.0
    poll_seconds: float = 0.05


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


class NotificationService:
    """Renders a request per channel and hands each message to `deliver`."""

    def __init__(
        self,
        channels: Mapping[NotificationChannel, Channel],
        *,
        templates: Iterable[NotificationTemplate] = (),
        deliver: Deliver | None = None,
        owned_client: OwnedClient | None = None,
        outbox: OutboxTarget | None = None,
    ) -> None:
        self.channels = dict(channels)
        self.outbox = outbox
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

    def _template_for_delivery(
        self, db: Session, template_id: str, channel: NotificationChannel
    ) -> NotificationTemplate:
        from .template_store import load_template

        if template_id in self._templates:
            return self.template_for(template_id, channel)
        return load_template(db, template_id, channel)

    async def send_notification(
        self, request: NotificationRequest, *, direct: bool = False
    ) -> list[DeliveryResult]:
        """One result per requested channel, in the request's order.

        Through the outbox when the service has one (and `direct` is False): the result is
        each row's settled state (sent, dead, suppressed), or a retryable "still queued".
        """
        kinds = [NotificationChannel(c) for c in request.channels] or list(self.channels)
        base_key = request.idempotency_key or uuid.uuid4().hex
        # Resolve every template first, so an unknown template sends nothing at all.
        templates = {kind: self.template_for(request.template_id, kind) for kind in kinds}
        if self.outbox is not None and not direct:
            return await self._through_outbox(self.outbox, request, kinds, templates, base_key)
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
            message, note = render_or_fallback(
                template,
                DEFAULT_TEMPLATES[kind],
                request.variables,
                priority=request.priority,
                idempotency_key=f"{base_key}.{kind.value}",
                recipients=recipients_for(kind, request.recipients),
            )
        except TemplateRenderError as exc:
            return DeliveryResult.fail(kind.value, f"template {template.id}: {exc}")
        if note:
            log.warning("notification_template_fallback", channel=kind.value, reason=note)
        return await self._deliver(kind, message)

    async def _through_outbox(
        self,
        target: OutboxTarget,
        request: NotificationRequest,
        kinds: Sequence[NotificationChannel],
        templates: Mapping[NotificationChannel, NotificationTemplate],
        base_key: str,
    ) -> list[DeliveryResult]:
        from .outbox import OutboxMessage, OutboxStatus, enqueue

        keys = {kind: f"{base_key}.{kind.value}" for kind in kinds}

        def write() -> None:
            with target.sessions.tenant(target.tenant_id) as db:
                for kind in kinds:
                    priority = request.priority or templates[kind].priority
                    enqueue(
                        db,
                        OutboxMessage(
                            idempotency_key=keys[kind],
                            channel=kind.value,
                            payload=dict(request.variables),
                            recipients=tuple(request.recipients),
                            template_id=templates[kind].id,
                            priority=NotificationPriority(priority).value,
                            source="python_api",
                        ),
                        target.clock.now(),
                    )

        await anyio.to_thread.run_sync(write)
        states = await self._settle(target, list(keys.values()))
        results = []
        for kind in kinds:
            status, error = states.get(keys[kind], (OutboxStatus.PENDING, ""))
            if status == OutboxStatus.SENT:
                results.append(DeliveryResult.ok(kind.value))
            elif status in {OutboxStatus.DEAD, OutboxStatus.SUPPRESSED}:
                results.append(DeliveryResult.fail(kind.value, f"{status}: {error}"))
            else:
                results.append(DeliveryResult.retry(kind.value, f"still queued: {error}"))
        return results

    async def _settle(self, target: OutboxTarget, keys: list[str]) -> dict[str, tuple[str, str]]:
        from sqlalchemy import select

        from watchkeeper.db.tables import NotificationOutbox

        from .outbox import OutboxStatus

        settled_states = {OutboxStatus.SENT, OutboxStatus.DEAD, OutboxStatus.SUPPRESSED}

        def read() -> dict[str, tuple[str, str]]:
            with target.sessions.tenant(target.tenant_id) as db:
                rows = db.execute(
                    select(
                        NotificationOutbox.idempotency_key,
                        NotificationOutbox.status,
                        NotificationOutbox.last_error,
                    ).where(NotificationOutbox.idempotency_key.in_(keys))
                )
                return {k: (s, e) for k, s, e in rows}

        loop = asyncio.get_running_loop()
        deadline = loop.time() + target.wait_seconds
        while True:
            if target.worker is not None:
                # The passes this service drives render with its own templates too.
                await target.worker.drain_once(templates=self._template_for_delivery)
            states = await anyio.to_thread.run_sync(read)
            settled = all(states.get(k, ("", ""))[0] in settled_states for k in keys)
            if settled or loop.time() >= deadline:
                return states
            # Waiting on another worker's progress, not measuring time: real sleep is right.
            await asyncio.sleep(target.poll_seconds)

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
    client: HttpClient | None = None,
    clock: Clock | None = None,
    outbox: OutboxTarget | None = None,
    outbound: OutboundPolicy | None = None,
) -> NotificationService:
    """A service with one channel per config entry (`{"slack": {...}, "email": {...}}`).

    `channels` adds ready-made channels (e.g. the WebSocket broadcaster); HTTP channels share
    `client` (a guarded session), or one the service makes on first use and closes in
    `aclose`. `outbound` lists the non-public destinations allowed (`OutboundPolicy.parse(
    ["10.0.0.0/8"])`); without it only public addresses are reached.
    Raises pydantic.ValidationError for an invalid channel config.
    """
    owned: OwnedClient | None = None
    if client is None:
        client = owned = OwnedClient(None, outbound)
    built: dict[NotificationChannel, Channel] = {
        NotificationChannel(kind): channel_from_config(
            kind, cfg, client=client, clock=clock, outbound=outbound
        )
        for kind, cfg in config.items()
    }
    built.update(channels or {})
    return NotificationService(
        built,
        templates=templates,
        deliver=deliver,
        owned_client=owned,
        outbox=outbox,
    )
