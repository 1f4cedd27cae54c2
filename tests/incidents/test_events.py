"""Incident changes reach `/ws/notifications` clients as `incident` events: one per incident
and transaction, carrying the incident as committed; a refused change publishes nothing."""

from __future__ import annotations

from typing import Any

from starlette.testclient import WebSocketTestSession

from tests.conftest import Env, TenantFixture
from watchkeeper.events import publish


def _connect(env: Env, tenant: TenantFixture) -> Any:
    token = tenant.viewer["Authorization"].removeprefix("Bearer ")
    return env.client.websocket_connect(
        "/ws/notifications?types=incident,anomaly", subprotocols=["bearer", token]
    )


def _next(ws: WebSocketTestSession) -> dict[str, Any]:
    message: dict[str, Any] = ws.receive_json()
    return message


def test_create_and_acknowledge_over_http_reach_a_websocket_client(
    env: Env, acme: TenantFixture
) -> None:
    client, headers = env.client, acme.admin
    with _connect(env, acme) as ws:
        assert _next(ws)["type"] == "ready"
        created = client.post(
            "/incidents", headers=headers, json={"title": "Checkout errors", "severity": "high"}
        )
        assert created.status_code == 201, created.text
        opened = _next(ws)
        env.clock.advance(30)
        acked = client.patch(
            "/incidents/1",
            headers=headers,
            json={"status": "acknowledged", "assignee": acme.viewer_id},
        )
        assert acked.status_code == 200, acked.text
        acknowledged = _next(ws)
    assert opened["type"] == "incident" and opened["data"]["action"] == "opened"
    assert opened["data"]["incident"]["id"] == created.json()["id"]
    # Published at commit time: the snapshot has the model's category, not the blank one
    # the incident had when its "opened" timeline row was written.
    assert opened["data"]["incident"]["category"] == created.json()["category"] != ""
    assert acknowledged["data"]["action"] == "acknowledged"
    assert set(acknowledged["data"]["actions"]) == {
        "assignee_changed",
        "acknowledged",
        "notification_queued",
    }
    snapshot = acknowledged["data"]["incident"]
    assert snapshot["status"] == "acknowledged" and snapshot["assignee"] == acme.viewer_id
    assert int(acknowledged["id"]) > int(opened["id"])


def test_comment_resolve_reopen_merge_each_publish_and_a_refused_change_does_not(
    env: Env, acme: TenantFixture
) -> None:
    client, headers = env.client, acme.admin
    context = env.context
    tenant_id = str(context.tenants.id_of("acme"))
    for title in ("API latency high", "Database slow"):
        assert client.post("/incidents", headers=headers, json={"title": title}).status_code == 201
    with _connect(env, acme) as ws:
        assert _next(ws)["type"] == "ready"
        assert client.post(
            "/incidents/1/comments", headers=headers, json={"text": "looking"}
        ).is_success
        comment = _next(ws)["data"]
        assert client.patch("/incidents/1", headers=headers, json={"status": "resolved"}).is_success
        resolved = _next(ws)["data"]
        refused = client.patch("/incidents/1", headers=headers, json={"status": "acknowledged"})
        assert refused.status_code == 409
        # A sentinel published after the refusal must be the very next event.
        with context.sessions.tenant(tenant_id) as db:
            publish(db, tenant_id, "anomaly", {"sentinel": True}, now=env.clock.now())
        assert _next(ws)["data"] == {"sentinel": True}
        assert client.patch(
            "/incidents/1", headers=headers, json={"status": "triggered"}
        ).is_success
        reopened = _next(ws)["data"]
        merged = client.post("/incidents/1/merge", headers=headers, json={"incidents": ["2"]})
        assert merged.status_code == 200, merged.text
        merge_events = {e["data"]["incident"]["number"]: e["data"] for e in (_next(ws), _next(ws))}
    assert comment["action"] == "comment" and comment["changes"][0]["message"] == "looking"
    assert resolved["action"] == "resolved" and resolved["incident"]["resolved_at"]
    assert reopened["action"] == "reopened" and reopened["incident"]["status"] == "triggered"
    assert merge_events[1]["action"] == "merged"
    assert merge_events[2]["action"] == "resolved"
    assert merge_events[2]["incident"]["merged_into"] == merge_events[1]["incident"]["id"]
