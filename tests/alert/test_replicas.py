"""Two real server processes on one PostgreSQL database and one VictoriaMetrics: a rule is
evaluated by one of them, its alert notified once, and when that replica is killed with
SIGKILL the other takes the work over and notifies the resolution, once."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select

from tests.support import ADMIN_PASSWORD, free_port, missing
from tests.test_server_process import Server
from watchkeeper.config import Settings, load_settings
from watchkeeper.db.tables import AlertEvent, WorkerLease
from watchkeeper.store.remote.victoria import DEFAULT_BINARY, LocalVictoriaMetrics

pytestmark = pytest.mark.services

TTL = 3.0


@pytest.fixture
def victoria() -> Iterator[LocalVictoriaMetrics]:
    if not os.path.exists(DEFAULT_BINARY):
        missing(f"{DEFAULT_BINARY} is not installed")
    with LocalVictoriaMetrics() as vm:
        yield vm


@pytest.fixture
def replicas(
    tmp_path: Path, database_url: str, victoria: LocalVictoriaMetrics
) -> Iterator[tuple[dict[str, Server], Settings]]:
    from watchkeeper.bootstrap import initialise
    from watchkeeper.clock import SystemClock

    result = initialise(
        tmp_path / "a",
        clock=SystemClock(),
        admin_password=ADMIN_PASSWORD,
        database_url=database_url,
    )
    rules = tmp_path / "rules.yml"
    rules.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "ha",
                        "interval": "1s",
                        "rules": [{"alert": "HaDown", "expr": "ha_metric > 0", "for": "0s"}],
                    }
                ]
            }
        )
    )
    config = yaml.safe_load(result.config_file.read_text())
    config["metrics"] = {"host_collector_enabled": False}
    config["observability"] = {"access_log": False, "log_level": "warning"}
    config["rule_files"] = [str(rules)]
    config["storage"] = {"backend": "remote", "remote_url": victoria.url}
    config.setdefault("server", {})["lease_ttl_seconds"] = TTL
    servers = {}
    for name in ("a", "b"):
        # Same database, secrets and TSDB; its own data folder, hence its own identity.
        (tmp_path / name).mkdir(exist_ok=True)
        path = tmp_path / name / "replica.yaml"
        path.write_text(yaml.safe_dump({**config, "data_dir": str(tmp_path / name)}))
        servers[name] = Server(path, free_port())
    for server in servers.values():
        server.start()
    try:
        yield servers, load_settings(servers["a"].config)
    finally:
        for server in servers.values():
            if server.process is not None and server.process.poll() is None:
                server.kill(signal.SIGTERM)


def _read(settings: Settings) -> tuple[list[str], dict[str, str]]:
    """Alert events (kinds, in order) and the current lease holders, from the database."""
    from watchkeeper.db.engine import build_engine
    from watchkeeper.tenancy.scope import SessionFactory

    engine = build_engine(settings)
    try:
        with SessionFactory(engine).system("test: read") as db:
            kinds = [n.kind for n in db.scalars(select(AlertEvent).order_by(AlertEvent.id))]
            holders = {lease.name: lease.holder for lease in db.scalars(select(WorkerLease))}
            return kinds, holders
    finally:
        engine.dispose()


def _push(server: Server, auth: dict[str, str], value: float) -> None:
    response = httpx.post(
        f"{server.url}/api/v1/ingest",
        headers=auth,
        json=[{"metric": "ha_metric", "labels": {}, "samples": [[time.time(), value]]}],
        timeout=30,
    )
    assert response.status_code == 200, response.text


def _wait(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.2)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_one_replica_evaluates_and_the_other_takes_over_after_kill_9(
    replicas: tuple[dict[str, Server], Settings],
) -> None:
    servers, settings = replicas
    with httpx.Client(timeout=30) as client:
        created = client.post(
            f"{servers['a'].url}/api/v1/apikeys",
            headers=servers["a"].login(client),
            json={"name": "ha", "scopes": ["ingest", "read"]},
        )
        assert created.status_code == 201, created.text
    auth = {"Authorization": f"Bearer {created.json()['key']}"}

    _push(servers["b"], auth, 1.0)
    _wait(lambda: _read(settings)[0], 30)
    kinds, holders = _read(settings)
    assert kinds == ["firing"]
    folders = {name: str(Path(s.config).parent.resolve()) for name, s in servers.items()}

    def replica(identity: str) -> str:  # "<host>:<data folder>:<slot>" -> "a" | "b"
        return next(name for name, path in folders.items() if f":{path}:" in identity)

    holder = replica(holders["rules"])
    other = "b" if holder == "a" else "a"
    # Each run-once worker has exactly one holder, one of the two replicas.
    assert {"rules", "dispatcher", "incidents"} <= set(holders)
    assert {replica(h) for h in holders.values()} <= {"a", "b"}
    time.sleep(2 * TTL)  # more evaluations, renewals: still one notification
    assert _read(settings)[0] == ["firing"]

    servers[holder].kill(signal.SIGKILL)
    _push(servers[other], auth, 0.0)
    # The lease expires (TTL), the standby takes it at its next attempt (TTL / 3), evaluates.
    _wait(lambda: len(_read(settings)[0]) >= 2, 6 * TTL + 10)
    time.sleep(2)
    kinds, holders = _read(settings)
    assert kinds == ["firing", "resolved"]
    assert replica(holders["rules"]) == other
