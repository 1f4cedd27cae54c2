"""SIGTERM drains a real `watchkeeper serve` process (uvicorn and granian): not ready at once,
still serving during `server.drain_seconds`, leases released at exit, exit within the bound."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select

from tests.receivers import HttpReceiver, Reply
from tests.support import ADMIN_PASSWORD, LOCAL_OUTBOUND_ALLOW, free_port
from tests.test_server_process import Server
from watchkeeper.config import load_settings
from watchkeeper.db.tables import WorkerLease

DRAIN = 2.0
BOUND = 15.0


@pytest.fixture(params=["uvicorn", "granian"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    from watchkeeper.bootstrap import initialise
    from watchkeeper.clock import SystemClock

    result = initialise(tmp_path / "data", clock=SystemClock(), admin_password=ADMIN_PASSWORD)
    config = yaml.safe_load(result.config_file.read_text())
    config["metrics"] = {"host_collector_enabled": False}
    config["observability"] = {"access_log": False, "log_level": "warning"}
    config.setdefault("server", {}).update(
        {
            "server": request.param,
            "drain_seconds": DRAIN,
            "shutdown_timeout_seconds": BOUND,
            "lease_ttl_seconds": 60,
        }
    )
    result.config_file.write_text(yaml.safe_dump(config))
    running = Server(result.config_file, free_port())
    running.start()
    try:
        yield running
    finally:
        if running.process is not None and running.process.poll() is None:
            running.kill(signal.SIGKILL)


def _leases(config: Path) -> dict[str, datetime]:
    from watchkeeper.db.engine import build_engine
    from watchkeeper.tenancy.scope import SessionFactory

    engine = build_engine(load_settings(config))
    try:
        with SessionFactory(engine).system("test: leases") as db:
            return {row.name: row.expires_at for row in db.scalars(select(WorkerLease))}
    finally:
        engine.dispose()


def _ready(client: httpx.Client, server: Server, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if client.get(f"{server.url}/health/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("never ready")


@pytest.mark.slow
def test_sigterm_drains_then_releases_leases_and_exits_in_bound(server: Server) -> None:
    assert server.process is not None
    with httpx.Client(timeout=10) as client:
        _ready(client, server, time.monotonic() + 60)
        deadline = time.monotonic() + 30
        while "rules" not in _leases(server.config) and time.monotonic() < deadline:
            time.sleep(0.2)
        held = _leases(server.config)
        assert "rules" in held and held["rules"] > datetime.now(UTC)  # held for 60 s

        os.kill(server.process.pid, signal.SIGTERM)  # the main process only, as Kubernetes
        signalled = time.monotonic()
        # (seconds since the signal, readiness code) in order: the flag is set by a signal
        # handler (with granian, in each worker after the main process forwards SIGUSR1), so a
        # probe sent in the first instant may still find the replica ready.
        ready_codes: list[tuple[float, int]] = []
        live_codes, served = set(), 0
        while time.monotonic() - signalled < DRAIN * 0.7:
            ready = client.get(f"{server.url}/health/ready")
            ready_codes.append((time.monotonic() - signalled, ready.status_code))
            live_codes.add(client.get(f"{server.url}/health/live").status_code)
            login = client.post(
                f"{server.url}/auth/login",
                json={"username": "admin", "password": ADMIN_PASSWORD},
            )
            assert login.status_code == 200, login.text  # new requests still served
            served += 1
            time.sleep(0.1)
        first_503 = next((i for i, (_, code) in enumerate(ready_codes) if code == 503), None)
        assert first_503 is not None, ready_codes
        assert ready_codes[first_503][0] < 1.0, ready_codes  # unready within a second
        assert {code for _, code in ready_codes[first_503:]} == {503}, ready_codes  # and stays so
        assert ready.json()["status"] == "draining"
        assert live_codes == {200}
        assert served >= 3

    server.process.wait(BOUND + 5)
    took = time.monotonic() - signalled
    assert DRAIN <= took < BOUND
    released = _leases(server.config)
    now = datetime.now(UTC)
    # Released (expired at shutdown), not left to run out their 60 s.
    assert released and all(expires <= now for expires in released.values()), released


def test_drain_defaults_by_profile_and_must_fit_in_the_shutdown_bound() -> None:
    from watchkeeper.config import ConfigError, Settings

    assert Settings(profile="dev").drain_seconds == 0.0
    assert (
        Settings.model_construct(profile="production", server=Settings().server).drain_seconds
        == 5.0
    )
    assert Settings(server={"drain_seconds": 2}).drain_seconds == 2.0
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides={"server": {"drain_seconds": 30, "shutdown_timeout_seconds": 10}})
    assert "shorter than server.shutdown_timeout_seconds" in str(caught.value)


def test_the_watchdog_ends_a_shutdown_that_hangs() -> None:
    """Whatever hangs after SIGTERM (a worker ignoring cancellation), the process exits."""
    import subprocess
    import sys

    from watchkeeper.runtime.drain import WATCHDOG_EXIT_CODE

    hung = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from watchkeeper.runtime.drain import start_watchdog;"
            "start_watchdog(0.5); time.sleep(60)",
        ]
    )
    assert hung.wait(30) == WATCHDOG_EXIT_CODE


@pytest.fixture
def slow_hook() -> Iterator[HttpReceiver]:
    """A webhook that takes 3 s to answer (its own slowness: the delivery is in flight)."""
    with HttpReceiver(default=Reply(200, b"", delay=3)) as running:
        yield running


@pytest.mark.slow
def test_sigterm_lets_the_delivery_in_flight_settle(
    tmp_path: Path, slow_hook: HttpReceiver
) -> None:
    from watchkeeper.bootstrap import initialise
    from watchkeeper.clock import SystemClock
    from watchkeeper.db.engine import build_engine
    from watchkeeper.db.tables import NotificationOutbox
    from watchkeeper.tenancy.scope import SessionFactory

    url, arrivals = slow_hook.url(), slow_hook.requests
    result = initialise(tmp_path / "data", clock=SystemClock(), admin_password=ADMIN_PASSWORD)
    config = yaml.safe_load(result.config_file.read_text())
    config["metrics"] = {"host_collector_enabled": False}
    config["observability"] = {"access_log": False, "log_level": "warning"}
    config.setdefault("security", {})["outbound_allow"] = LOCAL_OUTBOUND_ALLOW
    config["notifications"] = {"poll_interval_seconds": 0.2, "lease_seconds": 60}
    config.setdefault("server", {}).update({"drain_seconds": 0.2, "shutdown_timeout_seconds": 20})
    result.config_file.write_text(yaml.safe_dump(config))
    server = Server(result.config_file, free_port())
    server.start()
    try:
        with httpx.Client(timeout=30) as client:
            _ready(client, server, time.monotonic() + 60)
            headers = server.login(client)
            hook = {"type": "webhook", "config": {"url": url}}
            created = client.post(
                f"{server.url}/api/v1/receivers",
                headers=headers,
                json={"name": "hook", "integrations": [hook]},
            )
            assert created.status_code == 201, created.text
            queued = client.post(f"{server.url}/api/v1/receivers/hook/test", headers=headers)
            assert queued.status_code == 202, queued.text
        deadline = time.monotonic() + 30
        while not arrivals and time.monotonic() < deadline:
            time.sleep(0.05)
        assert arrivals, "the webhook was not called"
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGTERM)  # mid-delivery
        server.process.wait(BOUND)
        assert time.monotonic() >= arrivals[0].arrived + 3  # it waited for the receiver's answer
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill(signal.SIGKILL)
    engine = build_engine(load_settings(server.config))
    try:
        with SessionFactory(engine).system("test: outbox") as db:
            rows = list(db.scalars(select(NotificationOutbox)))
            statuses = sorted(row.status for row in rows if row.channel == "webhook")
    finally:
        engine.dispose()
    # Recorded as sent before the exit: not left "sending" for a second attempt after restart.
    assert statuses == ["sent"]
    assert len(arrivals) == 1
