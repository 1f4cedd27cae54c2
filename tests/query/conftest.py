"""A real Prometheus 2.x, started once per module, holding the generated series."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.query.generated_series import generate, time_ordered_batches
from tests.support import free_port, require_binary, wait_for_port
from watchkeeper.ingest.remote_write import encode
from watchkeeper.store.memory import MemoryStore

TENANT = "diff"


@dataclass
class PrometheusServer:
    url: str
    client: httpx.Client

    def query(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        response = self.client.get(f"{self.url}{path}", params=params)
        body: dict[str, Any] = response.json()
        return body


def _wait_ready(client: httpx.Client, url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}")
        try:
            if client.get(f"{url}/-/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError("prometheus did not become ready")


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrometheusServer]:
    binary = require_binary("prometheus")
    with tempfile.TemporaryDirectory(prefix="wk-prom-") as tmp:
        config = Path(tmp) / "prometheus.yml"
        config.write_text("global:\n  evaluation_interval: 1m\n")
        port = free_port()
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp}/data",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-remote-write-receiver",
                "--storage.tsdb.retention.time=100y",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(timeout=30) as client:
                wait_for_port(port)
                _wait_ready(client, url, process)
                headers = {
                    "Content-Encoding": "snappy",
                    "Content-Type": "application/x-protobuf",
                    "X-Prometheus-Remote-Write-Version": "0.1.0",
                }
                for batch in time_ordered_batches(generate()):
                    response = client.post(
                        f"{url}/api/v1/write", content=encode(batch), headers=headers
                    )
                    assert response.status_code == 204, response.text
                yield PrometheusServer(url, client)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def loaded_store() -> MemoryStore:
    store = MemoryStore()
    for series in generate():
        store.append(TENANT, [series])
    return store
