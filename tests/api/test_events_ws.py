"""/ws/notifications: authentication, tenant scoping, live events and resume by id."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.conftest import Env, TenantFixture
from watchkeeper.events import publish
from watchkeeper.notify.base import RenderedMessage
from watchkeeper.notify.websocket import WebSocketChannel


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def _tenant_id(env: Env, name: str) -> str:
    context = env.context
    return str(context.tenants.id_of(name))


def _publish(env: Env, tenant: str, data: dict[str, Any]) -> None:
    context = env.context
    with context.sessions.tenant(tenant) as db:
        publish(db, tenant, "anomaly", data, now=env.clock.now())


def test_live_events_reach_only_their_tenant(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    acme_id, globex_id = _tenant_id(env, "acme"), _tenant_id(env, "globex")
    with env.client.websocket_connect(
        "/ws/notifications", subprotocols=["bearer", _token(acme.viewer)]
    ) as ws:
        assert ws.receive_json()["type"] == "ready"
        _publish(env, globex_id, {"n": "theirs"})
        _publish(env, acme_id, {"n": "mine"})
        event = ws.receive_json()
    assert event["type"] == "anomaly" and event["data"] == {"n": "mine"}
    assert set(event) == {"id", "type", "data", "at"}


def test_resume_from_last_event_id_with_first_message_auth(env: Env, acme: TenantFixture) -> None:
    acme_id = _tenant_id(env, "acme")
    for n in range(3):
        _publish(env, acme_id, {"n": n})
    with env.client.websocket_connect("/ws/notifications") as ws:
        ws.send_json({"type": "auth", "token": _token(acme.viewer)})
        ready = ws.receive_json()
    newest = int(ready["data"]["last_event_id"])
    with env.client.websocket_connect(
        f"/ws/notifications?last_event_id={newest - 2}", headers=acme.viewer
    ) as ws:
        replayed = [ws.receive_json(), ws.receive_json()]
        assert ws.receive_json()["type"] == "ready"
    assert [e["data"]["n"] for e in replayed] == [1, 2]


def test_websocket_channel_delivers_a_notification_once_per_key(
    env: Env, acme: TenantFixture
) -> None:
    import asyncio

    context = env.context
    channel = WebSocketChannel(context.sessions, _tenant_id(env, "acme"), env.clock)
    message = RenderedMessage(subject="Disk full", text="on web-1", idempotency_key="k1")
    with env.client.websocket_connect(
        "/ws/notifications", subprotocols=["bearer", _token(acme.admin)]
    ) as ws:
        assert ws.receive_json()["type"] == "ready"
        assert asyncio.run(channel.send(message)).delivered
        assert asyncio.run(channel.send(message)).delivered
        event = ws.receive_json()
        assert event["type"] == "notification" and event["data"]["subject"] == "Disk full"
    with env.client.websocket_connect(
        "/ws/notifications?last_event_id=0&types=notification", headers=acme.admin
    ) as ws:
        assert ws.receive_json()["data"]["idempotency_key"] == "k1"
        assert ws.receive_json()["type"] == "ready"  # the second send published nothing


def test_bad_credentials_and_options_are_refused_with_a_reason(env: Env) -> None:
    with env.client.websocket_connect(
        "/ws/notifications", subprotocols=["bearer", "nonsense"]
    ) as ws:
        error = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert error["type"] == "error" and closed.value.code == 4401
    with env.client.websocket_connect(
        "/ws/notifications?last_event_id=abc", headers=env.login()
    ) as ws:
        assert "last_event_id" in ws.receive_json()["data"]["message"]
