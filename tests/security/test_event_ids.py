"""WebSocket event ids count per tenant: they reveal nothing of other tenants' activity."""

from __future__ import annotations

from typing import Any

from tests.conftest import Env, TenantFixture
from watchkeeper.notify.events import publish


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
