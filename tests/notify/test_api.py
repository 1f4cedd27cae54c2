"""The product brief's Python API end to end: one request fans out to real SMTP and HTTP peers."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest

from tests.receivers import HttpReceiver
from tests.support import local_outbound
from watchkeeper.config import Settings
from watchkeeper.notify import (
    DeliveryResult,
    NotificationChannel,
    NotificationPriority,
    NotificationRequest,
    NotificationTemplate,
    RenderedMessage,
    UnknownTemplateError,
    initialize_notification_service,
    recipients_for,
)
from watchkeeper.notify.config import channel_configs_from_settings

from .conftest import Mailbox

LOCAL = local_outbound()

pytestmark = pytest.mark.anyio

ALERT = {
    "name": "DiskFull",
    "status": "firing",
    "severity": "critical",
    "summary": "disk /var 98% full on db-1",
    "labels": {"alertname": "DiskFull", "instance": "db-1"},
}


async def test_send_notification_reaches_every_channel(
    receiver: HttpReceiver, smtp_plain: Mailbox
) -> None:
    service = initialize_notification_service(
        {
            "slack": {"webhook_url": receiver.url("/slack")},
            "teams": {"webhook_url": receiver.url("/teams")},
            "sms": {
                "account_sid": "AC1",
                "auth_token": "t",
                "from_number": "+15550000000",
                "base_url": receiver.url(""),
            },
            "webhook": {"url": receiver.url("/hook"), "secret": "s3"},
            "email": {"host": "127.0.0.1", "port": smtp_plain.port, "security": "none"},
        },
        outbound=LOCAL,
    )
    request = NotificationRequest(
        template_id="default",
        recipients=["oncall@example.com", "+15551230001"],
        channels=[
            NotificationChannel.SLACK,
            NotificationChannel.TEAMS,
            NotificationChannel.SMS,
            NotificationChannel.WEBHOOK,
            NotificationChannel.EMAIL,
        ],
        priority=NotificationPriority.CRITICAL,
        variables={"alert": ALERT},
        idempotency_key="inc-42-page-1",
    )

    results = await service.send_notification(request)
    await service.aclose()

    assert [r.channel for r in results] == ["slack", "teams", "sms", "webhook", "email"]
    assert all(r.delivered for r in results), results
    by_path = {r.path: r for r in receiver.requests}
    slack = json.loads(by_path["/slack"].body)
    assert slack["text"] == "[FIRING] DiskFull (critical)"
    assert parse_qs(by_path["/2010-04-01/Accounts/AC1/Messages.json"].body.decode())["To"] == [
        "+15551230001"
    ]
    hook = by_path["/hook"]
    assert hook.headers["idempotency-key"] == "inc-42-page-1.webhook"
    assert json.loads(hook.body)["priority"] == "critical"
    envelope, mail = smtp_plain.mails[0]
    assert envelope.rcpt_tos == ["oncall@example.com"]
    assert mail["Message-ID"] == "<inc-42-page-1.email@watchkeeper>"


async def test_custom_template_for_its_channels_default_for_others(
    receiver: HttpReceiver,
) -> None:
    service = initialize_notification_service(
        {
            "slack": {"webhook_url": receiver.url("/slack")},
            "webhook": {"url": receiver.url("/hook")},
        },
        templates=[
            NotificationTemplate(
                "disk",
                "Disk",
                "Disk on {{ alert.labels.instance }}",
                "{{ alert.summary }}",
                channels=[NotificationChannel.SLACK],
                priority=NotificationPriority.HIGH,
            )
        ],
        outbound=LOCAL,
    )

    results = await service.send_notification(
        NotificationRequest(template_id="disk", variables={"alert": ALERT})
    )
    await service.aclose()

    assert all(r.delivered for r in results)
    by_path = {r.path: json.loads(r.body) for r in receiver.requests}
    assert by_path["/slack"]["text"] == "Disk on db-1"
    assert by_path["/hook"]["subject"] == "[FIRING] DiskFull (critical)"
    assert by_path["/hook"]["priority"] == "normal"


async def test_unknown_template_sends_nothing(receiver: HttpReceiver) -> None:
    service = initialize_notification_service({"webhook": {"url": receiver.url()}}, outbound=LOCAL)

    with pytest.raises(UnknownTemplateError):
        await service.send_notification(NotificationRequest(template_id="nope"))
    await service.aclose()

    assert receiver.requests == []


async def test_unconfigured_channel_and_render_failure_are_permanent(
    receiver: HttpReceiver,
) -> None:
    unsafe = NotificationTemplate(
        "unsafe", "Unsafe", "x", "{{ ''.__class__.__mro__ }}", [NotificationChannel.WEBHOOK]
    )
    service = initialize_notification_service(
        {"webhook": {"url": receiver.url()}}, templates=[unsafe], outbound=LOCAL
    )

    results = await service.send_notification(
        NotificationRequest(
            template_id="unsafe",
            channels=[NotificationChannel.WEBHOOK, NotificationChannel.WEBSOCKET],
        )
    )
    await service.aclose()

    webhook, websocket = results
    assert not webhook.delivered and not webhook.retryable and "sandbox" in webhook.reason
    assert websocket.reason == "no websocket channel is configured"
    assert receiver.requests == []


async def test_deliver_seam_receives_rendered_messages() -> None:
    queued: list[tuple[NotificationChannel, RenderedMessage]] = []

    async def enqueue(kind: NotificationChannel, message: RenderedMessage) -> DeliveryResult:
        queued.append((kind, message))
        return DeliveryResult.ok(kind.value)

    service = initialize_notification_service(
        {"slack": {"webhook_url": "https://hooks.example.com/x"}}, deliver=enqueue, outbound=LOCAL
    )
    await service.send_notification(
        NotificationRequest(template_id="default", variables={"alert": ALERT})
    )
    await service.aclose()

    ((kind, message),) = queued
    assert kind is NotificationChannel.SLACK
    assert message.subject == "[FIRING] DiskFull (critical)"
    assert message.idempotency_key.endswith(".slack")


def test_recipients_are_routed_by_prefix_or_shape() -> None:
    recipients = [
        "a@example.com",
        "+15551234567",
        "sms:+447700900123",
        "email:b@example.com",
        "bob",
    ]

    assert recipients_for(NotificationChannel.EMAIL, recipients) == (
        "a@example.com",
        "b@example.com",
    )
    assert recipients_for(NotificationChannel.SMS, recipients) == (
        "+15551234567",
        "+447700900123",
    )
    assert recipients_for(NotificationChannel.SLACK, recipients) == ()


def test_channel_configs_from_settings() -> None:
    settings = Settings(
        slack_webhook_url="https://hooks.slack.com/services/T/B/X",
        email_smtp_server="smtp.example.com",
        email_smtp_port=465,
    )

    configs = channel_configs_from_settings(settings)

    assert configs["slack"] == {"webhook_url": "https://hooks.slack.com/services/T/B/X"}
    assert configs["email"] == {"host": "smtp.example.com", "port": 465, "security": "tls"}
