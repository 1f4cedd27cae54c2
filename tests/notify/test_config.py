"""Channel config schemas: validation, secret marks, encryption of stored configs (building and
sending every registered type: tests/contract/test_channel.py)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from pydantic import ValidationError

from tests.receivers import HttpReceiver
from tests.support import local_outbound
from watchkeeper.notify import (
    NotificationChannel,
    SecretBox,
    channel_from_config,
    decrypt_channel_config,
    encrypt_channel_config,
    secret_fields,
)
from watchkeeper.notify.crypto import is_encrypted

from .conftest import rendered

LOCAL = local_outbound()

pytestmark = pytest.mark.anyio


def test_secret_fields_are_marked() -> None:
    assert secret_fields("email") == {"password"}
    assert secret_fields("slack") == {"webhook_url"}
    assert secret_fields("teams") == {"webhook_url"}
    assert secret_fields("sms") == {"auth_token"}
    assert secret_fields("webhook") == {"secret", "headers"}


@pytest.mark.parametrize(
    ("kind", "config"),
    [
        ("email", {"host": "smtp", "security": "ssl"}),
        ("email", {"host": "smtp", "bogus": 1}),
        ("slack", {"webhook_url": "ftp://hooks"}),
        ("sms", {"account_sid": "AC1", "auth_token": "t"}),
        ("webhook", {"url": "example.com/hook"}),
        ("webhook", {"url": "https://example.com", "timeout": 0}),
    ],
)
def test_invalid_configs_are_refused(kind: str, config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        channel_from_config(kind, config)


def test_websocket_is_not_built_from_config() -> None:
    with pytest.raises(ValueError, match="cannot be built"):
        channel_from_config("websocket", {})


def test_stored_config_has_secrets_encrypted_and_round_trips() -> None:
    box = SecretBox(os.urandom(32))
    config = {"url": "https://example.com/hook", "secret": "s", "headers": {"X-Key": "k"}}

    stored = encrypt_channel_config(box, "webhook", config, context="channel:3")

    assert stored["url"] == "https://example.com/hook"
    assert is_encrypted(stored["secret"]) and is_encrypted(stored["headers"])
    assert decrypt_channel_config(box, "webhook", stored, context="channel:3") == config


def test_invalid_config_is_not_stored() -> None:
    with pytest.raises(ValidationError):
        encrypt_channel_config(SecretBox(os.urandom(32)), "slack", {}, context="c")


async def test_built_webhook_channel_sends(receiver: HttpReceiver) -> None:
    channel = channel_from_config(
        NotificationChannel.WEBHOOK,
        {"url": receiver.url(), "alertmanager_format": True},
        outbound=LOCAL,
    )

    result = await channel.send(rendered("webhook"))
    await channel.aclose()

    assert result.delivered
    assert b'"version":"4"' in receiver.requests[0].body.replace(b" ", b"")
