"""SMS end to end: a local HTTP server plays Twilio's Messages endpoint."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs

import pytest

from tests.receivers import HttpReceiver, Reply
from tests.support import local_outbound
from watchkeeper.notify.base import DeliveryStatus
from watchkeeper.notify.sms import BODY_LIMIT, SmsChannel

from .conftest import rendered

LOCAL = local_outbound()

pytestmark = pytest.mark.anyio

SID, TOKEN = "AC0123456789abcdef", "twilio-token"


def channel(receiver: HttpReceiver, **kwargs: object) -> SmsChannel:
    options: dict[str, object] = {
        "account_sid": SID,
        "auth_token": TOKEN,
        "from_number": "+15550001111",
        "base_url": receiver.url(""),
        **kwargs,
    }
    return SmsChannel(**options, outbound=LOCAL)  # type: ignore[arg-type]


async def test_one_form_post_per_recipient_with_basic_auth(receiver: HttpReceiver) -> None:
    receiver.default = Reply(201, b'{"sid": "SM1", "status": "queued"}')
    sms = channel(receiver)

    result = await sms.send(rendered("sms", recipients=("+15551230001", "+15551230002")))
    await sms.aclose()

    assert result.delivered and result.status_code == 201
    assert [r.path for r in receiver.requests] == [f"/2010-04-01/Accounts/{SID}/Messages.json"] * 2
    first = receiver.requests[0]
    assert first.headers["content-type"] == "application/x-www-form-urlencoded"
    assert (
        first.headers["authorization"]
        == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    )
    forms = [parse_qs(r.body.decode()) for r in receiver.requests]
    assert [f["To"] for f in forms] == [["+15551230001"], ["+15551230002"]]
    assert forms[0]["From"] == ["+15550001111"]
    assert forms[0]["Body"] == ["[CRITICAL] HighCPUUsage firing: CPU usage above 90% on web-1"]


async def test_messaging_service_and_default_recipients(receiver: HttpReceiver) -> None:
    sms = channel(
        receiver,
        from_number=None,
        messaging_service_sid="MG123",
        default_recipients=("+15551230009",),
    )

    result = await sms.send(rendered("sms", text="y" * 5000))
    await sms.aclose()

    form = parse_qs(receiver.requests[0].body.decode())
    assert result.delivered
    assert form["MessagingServiceSid"] == ["MG123"] and "From" not in form
    assert form["To"] == ["+15551230009"]
    assert len(form["Body"][0]) == BODY_LIMIT


async def test_partial_failure_names_the_numbers_still_owed(receiver: HttpReceiver) -> None:
    receiver.replies = [
        Reply(201, b"{}"),
        Reply(503, b"unavailable"),
        Reply(400, b'{"code": 21211, "message": "Invalid To"}'),
    ]
    sms = channel(receiver)
    recipients = ("+15551230001", "+15551230002", "+15551230003")

    result = await sms.send(rendered("sms", recipients=recipients))
    await sms.aclose()

    assert result.status is DeliveryStatus.RETRYABLE
    assert result.undelivered == ("+15551230002",)
    assert "21211" in result.reason


async def test_only_permanent_failures_are_permanent(receiver: HttpReceiver) -> None:
    receiver.default = Reply(401, b'{"code": 20003, "message": "Authenticate"}')
    sms = channel(receiver)

    result = await sms.send(rendered("sms", recipients=("+15551230001",)))
    await sms.aclose()

    assert result.status is DeliveryStatus.PERMANENT
    assert result.status_code == 401
    assert result.undelivered == ("+15551230001",)
