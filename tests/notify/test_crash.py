"""Crash test: a real `watchkeeper serve` is SIGKILLed while notifications are queued and one
is being delivered; after a restart every notification arrives, none is processed twice by a
receiver that deduplicates on Idempotency-Key."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from tests.receivers import HttpReceiver, Received, Reply
from tests.support import ADMIN_PASSWORD, LOCAL_OUTBOUND_ALLOW, free_port
from tests.test_server_process import Server

COUNT = 20


@dataclass
class IdempotentReceiver:
    """Processes the first request per Idempotency-Key (slowly), acknowledges repeats."""

    port: int = 0
    delay: float = 1.0
    processed: Counter[str] = field(default_factory=Counter)
    repeats: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def respond(self, request: Received) -> Reply:
        key = request.headers.get("idempotency-key", "")
        with self.lock:
            first = key not in self.processed
            if first:
                self.processed[key] += 1
                self.in_flight += 1
            else:
                self.repeats[key] += 1
        if first:
            time.sleep(self.delay)  # the delivery is in flight now
            with self.lock:
                self.in_flight -= 1
        return Reply()


@pytest.fixture
def slow_receiver() -> Iterator[IdempotentReceiver]:
    state = IdempotentReceiver()
    with HttpReceiver(respond=state.respond) as running:
        state.port = running.port
        yield state


@pytest.fixture
def notify_server(tmp_path: Path) -> Iterator[Server]:
    from watchkeeper.bootstrap import initialise
    from watchkeeper.clock import SystemClock

    result = initialise(tmp_path / "data", clock=SystemClock(), admin_password=ADMIN_PASSWORD)
    config = yaml.safe_load(result.config_file.read_text())
    config["observability"] = {"access_log": False, "log_level": "warning"}
    config["enable_anomaly_detection"] = False
    config["metrics"] = {"host_collector_enabled": False}
    config["security"] = {"outbound_allow": LOCAL_OUTBOUND_ALLOW}
    config["notifications"] = {
        "lease_seconds": 3,
        "poll_interval_seconds": 0.2,
        "concurrency": 4,
        "batch_size": 4,
        "dedup_window_seconds": 0,
        "rate_limit_per_recipient": 0,
        "backoff_base_seconds": 0.5,
        "backoff_cap_seconds": 2,
    }
    result.config_file.write_text(yaml.safe_dump(config))
    running = Server(result.config_file, free_port())
    try:
        yield running
    finally:
        if running.process is not None and running.process.poll() is None:
            running.kill(signal.SIGTERM)


@pytest.mark.slow
def test_sigkill_mid_delivery_loses_nothing_and_duplicates_nothing(
    notify_server: Server, slow_receiver: IdempotentReceiver
) -> None:
    server = notify_server
    server.start()
    with httpx.Client(timeout=30) as client:
        headers = server.login(client)
        created = client.post(
            f"{server.url}/api/v1/receivers",
            headers=headers,
            json={
                "name": "hook",
                "integrations": [
                    {
                        "type": "webhook",
                        "config": {"url": f"http://127.0.0.1:{slow_receiver.port}/hook"},
                    }
                ],
            },
        )
        assert created.status_code == 201, created.text
        keys = []
        for _ in range(COUNT):
            queued = client.post(f"{server.url}/api/v1/receivers/hook/test", headers=headers)
            assert queued.status_code == 202, queued.text
            keys.append(queued.json()["idempotency_key"] + ":0")

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with slow_receiver.lock:
            if slow_receiver.in_flight > 0:
                break
        time.sleep(0.01)
    server.kill(signal.SIGKILL)  # one delivery is in flight, most are still queued
    with slow_receiver.lock:
        before = len(slow_receiver.processed)
    assert 0 < before < COUNT

    server.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with slow_receiver.lock:
            if len(slow_receiver.processed) == COUNT:
                break
        time.sleep(0.1)
    slow_receiver.delay = 0
    assert sorted(slow_receiver.processed) == sorted(keys)  # every one arrived
    assert set(slow_receiver.processed.values()) == {1}  # each processed once
    # The delivery cut by the kill was sent again after its lease and acknowledged as a repeat.
    assert sum(slow_receiver.repeats.values()) >= 1
    with httpx.Client(timeout=30) as client:
        headers = server.login(client)
        deadline = time.monotonic() + 30
        statuses: Counter[str] = Counter()
        while time.monotonic() < deadline:
            rows = client.get(
                f"{server.url}/api/v1/notifications?limit=1000", headers=headers
            ).json()
            statuses = Counter(r["status"] for r in rows)
            if statuses == {"sent": COUNT, "expanded": COUNT}:
                break
            time.sleep(0.2)
        assert statuses == {"sent": COUNT, "expanded": COUNT}
