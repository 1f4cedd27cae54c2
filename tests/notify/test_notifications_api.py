"""Receivers, the dead letter and quiet hours over HTTP: RBAC, redaction, 4xx with reasons."""

from __future__ import annotations

import anyio
from sqlalchemy import select

from tests.conftest import Env, TenantFixture
from tests.receivers import HttpReceiver, Reply
from watchkeeper.db.tables import NotificationOutbox, NotificationReceiver
from watchkeeper.notify.delivery import DeliveryWorker
from watchkeeper.notify.receivers import ReceiverStore


def _worker(env: Env) -> DeliveryWorker:
    """A worker of its own on the app's database (the app's runs on the app's event loop)."""
    context = env.context
    return DeliveryWorker(
        sessions=context.sessions,
        clock=env.clock,
        settings=context.settings.notifications,
        receivers=ReceiverStore.from_settings(context.settings),
    )


def _drain(env: Env, times: int = 2) -> None:
    async def go() -> None:
        worker = _worker(env)
        for _ in range(times):
            await worker.drain_once()
        await worker.aclose()

    anyio.run(go)


def test_receiver_crud_redacts_secrets_and_checks_permissions(
    env: Env, acme: TenantFixture, receiver: HttpReceiver
) -> None:
    body = {
        "name": "ops",
        "integrations": [
            {"type": "webhook", "config": {"url": receiver.url(), "secret": "topsecret"}},
            {"type": "slack", "config": {"webhook_url": receiver.url("/slack")}},
        ],
    }
    assert env.client.post("/api/v1/receivers", headers=acme.viewer, json=body).status_code == 403
    created = env.client.post("/api/v1/receivers", headers=acme.admin, json=body)
    assert created.status_code == 201, created.text
    assert "topsecret" not in created.text and receiver.url("/slack") not in created.text
    listed = env.client.get("/api/v1/receivers", headers=acme.viewer).json()
    assert [r["name"] for r in listed] == ["default", "ops"] and listed[0]["implicit"]
    # PUT with the redaction mark keeps the stored secret.
    shown = env.client.get("/api/v1/receivers/ops", headers=acme.viewer).json()
    shown["integrations"][0]["config"]["max_alerts"] = 5
    put = env.client.put(
        "/api/v1/receivers/ops", headers=acme.admin, json={"integrations": shown["integrations"]}
    )
    assert put.status_code == 200, put.text
    context = env.context
    with context.sessions.system("test") as db:
        row = db.scalar(select(NotificationReceiver).where(NotificationReceiver.name == "ops"))
        assert row is not None and "topsecret" not in str(row.integrations)
        store = ReceiverStore.from_settings(context.settings)
        assert store._from_row(db, row).integrations[0].config["secret"] == "topsecret"
    conflict = env.client.post("/api/v1/receivers", headers=acme.admin, json=body)
    assert conflict.status_code == 409
    assert env.client.delete("/api/v1/receivers/ops", headers=acme.admin).status_code == 204
    assert env.client.get("/api/v1/receivers/ops", headers=acme.admin).status_code == 404


def test_bad_receiver_configs_name_the_problem(env: Env, acme: TenantFixture) -> None:
    bad = env.client.post(
        "/api/v1/receivers",
        headers=acme.admin,
        json={"name": "x", "integrations": [{"type": "webhook", "config": {"url": "ftp://x"}}]},
    )
    assert bad.status_code == 422 and "integrations[0] (webhook): url" in bad.text
    unknown = env.client.post(
        "/api/v1/receivers",
        headers=acme.admin,
        json={"name": "x", "integrations": [{"type": "pager", "config": {}}]},
    )
    assert unknown.status_code == 422
    name = env.client.post(
        "/api/v1/receivers",
        headers=acme.admin,
        json={"name": "a b", "integrations": [{"type": "slack", "config": {}}]},
    )
    assert name.status_code == 422 and "receiver name" in name.text


def test_test_send_dead_letter_and_retry(
    env: Env, acme: TenantFixture, receiver: HttpReceiver
) -> None:
    receiver.default = Reply(400, b"bad")
    env.client.post(
        "/api/v1/receivers",
        headers=acme.admin,
        json={
            "name": "hook",
            "integrations": [{"type": "webhook", "config": {"url": receiver.url()}}],
        },
    )
    queued = env.client.post("/api/v1/receivers/hook/test", headers=acme.admin)
    assert queued.status_code == 202, queued.text
    assert env.client.post("/api/v1/receivers/nope/test", headers=acme.admin).status_code == 404
    _drain(env)
    dead = env.client.get("/api/v1/notifications?status=dead", headers=acme.viewer).json()
    assert len(dead) == 1 and "400" in dead[0]["last_error"]
    one = env.client.get(f"/api/v1/notifications/{dead[0]['id']}", headers=acme.viewer).json()
    assert one["payload"]["alert"]["name"] == "WatchkeeperTestNotification"
    path = f"/api/v1/notifications/{dead[0]['id']}/retry"
    assert env.client.post(path, headers=acme.viewer).status_code == 403
    receiver.default = Reply(200)
    retried = env.client.post(path, headers=acme.admin)
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    assert env.client.post(path, headers=acme.admin).status_code == 409  # not dead any more
    _drain(env, 1)
    sent = env.client.get("/api/v1/notifications?status=sent", headers=acme.viewer).json()
    assert [n["id"] for n in sent] == [dead[0]["id"]]
    assert len(receiver.requests) == 2
    assert env.client.get("/api/v1/notifications/999999", headers=acme.admin).status_code == 404
    page = env.client.get("/api/v1/notifications?limit=1", headers=acme.viewer).json()
    rest = env.client.get(
        f"/api/v1/notifications?before_id={page[0]['id']}", headers=acme.viewer
    ).json()
    assert len(page) == 1 and len(rest) == 1 and rest[0]["status"] == "expanded"
    assert (
        env.client.get("/api/v1/notifications?status=nope", headers=acme.viewer).status_code == 422
    )


def test_notifications_are_tenant_scoped(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    env.client.post(
        "/api/v1/receivers",
        headers=acme.admin,
        json={
            "name": "a",
            "integrations": [{"type": "slack", "config": {"webhook_url": "http://x/y"}}],
        },
    )
    env.client.post("/api/v1/receivers/a/test", headers=acme.admin)
    assert env.client.get("/api/v1/notifications", headers=globex.admin).json() == []
    assert env.client.get("/api/v1/receivers/a", headers=globex.admin).status_code == 404
    context = env.context
    with context.sessions.system("test") as db:
        assert len(list(db.scalars(select(NotificationOutbox)))) == 1


def test_quiet_hours_api_validates(env: Env, acme: TenantFixture) -> None:
    ok = env.client.put(
        "/api/v1/quiet-hours/oncall@example.com",
        headers=acme.admin,
        json={"timezone": "Europe/Berlin", "start": "22:00", "end": "07:00"},
    )
    assert ok.status_code == 200, ok.text
    zone = env.client.put(
        "/api/v1/quiet-hours/x@example.com",
        headers=acme.admin,
        json={"timezone": "Mars/Base", "start": "22:00", "end": "07:00"},
    )
    assert zone.status_code == 422 and "Mars/Base" in zone.text
    hour = env.client.put(
        "/api/v1/quiet-hours/x@example.com",
        headers=acme.admin,
        json={"timezone": "UTC", "start": "25:00", "end": "07:00"},
    )
    assert hour.status_code == 422 and "start" in hour.text
    listed = env.client.get("/api/v1/quiet-hours", headers=acme.viewer).json()
    assert [q["recipient"] for q in listed] == ["oncall@example.com"]
    gone = env.client.delete("/api/v1/quiet-hours/oncall@example.com", headers=acme.admin)
    assert gone.status_code == 204
