"""The one source of "now": everything that waits or compares with the time takes a Clock.

Tests drive a ManualClock, so nothing in the suite sleeps for the duration it tests.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Wall-clock seconds since the epoch, plus a sleep that a test clock can skip."""

    def time(self) -> float: ...

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """A clock that moves only when a test calls `advance`; `sleep` waits for that.

    Safe to advance from the test's thread while the app's event loop runs in another
    (as with Starlette's TestClient).
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._sleepers: list[tuple[float, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def time(self) -> float:
        return self._now

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._now, UTC)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
            due = [s for s in self._sleepers if s[0] <= self._now]
            self._sleepers = [s for s in self._sleepers if s[0] > self._now and not s[2].done()]
        for _, loop, future in due:
            loop.call_soon_threadsafe(_wake, future)

    def set(self, timestamp: float) -> None:
        self.advance(timestamp - self._now)

    @property
    def sleepers(self) -> int:
        """How many sleeps are waiting for the clock to move (lets tests wait for workers)."""
        with self._lock:
            return sum(1 for s in self._sleepers if not s[2].done())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._sleepers.append((self._now + seconds, loop, future))
        await future


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
