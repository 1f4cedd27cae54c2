"""The supervisor restarts crashed workers with growing backoff, on the injected clock."""

from __future__ import annotations

import asyncio
import threading
import time

import anyio
import anyio.to_thread
import pytest

from watchkeeper.clock import ManualClock
from watchkeeper.runtime.supervisor import Supervisor
from watchkeeper.runtime.worker import Placement


class Flaky:
    placement = Placement.RUN_ONCE
    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.runs = 0

    async def run(self) -> None:
        self.runs += 1
        if self.runs <= self.failures:
            raise RuntimeError(f"boom {self.runs}")
        await asyncio.Event().wait()


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.mark.anyio
async def test_crashed_worker_is_restarted_with_backoff() -> None:
    clock = ManualClock()
    worker = Flaky(failures=3)
    supervisor = Supervisor([worker], clock, initial_backoff=1.0, max_backoff=8.0)
    await supervisor.start()
    await _settle()
    state = supervisor.states()[0]
    assert (
        worker.runs == 1
        and state.status == "backoff"
        and state.last_error == "RuntimeError: boom 1"
    )
    assert not supervisor.healthy()

    clock.advance(0.5)
    await _settle()
    assert worker.runs == 1  # still waiting out the first 1 s backoff
    clock.advance(0.5)
    await _settle()
    assert worker.runs == 2  # crashed again; now waits 2 s
    clock.advance(2)
    await _settle()
    assert worker.runs == 3
    clock.advance(4)
    await _settle()
    assert worker.runs == 4 and state.status == "running" and supervisor.healthy()
    assert state.restarts == 3
    await supervisor.stop()
    assert state.status == "stopped"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Writing:
    """A worker whose pass runs in a thread, as every database pass does."""

    placement = Placement.RUN_ONCE

    name = "writing"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = threading.Event()
        self.finished = threading.Event()

    def write(self) -> None:
        self.started.set()
        time.sleep(self.seconds)
        self.finished.set()

    async def run(self) -> None:
        await anyio.to_thread.run_sync(self.write)
        await asyncio.Event().wait()


@pytest.mark.anyio
async def test_stop_waits_for_the_pass_a_thread_is_running() -> None:
    """A plain Task.cancel() left the thread running after stop() returned (mid-transaction,
    with the engine disposed behind it: the PostgreSQL teardown deadlock seen in CI)."""
    worker = Writing(seconds=0.3)
    supervisor = Supervisor([worker], ManualClock())
    await supervisor.start()
    while not worker.started.is_set():
        await asyncio.sleep(0.01)
    await supervisor.stop()
    assert worker.finished.is_set()
    assert supervisor.states()[0].status == "stopped"


@pytest.mark.anyio
async def test_stop_gives_up_on_a_pass_that_outlasts_the_grace() -> None:
    worker = Writing(seconds=2.0)
    supervisor = Supervisor([worker], ManualClock(), stop_grace=0.2)
    await supervisor.start()
    while not worker.started.is_set():
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await supervisor.stop()
    assert time.monotonic() - started < 1.5
    assert not worker.finished.is_set()
    assert supervisor.states()[0].status == "stopped"
