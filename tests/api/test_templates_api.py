"""Templates over the API: built-ins visible and read-only, errors at save time, previews."""

from __future__ import annotations

from tests.conftest import Env, TenantFixture
from watchkeeper.notify.base import NotificationChannel
from watchkeeper.notify.template_store import load_template

BODY = {
    "id": "disk",
    "name": "Disk",
    "subject_template": "{{ alert.name }} on {{ alert.labels.instance }}",
    "body_template": "{{ alert.summary }}",
    "channels": ["slack", "email"],
    "priority": "high",
}


def test_crud_preview_and_lookup_by_delivery(env: Env, acme: TenantFixture) -> None:
    listed = env.client.get("/api/v1/templates", headers=acme.viewer).json()
    assert {t["id"] for t in listed if t["builtin"]} >= {"default-email", "default-websocket"}
    created = env.client.post("/api/v1/templates", headers=acme.admin, json=BODY)
    assert created.status_code == 201, created.text
    shown = env.client.post("/api/v1/templates/disk/preview", headers=acme.viewer, json={})
    assert shown.json()["subject"] == "HighCPUUsage on web-1:9100"
    context = env.context
    with context.sessions.tenant(context.tenants.id_of("acme")) as db:
        assert load_template(db, "disk", NotificationChannel.SLACK).id == "disk"
        assert load_template(db, "disk", NotificationChannel.SMS).id == "default-sms"
        assert load_template(db, "gone", NotificationChannel.EMAIL).id == "default-email"
    assert env.client.delete("/api/v1/templates/disk", headers=acme.viewer).status_code == 403
    assert env.client.delete("/api/v1/templates/disk", headers=acme.admin).status_code == 204


def test_errors_are_caught_at_save_time_with_the_line(env: Env, acme: TenantFixture) -> None:
    broken = {**BODY, "body_template": "line one\n{% if alert %}\n{{ alert.name }"}
    response = env.client.post("/api/v1/templates", headers=acme.admin, json=broken)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["part"] == "body_template"
    undefined = {**BODY, "body_template": "ok\n{{ incidnet.title }}"}
    response = env.client.post("/api/v1/templates", headers=acme.admin, json=undefined)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["line"] == 2
    assert "incidnet" in response.json()["error"]["message"]
    declared = {**undefined, "variables": ["incidnet"]}
    assert (
        env.client.post("/api/v1/templates", headers=acme.admin, json=declared).status_code == 201
    )


def test_builtins_are_read_only_and_unsaved_bodies_preview(env: Env, acme: TenantFixture) -> None:
    put = env.client.put(
        "/api/v1/templates/default-slack",
        headers=acme.admin,
        json={k: v for k, v in BODY.items() if k != "id"},
    )
    assert put.status_code in (409, 422)
    clash = env.client.post(
        "/api/v1/templates", headers=acme.admin, json={**BODY, "id": "default-sms"}
    )
    assert clash.status_code == 409
    unsaved = env.client.post(
        "/api/v1/templates/preview",
        headers=acme.viewer,
        json={
            "subject_template": "{{ status|upper }}",
            "body_template": "{% for a in alerts %}{{ a.name }} {% endfor %}",
            "sample": {"status": "resolved"},
        },
    )
    assert unsaved.status_code == 200, unsaved.text
    assert unsaved.json()["subject"] == "RESOLVED" and unsaved.json()["text"] == "HighCPUUsage"
