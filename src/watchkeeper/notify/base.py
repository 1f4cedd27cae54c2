"""The Channel interface: send one rendered message, say whether it arrived or may be retried.

Mirrors Alertmanager's `Notifier.Notify(ctx, alerts) (retryable bool, err error)`: a channel
never retries by itself; it classifies the outcome. The delivery pipeline's send stage
(notify/stages/send.py) turns a retryable result into a retry with backoff and a permanent
one into a dead letter; direct delivery (`NotificationService`, `direct=True`) returns the
result to its caller as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from watchkeeper.domain.alert_group import AlertGroup


class NotificationChannel(StrEnum):
    """The kinds of channel a notification can go out on; the values are the public names
    (API, configuration, outbox rows)."""

    EMAIL = "email"
    SLACK = "slack"
    TEAMS = "teams"
    SMS = "sms"
    WEBHOOK = "webhook"
    WEBSOCKET = "websocket"


class NotificationPriority(StrEnum):
    """How urgent a notification is; channels map it to their own marks (colour, X-Priority)."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class DeliveryStatus(StrEnum):
    DELIVERED = "delivered"
    RETRYABLE = "retryable"  # transient: 5xx, 429, timeout, connection refused, SMTP 4xx
    PERMANENT = "permanent"  # will fail again unchanged: other 4xx, SMTP 5xx, bad config


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one `Channel.send`.

    `retry_after` is the receiver's own hint (HTTP Retry-After) in seconds, when it gave one.
    `undelivered` lists the recipients still owed the message after a partial failure (several
    SMS numbers or mail recipients), so a retry can target only them.
    """

    status: DeliveryStatus
    channel: str
    reason: str = ""
    status_code: int | None = None
    retry_after: float | None = None
    undelivered: tuple[str, ...] = ()

    @property
    def delivered(self) -> bool:
        return self.status is DeliveryStatus.DELIVERED

    @property
    def retryable(self) -> bool:
        return self.status is DeliveryStatus.RETRYABLE

    @classmethod
    def ok(cls, channel: str, status_code: int | None = None) -> DeliveryResult:
        return cls(DeliveryStatus.DELIVERED, channel, status_code=status_code)

    @classmethod
    def retry(
        cls,
        channel: str,
        reason: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        undelivered: tuple[str, ...] = (),
    ) -> DeliveryResult:
        return cls(DeliveryStatus.RETRYABLE, channel, reason, status_code, retry_after, undelivered)

    @classmethod
    def fail(
        cls,
        channel: str,
        reason: str,
        *,
        status_code: int | None = None,
        undelivered: tuple[str, ...] = (),
    ) -> DeliveryResult:
        return cls(DeliveryStatus.PERMANENT, channel, reason, status_code, None, undelivered)


@dataclass(frozen=True)
class RenderedMessage:
    """A notification after its template ran: what every channel needs to send it.

    `text` is the plain body (Slack mrkdwn, Teams markdown or SMS text depending on the
    template); `html` is set for email. `facts` are short name/value pairs shown as Slack
    fields or a Teams FactSet. `variables` are the template inputs, JSON-serialisable, kept for
    channels that send structure (the generic webhook, its Alertmanager-compatible body).
    `idempotency_key` is stable across retries of the same notification on the same channel.
    `group` is the alert group the message tells about, when it was routed as one; channels
    that speak a wire format of alert groups (the Alertmanager webhook body) serialise it.
    """

    subject: str
    text: str
    priority: NotificationPriority = NotificationPriority.NORMAL
    html: str | None = None
    template_id: str = ""
    idempotency_key: str = ""
    recipients: tuple[str, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()
    link: str | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    group: AlertGroup | None = None


@runtime_checkable
class Channel(Protocol):
    """One configured destination (a Slack webhook, an SMTP relay, ...)."""

    @property
    def name(self) -> str:
        """The channel's name in results and logs, e.g. `slack`."""
        ...

    async def send(self, message: RenderedMessage) -> DeliveryResult:
        """Send once; never raise for a delivery problem, classify it instead."""
        ...

    async def aclose(self) -> None:
        """Release connections the channel opened itself."""
        ...
