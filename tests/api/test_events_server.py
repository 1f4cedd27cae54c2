"""/ws/notifications over a real uvicorn server and the `websockets` client library: an event
caused by an HTTP call arrives live, and one missed while disconnected is replayed on resume."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.sync.client import ClientConnection, connect

from tests.support import ADMIN_PASSWORD, free_port
from watchkeeper.clock import ManualClock


@pytest.fixture
def server(tmp_path: Path, clock: ManualClock) -> Iterator[str]:
    """The app served by uvicorn on a free port in a thread; yields its base URL."""
    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise

    result = initialise(tmp_path / "d", clock=clock, admin_password=ADMIN_PASSWORD)
    app = create_app(result.settings, clock=clock, config_file=result.config_file)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio"
    )
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not served.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        served.should_exit = True
        thread.join(30)


def _receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=10))
    return message


def test_live_event_then_resume_after_a_disconnect(server: str) -> None:
    with httpx.Client(base_url=f"http://{server}", timeout=10) as http:
        login = http.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        token = login.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        url = f"ws://{server}/ws/notifications?types=incident"
        bearer = ["bearer", token]

        with connect(url, subprotocols=bearer) as ws:
            assert _receive(ws)["type"] == "ready"
            created = http.post("/incidents", headers=headers, json={"title": "Queue backlog"})
            assert created.status_code == 201, created.text
            live = _receive(ws)
        assert live["type"] == "incident" and live["data"]["action"] == "opened"

        missed = http.post(
            "/incidents/1/comments", headers=headers, json={"text": "scaling consumers"}
        )
        assert missed.status_code == 201, missed.text

        with connect(f"{url}&last_event_id={live['id']}", subprotocols=bearer) as ws:
            replayed = _receive(ws)
            ready = _receive(ws)
    assert replayed["data"]["action"] == "comment"
    assert replayed["data"]["changes"][0]["message"] == "scaling consumers"
    assert int(replayed["id"]) > int(live["id"])
    assert ready["type"] == "ready" and ready["data"] == {
        "last_event_id": replayed["id"],
        "gap": False,
    }
