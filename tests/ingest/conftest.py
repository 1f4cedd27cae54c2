"""Fixtures for ingest tests: a real HTTP server serving text exposition, service helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.receivers import HttpReceiver, Received, Reply
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

    def respond(self, request: Received) -> Reply:
        self.requests.append(request.headers)
        content_type = {"Content-Type": "text/plain; version=0.0.4"}
        return Reply(self.status, self.body.encode(), content_type)


@pytest.fixture
def exposition_server() -> Iterator[ExpositionServer]:
    state = ExpositionServer()
    with HttpReceiver(respond=state.respond) as running:
        state.port = running.port
        yield state


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
