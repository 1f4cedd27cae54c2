"""The WebSocket channel: an outbox row for channel "websocket" becomes a `notification` event.

Delivery is a database write (the event log) rather than a network send: the clients of
`/ws/notifications` hear it live, and a client that is offline gets it on resume. The
channel belongs to one tenant (the outbox row's), which is why it is built per tenant:

    channel = WebSocketChannel(sessions, tenant_id, clock)
    result = await channel.send(rendered)   # DELIVERED once the event is committed

The message's idempotency key makes the event at-most-once, so a retried row is not shown
twice.
"""

from __future__ import annotations

import anyio
from sqlalchemy.exc import SQLAlchemyError

from watchkeeper.clock import Clock
from watchkeeper.events import publish
from watchkeeper.tenancy.scope import SessionFactory

from .base import DeliveryResult, NotificationChannel, RenderedMessage


def notification_data(message: RenderedMessage) -> dict[str, object]:
    """What a `notification` event carries: the rendered text plus the template inputs."""
    return {
        "subject": message.subject,
        "text": message.text,
        "priority": message.priority.value,
        "template_id": message.template_id,
        "recipients": list(message.recipients),
        "link": message.link,
        "idempotency_key": message.idempotency_key,
        "variables": dict(message.variables),
    }


class WebSocketChannel:
    """Publishes rendered notifications as events of one tenant."""

    name = NotificationChannel.WEBSOCKET.value

    def __init__(self, sessions: SessionFactory, tenant_id: str, clock: Clock) -> None:
        self.sessions = sessions
        self.tenant_id = tenant_id
        self.clock = clock

    def _write(self, message: RenderedMessage) -> None:
        with self.sessions.tenant(self.tenant_id) as db:
            publish(
                db,
                self.tenant_id,
                "notification",
                notification_data(message),
                now=self.clock.now(),
                key=message.idempotency_key,
            )

    async def send(self, message: RenderedMessage) -> DeliveryResult:
        try:
            await anyio.to_thread.run_sync(self._write, message)
        except SQLAlchemyError as exc:  # the database is back soon: the outbox retries
            return DeliveryResult.retry(self.name, f"event log write failed: {exc}")
        except (TypeError, ValueError) as exc:  # variables that are not JSON cannot ever go
            return DeliveryResult.fail(self.name, f"event not serialisable: {exc}")
        return DeliveryResult.ok(self.name)

    async def aclose(self) -> None:
        return None
