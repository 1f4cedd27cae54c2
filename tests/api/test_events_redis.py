"""Two app instances over one database and a real Redis: an event committed through one
reaches the WebSocket clients of the other (EventBus PUBLISH -> the other's EventRelay)."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from tests.support import ADMIN_PASSWORD, REDIS_URL, missing, port_open
from watchkeeper.clock import ManualClock


def _relays_subscribed(at_least: int) -> None:
    """Waits until the replicas' relays listen; an event PUBLISHed before that is only resumable."""
    import redis

    from watchkeeper.events import REDIS_CHANNEL

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2.0)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            counts = dict(client.pubsub_numsub(REDIS_CHANNEL))
            if int(counts.get(REDIS_CHANNEL.encode(), 0)) >= at_least:
                return
            time.sleep(0.02)
    finally:
        client.close()
    raise AssertionError(f"fewer than {at_least} subscribers on {REDIS_CHANNEL} after 15 s")


def _subscribers() -> int:
    import redis

    from watchkeeper.events import REDIS_CHANNEL

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2.0)
    try:
        return int(dict(client.pubsub_numsub(REDIS_CHANNEL)).get(REDIS_CHANNEL.encode(), 0))
    finally:
        client.close()


def test_an_incident_opened_on_one_replica_reaches_a_websocket_client_of_another(
    tmp_path: Path, clock: ManualClock
) -> None:
    if not port_open("127.0.0.1", 6379):
        missing("Redis is not reachable at 127.0.0.1:6379")
    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise
    from watchkeeper.config import apply_patch

    result = initialise(tmp_path / "d", clock=clock, admin_password=ADMIN_PASSWORD)
    shared = apply_patch(result.settings, {"redis_url": REDIS_URL})
    # One metadata database, one metric store each (an embedded store has a single owner).
    first_app, second_app = (
        create_app(apply_patch(shared, {"storage": {"path": str(tmp_path / name)}}), clock=clock)
        for name in ("metrics-a", "metrics-b")
    )
    before = _subscribers()
    with TestClient(first_app) as first, TestClient(second_app) as second:
        _relays_subscribed(before + 2)
        login = first.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        token = login.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        with (
            second.websocket_connect("/ws/notifications", subprotocols=["bearer", token]) as theirs,
            first.websocket_connect("/ws/notifications", subprotocols=["bearer", token]) as ours,
        ):
            assert theirs.receive_json()["type"] == "ready"
            assert ours.receive_json()["type"] == "ready"
            created = first.post("/incidents", headers=headers, json={"title": "Payments down"})
            assert created.status_code == 201, created.text
            remote = theirs.receive_json()
            local = ours.receive_json()
    assert remote["type"] == "incident" and remote["data"]["action"] == "opened"
    assert remote["data"]["incident"]["id"] == created.json()["id"]
    # With Redis the publishing replica does not fan out locally: its own clients hear the
    # event back through its relay, the same message as every other replica's clients.
    assert local == remote
