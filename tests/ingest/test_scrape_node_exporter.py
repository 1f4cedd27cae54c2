"""Scraping a real node_exporter (the Debian package prometheus-node-exporter)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support import require_binary
from watchkeeper.clock import SystemClock
from watchkeeper.ingest.scrape import ScrapeJob, ScrapeLoop

from .conftest import RecordingSink

pytestmark = pytest.mark.services


@pytest.fixture
def node_exporter() -> Iterator[str]:
    binary = require_binary("prometheus-node-exporter")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    process = subprocess.Popen(
        [binary, f"--web.listen-address={address}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"http://{address}/metrics", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("node_exporter did not start")
                time.sleep(0.05)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.anyio
async def test_scrape_real_node_exporter(node_exporter: str) -> None:
    sink = RecordingSink()
    job = ScrapeJob(job_name="node", targets=(node_exporter,), interval=15.0)
    async with httpx.AsyncClient() as client:
        loop = ScrapeLoop(job, node_exporter, sink, SystemClock(), client=client)
        report = await loop.scrape_once()

    assert report.up, report.error
    assert report.samples_scraped > 100
    names = {s.metric_name for s in sink.batches[-1][1]}
    assert {"node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "up"} <= names
    cpu = next(s for s in sink.batches[-1][1] if s.metric_name == "node_cpu_seconds_total")
    assert dict(cpu.labels)["job"] == "node"
    assert dict(cpu.labels)["instance"] == node_exporter
    assert {"cpu", "mode"} <= dict(cpu.labels).keys()
