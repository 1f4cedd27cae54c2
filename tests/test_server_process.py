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


def test_a_write_is_committed_before_its_answer_arrives(server: Server) -> None:
    """A 201 means committed: the new API key works on the very next request."""
    with httpx.Client(timeout=30) as client:
        headers = server.login(client)
        for attempt in range(25):
            created = client.post(
                f"{server.url}/api/v1/apikeys",
                headers=headers,
                json={"name": f"k{attempt}", "scopes": ["read"]},
            )
            assert created.status_code == 201, created.text
            used = client.get(
                f"{server.url}/api/v1/labels",
                headers={"X-API-Key": created.json()["key"]},
            )
            assert used.status_code == 200, f"attempt {attempt}: {used.text}"


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


def test_real_prometheus_remote_writes_node_exporter_series(server: Server, tmp_path: Path) -> None:
    """Prometheus scrapes a real node_exporter and forwards with remote_write; PromQL on
    Watchkeeper then answers what the same PromQL answers on that Prometheus."""
    from tests.support import require_binary

    prometheus = require_binary("prometheus")
    node_exporter = require_binary("prometheus-node-exporter")
    with httpx.Client(timeout=30) as client:
        headers = server.login(client)
        key = client.post(
            f"{server.url}/api/v1/apikeys",
            headers=headers,
            json={"name": "prometheus", "scopes": ["ingest", "read"]},
        ).json()["key"]
    node_port, prom_port = free_port(), free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "node", "static_configs": [{"targets": [f"127.0.0.1:{node_port}"]}]}
        ],
        "remote_write": [
            {
                "url": f"{server.url}/api/v1/write",
                "authorization": {"credentials": key},
                "queue_config": {"batch_send_deadline": "500ms"},
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    processes = [
        subprocess.Popen(
            [node_exporter, f"--web.listen-address=127.0.0.1:{node_port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    auth = {"Authorization": f"Bearer {key}"}
    # job="node": the server's own host collector writes node_* series too (job="watchkeeper").
    queries = [
        'up{job="node"}',
        'node_memory_MemTotal_bytes{job="node"}',
        'count(node_cpu_seconds_total{job="node"})',
        'sum by (mode) (node_cpu_seconds_total{job="node", mode=~"user|system|idle"})',
        'rate(node_cpu_seconds_total{job="node", mode="idle"}[5s])',
        'count by (job) (up{job="node"})',
    ]
    try:
        wait_for_port(prom_port, timeout=60)
        with httpx.Client(timeout=30) as client:
            deadline = time.monotonic() + 60
            mismatch: list[object] = ["not compared yet"]
            while time.monotonic() < deadline and mismatch:
                time.sleep(2)
                at = str(time.time() - 4)
                mismatch = []
                for query in queries:
                    ours = client.get(
                        f"{server.url}/api/v1/query",
                        headers=auth,
                        params={"query": query, "time": at},
                    ).json()
                    theirs = client.get(
                        f"http://127.0.0.1:{prom_port}/api/v1/query",
                        params={"query": query, "time": at},
                    ).json()
                    ours_set = {
                        (tuple(sorted(r["metric"].items())), r["value"][1])
                        for r in ours["data"]["result"]
                    }
                    theirs_set = {
                        (tuple(sorted(r["metric"].items())), r["value"][1])
                        for r in theirs["data"]["result"]
                    }
                    if not theirs_set or ours_set != theirs_set:
                        mismatch.append((query, sorted(ours_set)[:3], sorted(theirs_set)[:3]))
        assert not mismatch, mismatch
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
