"""Retry classification against a real receiver: 5xx and timeouts retryable, 4xx permanent,
and retries with one idempotency key reach an idempotent receiver exactly once."""

from __future__ import annotations

import json

import pytest

from tests.receivers import HttpReceiver, Reply
from tests.support import free_port, local_outbound
from watchkeeper.notify.base import DeliveryResult, DeliveryStatus
from watchkeeper.notify.webhook import IDEMPOTENCY_HEADER, WebhookChannel

from .conftest import rendered

LOCAL = local_outbound()

pytestmark = pytest.mark.anyio


async def test_failing_receiver_gives_retryable_then_delivered(receiver: HttpReceiver) -> None:
    receiver.replies = [Reply(500, b"boom"), Reply(502, b"bad gateway")]
    hook = WebhookChannel(receiver.url(), outbound=LOCAL)
    message = rendered("webhook")

    results = [await hook.send(message) for _ in range(3)]
    await hook.aclose()

    assert [r.status for r in results] == [
        DeliveryStatus.RETRYABLE,
        DeliveryStatus.RETRYABLE,
        DeliveryStatus.DELIVERED,
    ]
    assert [r.status_code for r in results] == [500, 502, 200]
    assert results[0].reason == "HTTP 500: boom"


async def test_retries_reach_an_idempotent_receiver_once(receiver: HttpReceiver) -> None:
    """Every attempt carries the same key, so a receiver storing by key keeps one copy."""
    receiver.replies = [Reply(503), Reply(503)]
    hook = WebhookChannel(receiver.url(), outbound=LOCAL)
    message = rendered("webhook")

    result: DeliveryResult | None = None
    attempts = 0
    while result is None or result.retryable:
        result = await hook.send(message)
        attempts += 1
    await hook.aclose()

    keys = [r.headers[IDEMPOTENCY_HEADER.lower()] for r in receiver.requests]
    stored = {key: json.loads(r.body) for key, r in zip(keys, receiver.requests, strict=True)}
    assert result.delivered and attempts == 3
    assert keys == ["n-1.webhook"] * 3
    assert len(stored) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
async def test_client_errors_are_permanent(receiver: HttpReceiver, status: int) -> None:
    receiver.default = Reply(status, b"no")
    hook = WebhookChannel(receiver.url(), outbound=LOCAL)

    result = await hook.send(rendered("webhook"))
    await hook.aclose()

    assert result.status is DeliveryStatus.PERMANENT and result.status_code == status


@pytest.mark.parametrize("status", [408, 429, 500, 503, 504])
async def test_server_errors_and_throttling_are_retryable(
    receiver: HttpReceiver, status: int
) -> None:
    receiver.default = Reply(status, b"later")
    hook = WebhookChannel(receiver.url(), outbound=LOCAL)

    result = await hook.send(rendered("webhook"))
    await hook.aclose()

    assert result.status is DeliveryStatus.RETRYABLE


async def test_slow_receiver_times_out_as_retryable(receiver: HttpReceiver) -> None:
    receiver.replies = [Reply(200, delay=1.0)]
    hook = WebhookChannel(receiver.url(), timeout=0.2, outbound=LOCAL)

    result = await hook.send(rendered("webhook"))
    await hook.aclose()

    assert result.status is DeliveryStatus.RETRYABLE
    assert result.reason.startswith("timed out after 0.2 s")


async def test_nothing_listening_is_retryable() -> None:
    hook = WebhookChannel(f"http://127.0.0.1:{free_port()}/hook", outbound=LOCAL)

    result = await hook.send(rendered("webhook"))
    await hook.aclose()

    assert result.status is DeliveryStatus.RETRYABLE
    assert "ClientConnectorError" in result.reason


async def test_redirects_are_not_followed(receiver: HttpReceiver) -> None:
    """A webhook that moved must be reconfigured: following would resend it somewhere else."""
    receiver.replies = [Reply(302, b"moved", headers={"Location": receiver.url() + "/elsewhere"})]
    hook = WebhookChannel(receiver.url(), outbound=LOCAL)

    result = await hook.send(rendered("webhook"))
    await hook.aclose()

    assert result.status is DeliveryStatus.PERMANENT and result.status_code == 302
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("url", ["http://", "ftp://127.0.0.1/hook", "not a url"])
async def test_invalid_url_is_permanent_and_not_echoed(url: str) -> None:
    hook = WebhookChannel(url, outbound=LOCAL)

    result = await hook.send(rendered("webhook"))
    await hook.aclose()

    assert result.status is DeliveryStatus.PERMANENT
    assert result.reason.startswith("invalid URL") and url not in result.reason
