"""Every state-changing request leaves a signed, chained audit record."""

from __future__ import annotations

from sqlalchemy import update

from tests.conftest import Env


def test_state_changes_and_failures_are_recorded_with_request_id(env: Env) -> None:
    headers = {**env.login(), "X-Request-ID": "req-123"}
    env.client.post(
        "/api/v1/apikeys", headers=headers, json={"name": "grafana", "scopes": ["read"]}
    )
    env.client.post("/api/v1/apikeys", headers=headers, json={"name": "bad", "scopes": ["nope"]})
    records = env.client.get("/api/v1/audit", headers=headers).json()
    created, rejected = records[1], records[0]
    assert created["action"] == "POST /api/v1/apikeys" and created["outcome"] == "success"
    assert created["request_id"] == "req-123" and created["actor_name"] == "admin"
    assert rejected["status_code"] == 422 and rejected["outcome"] == "failure"
    assert any(r["action"] == "POST /auth/login" for r in records)


def test_reads_are_not_audited(env: Env) -> None:
    headers = env.login()
    before = len(env.client.get("/api/v1/audit", headers=headers).json())
    env.client.get("/system/status", headers=headers)
    env.client.get("/api/v1/users", headers=headers)
    assert len(env.client.get("/api/v1/audit", headers=headers).json()) == before


def test_tampering_breaks_the_chain(env: Env) -> None:
    from watchkeeper.db.tables import AuditRecord

    headers = env.login()
    env.client.post("/api/v1/apikeys", headers=headers, json={"name": "one", "scopes": ["read"]})
    env.client.post("/api/v1/apikeys", headers=headers, json={"name": "two", "scopes": ["read"]})
    context = env.context
    intact, count, bad = context.audit.verify_chain()
    assert intact and count >= 3 and bad is None
    with context.sessions.system("test tamper") as db:
        db.execute(
            update(AuditRecord)
            .where(AuditRecord.id == 2)
            .values(status_code=200, outcome="success")
        )
    intact, _, bad = context.audit.verify_chain()
    assert not intact and bad == 2


def test_response_carries_the_request_id(env: Env) -> None:
    assert (
        env.client.get("/health/live", headers={"X-Request-ID": "abc-1"}).headers["x-request-id"]
        == "abc-1"
    )
    generated = env.client.get("/health/live").headers["x-request-id"]
    assert len(generated) == 32
    # A hostile id (log injection) is replaced, not echoed.
    assert (
        env.client.get("/health/live", headers={"X-Request-ID": "a\tb"}).headers["x-request-id"]
        != "a\tb"
    )
