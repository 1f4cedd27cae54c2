"""WebSocket event ids count per tenant: they reveal nothing of other tenants' activity."""

from __future__ import annotations

from typing import Any

from tests.conftest import Env, TenantFixture
from watchkeeper.events import publish


def _publish(env: Env, tenant_name: str, data: dict[str, Any]) -> None:
    context = env.context
    tenant = str(context.tenants.id_of(tenant_name))
    with context.sessions.tenant(tenant) as db:
        publish(db, tenant, "anomaly", data, now=env.clock.now())


def _replay(env: Env, headers: dict[str, str], after: int) -> tuple[list[dict[str, Any]], str]:
    events = []
    with env.client.websocket_connect(
        f"/ws/notifications?last_event_id={after}", headers=headers
    ) as ws:
        while (message := ws.receive_json())["type"] != "ready":
            events.append(message)
    return events, message["data"]["last_event_id"]


def test_other_tenants_events_do_not_advance_a_tenants_ids(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    _publish(env, "acme", {"n": 1})
    for n in range(5):
        _publish(env, "globex", {"n": n})
    _publish(env, "acme", {"n": 2})

    events, newest = _replay(env, acme.viewer, 0)

    assert [(e["id"], e["data"]["n"]) for e in events] == [("1", 1), ("2", 2)]
    assert newest == "2"


def test_resume_after_a_per_tenant_id_misses_nothing(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    _publish(env, "acme", {"n": 1})
    _, seen = _replay(env, acme.viewer, 0)
    _publish(env, "globex", {"n": 99})
    _publish(env, "acme", {"n": 2})
    _publish(env, "acme", {"n": 3})

    events, newest = _replay(env, acme.viewer, int(seen))

    assert [e["data"]["n"] for e in events] == [2, 3]
    assert newest == "3"
    theirs, _ = _replay(env, globex.viewer, 0)
    assert [(e["id"], e["data"]["n"]) for e in theirs] == [("1", 99)]


def test_ids_seen_before_the_upgrade_stay_valid(database_url: str) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import create_engine, text

    from watchkeeper.db import migrate
    from watchkeeper.events import events_after
    from watchkeeper.tenancy.scope import SessionFactory

    engine = create_engine(database_url)
    try:
        migrate.upgrade(engine, "0009")
        now = datetime.now(UTC)
        with engine.begin() as conn:
            for tenant in ("t1", "t2"):
                conn.execute(
                    text(
                        "INSERT INTO tenants (id, name, display_name, disabled, created_at) "
                        "VALUES (:id, :id, :id, false, :now)"
                    ),
                    {"id": tenant, "now": now},
                )
            for tenant in ("t1", "t2", "t1"):  # global ids 1, 2, 3
                conn.execute(
                    text(
                        "INSERT INTO event_log (tenant_id, type, key, data, at) "
                        "VALUES (:t, 'anomaly', '', '{}', :now)"
                    ),
                    {"t": tenant, "now": now},
                )
        migrate.upgrade(engine)
        sessions = SessionFactory(engine)
        with sessions.tenant("t1") as db:
            publish(db, "t1", "anomaly", {"n": "new"}, now=now)
        with sessions.tenant("t1") as db:
            after_first = [e.id for e in events_after(db, 1)]
    finally:
        engine.dispose()
    assert after_first == [3, 4]
