"""Firing alerts survive `kill -9` of a real server process: still firing with their original
startsAt, no second notification for them after the restart, and one for their resolution."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from tests.support import ADMIN_PASSWORD, free_port
from tests.test_server_process import Server
from watchkeeper.config import Settings
from watchkeeper.db.tables import AlertEvent, NotificationOutbox

pytestmark = pytest.mark.services


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, Settings]]:
    from watchkeeper.bootstrap import initialise
    from watchkeeper.clock import SystemClock

    result = initialise(tmp_path / "data", clock=SystemClock(), admin_password=ADMIN_PASSWORD)
    rules = tmp_path / "rules.yml"
    rules.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "crash",
                        "interval": "1s",
                        "rules": [{"alert": "Crashy", "expr": "crash_metric > 0", "for": "0s"}],
                    }
                ]
            }
        )
    )
    config = yaml.safe_load(result.config_file.read_text())
    config["metrics"] = {"host_collector_enabled": False}
    config["observability"] = {"access_log": False, "log_level": "warning"}
    config["rule_files"] = [str(rules)]
    result.config_file.write_text(yaml.safe_dump(config))
    running = Server(result.config_file, free_port())
    running.start()
    try:
        yield running, result.settings
    finally:
        if running.process is not None and running.process.poll() is None:
            running.kill(signal.SIGTERM)


def _firing(server: Server, auth: dict[str, str]) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/api/v1/alerts", headers=auth, timeout=10)
    assert response.status_code == 200, response.text
    return [a for a in response.json()["data"]["alerts"] if a["state"] == "firing"]


def _events(settings: Settings) -> tuple[list[tuple[str, str]], list[NotificationOutbox]]:
    """(fingerprint, kind) of every alert event, and the outbox, read from the database."""
    from watchkeeper.db.engine import build_engine
    from watchkeeper.tenancy.scope import SessionFactory

    engine = build_engine(settings)
    try:
        with SessionFactory(engine).system("test: read events") as db:
            events = [
                (n.fingerprint, n.kind)
                for n in db.scalars(select(AlertEvent).order_by(AlertEvent.id))
            ]
            outbox = list(db.scalars(select(NotificationOutbox)))
            db.expunge_all()
            return events, outbox
    finally:
        engine.dispose()


def test_firing_alert_survives_kill_9_without_a_second_notification(
    server: tuple[Server, Settings],
) -> None:
    running, settings = server
    with httpx.Client(timeout=30) as client:
        key = client.post(
            f"{running.url}/api/v1/apikeys",
            headers=running.login(client),
            json={"name": "crash", "scopes": ["ingest", "read"]},
        ).json()["key"]
        auth = {"Authorization": f"Bearer {key}"}
        for _ in range(50):  # the key's row may commit just after its 201 (yield dependency)
            pushed = client.post(
                f"{running.url}/api/v1/ingest",
                headers=auth,
                json=[{"metric": "crash_metric", "labels": {}, "samples": [[time.time(), 1.0]]}],
            )
            if pushed.status_code != 401:
                break
            time.sleep(0.1)
        assert pushed.status_code == 200, pushed.text

    deadline = time.monotonic() + 20
    before: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not (before and _events(settings)[0]):
        time.sleep(0.2)
        before = _firing(running, auth)
    assert before, "the alert did not fire within 20 s"
    (alert,) = before
    assert _events(settings)[0] == [(alert["fingerprint"], "firing")]

    running.kill(signal.SIGKILL)
    running.start()
    time.sleep(3)  # several 1 s evaluations of the restarted server: wall time, not a timeout

    (after,) = _firing(running, auth)
    assert after["fingerprint"] == alert["fingerprint"]
    assert after["startsAt"] == alert["startsAt"]
    assert after["activeAt"] == alert["activeAt"]
    events, outbox = _events(settings)
    assert events == [(alert["fingerprint"], "firing")]
    # If the dispatcher is running, it made at most one outbox entry per receiver for it.
    keys = [
        (row.receiver, row.channel)
        for row in outbox
        if alert["fingerprint"] in str(row.payload.get("changes", {}).get("new", []))
    ]
    assert len(keys) == len(set(keys))

    # ... and its resolution, after the restart, is notified once.
    with httpx.Client(timeout=30) as client:
        client.post(
            f"{running.url}/api/v1/ingest",
            headers=auth,
            json=[{"metric": "crash_metric", "labels": {}, "samples": [[time.time(), 0.0]]}],
        ).raise_for_status()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(_events(settings)[0]) < 2:
        time.sleep(0.2)
    time.sleep(2)
    assert _events(settings)[0] == [
        (alert["fingerprint"], "firing"),
        (alert["fingerprint"], "resolved"),
    ]
