"""Teams end to end: a local HTTP server receives the Workflows message with its Adaptive Card."""

from __future__ import annotations

import json

import pytest

from tests.receivers import HttpReceiver, Reply
from tests.support import local_outbound
from watchkeeper.notify.base import DeliveryStatus, NotificationPriority
from watchkeeper.notify.teams import TeamsChannel

from .conftest import rendered

LOCAL = local_outbound()

pytestmark = pytest.mark.anyio


async def test_adaptive_card_reaches_the_workflow(receiver: HttpReceiver) -> None:
    receiver.default = Reply(202, b"")
    teams = TeamsChannel(
        receiver.url("/workflows/abc/triggers/manual/paths/invoke?sig=s"), outbound=LOCAL
    )

    result = await teams.send(rendered("teams", priority=NotificationPriority.HIGH))
    await teams.aclose()

    assert result.delivered and result.status_code == 202
    request = receiver.requests[0]
    assert request.path == "/workflows/abc/triggers/manual/paths/invoke?sig=s"
    body = json.loads(request.body)
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title, text, facts = card["body"]
    assert title["text"] == "[FIRING] HighCPUUsage (critical)"
    assert title["color"] == "Warning"
    assert text["text"].startswith("**CPU usage above 90% on web-1**") and text["wrap"]
    assert {"title": "instance", "value": "web-1:9100"} in facts["facts"]
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open in Watchkeeper",
            "url": "http://localhost:8000/alerts/HighCPUUsage",
        }
    ]


async def test_bad_request_is_permanent(receiver: HttpReceiver) -> None:
    receiver.replies = [Reply(400, b'{"error":{"code":"TriggerInputSchemaMismatch"}}')]
    teams = TeamsChannel(receiver.url(), outbound=LOCAL)

    result = await teams.send(rendered("teams"))
    await teams.aclose()

    assert result.status is DeliveryStatus.PERMANENT
    assert "TriggerInputSchemaMismatch" in result.reason
