"""A real `watchkeeper serve` process: the quick start path, host metrics flowing, and
acknowledged samples surviving `kill -9`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support import ADMIN_PASSWORD, free_port, wait_for_port

BIN = Path(sys.executable).parent / "watchkeeper"


@dataclass
class Server:
    config: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(BIN), "serve", "--config", str(self.config), "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port, timeout=90)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, sig)
        self.process.wait(30)

    def login(self, client: httpx.Client) -> dict[str, str]:
        response = client.post(
            f"{self.url}/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    from watchkeeper.bootstrap import initialise
    from watchkeeper.clock import SystemClock

    result = initialise(tmp_path / "data", clock=SystemClock(), admin_password=ADMIN_PASSWORD)
    config = yaml.safe_load(result.config_file.read_text())
    config["metrics"] = {"collection_interval": 1}
    config["observability"] = {"access_log": False, "log_level": "warning"}
    result.config_file.write_text(yaml.safe_dump(config))
    running = Server(result.config_file, free_port())
    running.start()
    try:
        yield running
    finally:
        if running.process is not None and running.process.poll() is None:
            running.kill(signal.SIGTERM)


def test_quick_start_answers_and_collects_its_own_host_metrics(server: Server) -> None:
    with httpx.Client(timeout=30) as client:
        ready = client.get(f"{server.url}/health/ready")
        assert ready.status_code == 200, ready.text
        assert "watchkeeper_build_info" in client.get(f"{server.url}/metrics").text
        assert client.get(f"{server.url}/openapi.json").json()["info"]["title"] == "Watchkeeper"
        headers = server.login(client)
        assert client.get(f"{server.url}/auth/me", headers=headers).json()["name"] == "admin"
        deadline = time.monotonic() + 30
        found: list[object] = []
        while time.monotonic() < deadline and not found:
            answer = client.get(
                f"{server.url}/api/v1/query",
                headers=headers,
                params={"query": "node_memory_MemTotal_bytes"},
            )
            found = answer.json()["data"]["result"]
            time.sleep(0.5)
        assert found, "no host metrics arrived within 30 s"
        assert float(found[0]["value"][1]) > 0  # type: ignore[index]


def test_acknowledged_samples_survive_kill_9(server: Server) -> None:
    with httpx.Client(timeout=30) as client:
        headers = server.login(client)
        key = client.post(
            f"{server.url}/api/v1/apikeys",
            headers=headers,
            json={"name": "writer", "scopes": ["ingest", "read"]},
        ).json()["key"]
    auth = {"Authorization": f"Bearer {key}"}
    acked: list[int] = []
    stop = threading.Event()
    base = time.time() - 3000

    def writer() -> None:
        with httpx.Client(timeout=10) as client:
            batch = 0
            while not stop.is_set():
                samples = [[base + batch * 10 + i * 0.01, float(i)] for i in range(100)]
                try:
                    response = client.post(
                        f"{server.url}/api/v1/ingest",
                        headers=auth,
                        json=[{"metric": "kill_test", "labels": {}, "samples": samples}],
                    )
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    acked.append(100)
                batch += 1

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 60
    while sum(acked) < 3000 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill(signal.SIGKILL)
    stop.set()
    thread.join(30)
    acknowledged = sum(acked)
    assert acknowledged >= 3000

    server.start()
    with httpx.Client(timeout=30) as client:
        answer = client.get(
            f"{server.url}/api/v1/query",
            headers=auth,
            params={"query": "count_over_time(kill_test[2h])", "time": str(time.time())},
        ).json()
    stored = int(float(answer["data"]["result"][0]["value"][1]))
    # Every acknowledged sample is there; at most the one batch in flight may be there too.
    assert acknowledged <= stored <= acknowledged + 100
