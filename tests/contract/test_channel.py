"""One behavioural suite for every registered channel type (`notify.config.CHANNEL_TYPES`).

Each type is built from a config through the registry, as the delivery pipeline builds it, and
sent to a real peer on this machine: the HTTP receiver for the webhook-style channels, an SMTP
server for email. The contract is Alertmanager's `Notify` result: delivered, retryable, or
permanent, with at most `EXCERPT_LIMIT` characters of whatever the peer answered in its reason.

The WebSocket channel is not built from a config (it writes the tenant's event log, with no
network peer); tests/api/test_events_ws.py covers it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from tests.notify.conftest import Mailbox, rendered
from tests.receivers import HttpReceiver, Reply
from tests.support import free_port, local_outbound
from watchkeeper.notify import CHANNEL_TYPES, Channel, NotificationChannel, channel_from_config
from watchkeeper.notify.base import DeliveryResult, DeliveryStatus
from watchkeeper.notify.outbound import EXCERPT_LIMIT

pytestmark = pytest.mark.anyio

LOCAL = local_outbound()
RECIPIENT = "ops@example.com"
SLOW_PEER_TIMEOUT = 0.2  # seconds a channel waits in the timeout tests


@dataclass(frozen=True)
class Target:
    """How a channel type reaches a peer listening on 127.0.0.1:`port`."""

    transport: Literal["http", "smtp"]
    config: Callable[[int], dict[str, Any]]


TARGETS: dict[NotificationChannel, Target] = {
    NotificationChannel.EMAIL: Target(
        "smtp",
        lambda port: {"host": "127.0.0.1", "port": port, "security": "none", "to": [RECIPIENT]},
    ),
    NotificationChannel.SLACK: Target(
        "http", lambda port: {"webhook_url": f"http://127.0.0.1:{port}/services/T/B/X"}
    ),
    NotificationChannel.TEAMS: Target(
        "http", lambda port: {"webhook_url": f"http://127.0.0.1:{port}/workflows/1"}
    ),
    NotificationChannel.SMS: Target(
        "http",
        lambda port: {
            "account_sid": "AC1",
            "auth_token": "t",
            "from_number": "+15550001",
            "to": ["+15550002"],
            "base_url": f"http://127.0.0.1:{port}",
        },
    ),
    NotificationChannel.WEBHOOK: Target(
        "http", lambda port: {"url": f"http://127.0.0.1:{port}/hook"}
    ),
}

KINDS = sorted(CHANNEL_TYPES)
HTTP_KINDS = [k for k in KINDS if k in TARGETS and TARGETS[k].transport == "http"]
SMTP_KINDS = [k for k in KINDS if k in TARGETS and TARGETS[k].transport == "smtp"]


async def send_once(
    kind: NotificationChannel, port: int, *, timeout: float = 10.0
) -> DeliveryResult:
    config = {**TARGETS[kind].config(port), "timeout": timeout}
    channel = channel_from_config(kind, config, outbound=LOCAL)
    try:
        return await channel.send(rendered(kind.value))
    finally:
        await channel.aclose()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def test_every_registered_channel_type_has_a_target() -> None:
    """Registering a channel type without a target here fails: every type runs this suite."""
    assert set(TARGETS) == set(CHANNEL_TYPES)


@pytest.mark.parametrize("kind", KINDS)
async def test_built_from_its_config_it_is_a_channel_named_by_its_type(
    kind: NotificationChannel,
) -> None:
    channel = channel_from_config(kind, TARGETS[kind].config(free_port()), outbound=LOCAL)
    await channel.aclose()

    assert isinstance(channel, Channel) and channel.name == kind.value


# -- every transport ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_connection_refused_is_retryable(kind: NotificationChannel) -> None:
    result = await send_once(kind, free_port())

    assert result.status is DeliveryStatus.RETRYABLE


@pytest.mark.parametrize("kind", KINDS)
async def test_peer_that_never_answers_is_retryable(
    kind: NotificationChannel, silent_port: int
) -> None:
    result = await send_once(kind, silent_port, timeout=SLOW_PEER_TIMEOUT)

    assert result.status is DeliveryStatus.RETRYABLE


# -- HTTP ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 202, 204])
@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_http_2xx_is_delivered(
    kind: NotificationChannel, status: int, receiver: HttpReceiver
) -> None:
    receiver.default = Reply(status, b"" if status == 204 else b"ok")

    result = await send_once(kind, receiver.port)

    assert result.delivered and result.status_code == status and len(receiver.requests) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_http_server_errors_and_throttling_are_retryable(
    kind: NotificationChannel, status: int, receiver: HttpReceiver
) -> None:
    receiver.default = Reply(status, b"later")

    result = await send_once(kind, receiver.port)

    assert result.status is DeliveryStatus.RETRYABLE and result.status_code == status


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_http_retry_after_is_passed_on(
    kind: NotificationChannel, receiver: HttpReceiver
) -> None:
    receiver.default = Reply(429, b"slow down", headers={"Retry-After": "7"})

    result = await send_once(kind, receiver.port)

    assert result.retryable and result.retry_after == 7.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_http_client_errors_are_permanent(
    kind: NotificationChannel, status: int, receiver: HttpReceiver
) -> None:
    receiver.default = Reply(status, b"no")

    result = await send_once(kind, receiver.port)

    assert result.status is DeliveryStatus.PERMANENT and result.status_code == status


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_http_slow_reply_is_retryable(
    kind: NotificationChannel, receiver: HttpReceiver
) -> None:
    receiver.default = Reply(200, delay=1.0)

    result = await send_once(kind, receiver.port, timeout=SLOW_PEER_TIMEOUT)

    assert result.status is DeliveryStatus.RETRYABLE and "timed out" in result.reason


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_http_reply_body_is_bounded_in_the_reason(
    kind: NotificationChannel, receiver: HttpReceiver
) -> None:
    receiver.default = Reply(500, b"x" * 1_000_000)

    result = await send_once(kind, receiver.port)

    assert result.retryable and result.reason.count("x") <= EXCERPT_LIMIT


# -- SMTP ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SMTP_KINDS)
async def test_smtp_accepted_is_delivered(kind: NotificationChannel, smtp_plain: Mailbox) -> None:
    result = await send_once(kind, smtp_plain.port)

    assert result.delivered and [env.rcpt_tos for env, _ in smtp_plain.mails] == [[RECIPIENT]]


@pytest.mark.parametrize("kind", SMTP_KINDS)
async def test_smtp_transient_reply_is_retryable(
    kind: NotificationChannel, smtp_plain: Mailbox
) -> None:
    smtp_plain.refuse = {RECIPIENT: "450 4.2.1 mailbox busy, try later"}

    result = await send_once(kind, smtp_plain.port)

    assert result.status is DeliveryStatus.RETRYABLE and result.undelivered == (RECIPIENT,)


@pytest.mark.parametrize("kind", SMTP_KINDS)
async def test_smtp_permanent_reply_is_permanent(
    kind: NotificationChannel, smtp_plain: Mailbox
) -> None:
    smtp_plain.refuse = {RECIPIENT: "550 5.1.1 no such user"}

    result = await send_once(kind, smtp_plain.port)

    assert result.status is DeliveryStatus.PERMANENT and not smtp_plain.mails


@pytest.mark.parametrize("kind", SMTP_KINDS)
async def test_smtp_reply_text_is_bounded_in_the_reason(
    kind: NotificationChannel, smtp_plain: Mailbox
) -> None:
    smtp_plain.refuse = {RECIPIENT: "550 " + "x" * 900}

    result = await send_once(kind, smtp_plain.port)

    assert not result.delivered and result.reason.count("x") <= EXCERPT_LIMIT
