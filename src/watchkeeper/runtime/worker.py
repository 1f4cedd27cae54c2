"""The Worker interface: a small object the supervisor starts, watches and restarts."""

from __future__ import annotations

import abc
import asyncio
from enum import Enum
from typing import Protocol

from watchkeeper.clock import Clock


class Placement(Enum):
    """Where a worker runs among replicas, declared by the worker (`wiring.with_leases` and
    `wiring.for_roles` read it)."""

    RUN_ONCE = "run-once"
    """Shared work: among replicas only the holder of its lease runs it."""
    PER_REPLICA = "per-replica"
    """Every process with the workers role runs its own, without a lease."""
    API_PROCESS = "api-process"
    """Every process runs its own, an API-only one too (its WebSocket clients, its host)."""


class Worker(Protocol):
    """A background role. `run` works until cancelled; raising means it crashed."""

    name: str
    placement: Placement

    async def run(self) -> None: ...


class PeriodicWorker(abc.ABC):
    """A worker that does one unit of work every `interval` seconds of the injected clock.

    Subclasses implement `tick`; an exception in `tick` crashes the worker so the supervisor
    can count it and restart it with backoff.
    """

    name: str = "periodic"

    def __init__(self, clock: Clock, interval: float) -> None:
        self.clock = clock
        self.interval = interval
        self.ticks = 0

    @abc.abstractmethod
    async def tick(self) -> None: ...

    async def run(self) -> None:
        while True:
            started = self.clock.time()
            await self.tick()
            self.ticks += 1
            elapsed = self.clock.time() - started
            await self.clock.sleep(max(self.interval - elapsed, 0.0))
            await asyncio.sleep(0)
