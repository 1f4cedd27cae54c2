"""Slack end to end: a local HTTP server receives the Block Kit message."""

from __future__ import annotations

import json

import pytest

from tests.receivers import HttpReceiver, Reply
from tests.support import local_outbound
from watchkeeper.notify.base import DeliveryStatus, NotificationPriority
from watchkeeper.notify.slack import HEADER_LIMIT, SECTION_LIMIT, SlackChannel

from .conftest import rendered

LOCAL = local_outbound()

pytestmark = pytest.mark.anyio


async def test_block_kit_message_reaches_the_webhook(receiver: HttpReceiver) -> None:
    slack = SlackChannel(receiver.url("/services/T000/B000/XXXX"), outbound=LOCAL)
    try:
        result = await slack.send(rendered("slack", priority=NotificationPriority.CRITICAL))
    finally:
        await slack.aclose()

    assert result.delivered and result.status_code == 200
    request = receiver.requests[0]
    assert request.path == "/services/T000/B000/XXXX"
    assert request.headers["content-type"].startswith("application/json")
    body = json.loads(request.body)
    assert body["text"] == "[FIRING] HighCPUUsage (critical)"
    header, section, fields, context = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[FIRING] HighCPUUsage (critical)"},
    }
    assert section["text"]["type"] == "mrkdwn"
    assert section["text"]["text"].startswith("*CPU usage above 90% on web-1*")
    assert {"type": "mrkdwn", "text": "*service*\ncheckout"} in fields["fields"]
    assert ":red_circle: critical priority" in context["elements"][0]["text"]
    assert (
        "<http://localhost:8000/alerts/HighCPUUsage|Open in Watchkeeper>"
        in (context["elements"][0]["text"])
    )


async def test_long_text_is_cut_to_block_kit_limits(receiver: HttpReceiver) -> None:
    slack = SlackChannel(receiver.url(), outbound=LOCAL)
    message = rendered("slack", subject="S" * 500, text="x" * 10_000)

    result = await slack.send(message)
    await slack.aclose()

    blocks = json.loads(receiver.requests[0].body)["blocks"]
    assert result.delivered
    assert len(blocks[0]["text"]["text"]) == HEADER_LIMIT
    assert len(blocks[1]["text"]["text"]) == SECTION_LIMIT


async def test_rate_limit_is_retryable_with_retry_after(receiver: HttpReceiver) -> None:
    receiver.replies = [Reply(429, b"rate_limited", {"Retry-After": "30"})]
    slack = SlackChannel(receiver.url(), outbound=LOCAL)

    result = await slack.send(rendered("slack"))
    await slack.aclose()

    assert result.status is DeliveryStatus.RETRYABLE
    assert result.retry_after == 30.0


async def test_archived_channel_is_permanent_and_url_not_leaked(receiver: HttpReceiver) -> None:
    receiver.replies = [Reply(410, b"channel_is_archived")]
    url = receiver.url("/services/T000/B000/SECRET")
    slack = SlackChannel(url, outbound=LOCAL)

    result = await slack.send(rendered("slack"))
    await slack.aclose()

    assert result.status is DeliveryStatus.PERMANENT
    assert result.reason == "HTTP 410: channel_is_archived"
    assert "SECRET" not in result.reason
