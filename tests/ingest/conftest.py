"""Fixtures for ingest tests: a real HTTP server serving text exposition, service helpers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from watchkeeper.clock import ManualClock
from watchkeeper.domain.series import SeriesSamples


@dataclass
class ExpositionServer:
    """What the test server answers, and the headers of the requests it got."""

    port: int = 0
    body: str = ""
    status: int = 200
    requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
def exposition_server() -> Iterator[ExpositionServer]:
    state = ExpositionServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append({k.lower(): v for k, v in self.headers.items()})
            payload = state.body.encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class RecordingSink:
    """A sink that keeps every batch it is given, per tenant, in order."""

    batches: list[tuple[str, list[SeriesSamples]]] = field(default_factory=list)

    def __call__(self, tenant_id: str, batch: list[SeriesSamples]) -> None:
        self.batches.append((tenant_id, batch))

    def last(self) -> dict[str, SeriesSamples]:
        """The last batch keyed by a readable series name (`name{a="b",...}`)."""
        return {series_key(s): s for s in self.batches[-1][1]}


def series_key(series: SeriesSamples) -> str:
    labels = ",".join(f'{k}="{v}"' for k, v in series.labels if k != "__name__")
    return f"{series.metric_name}{{{labels}}}"


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


async def until_asleep(clock: ManualClock, sleepers: int = 1, timeout: float = 10.0) -> None:
    """Wait (real time, bounded) until workers are parked in `clock.sleep`."""
    async with asyncio.timeout(timeout):
        while clock.sleepers < sleepers:
            await asyncio.sleep(0.005)
