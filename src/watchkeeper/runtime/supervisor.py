"""Runs every background worker, restarts a crashed one with backoff, reports their health.

This is the product's auto-healing at process level (Kubernetes restarts the process itself).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import anyio
import structlog

from watchkeeper.clock import Clock
from watchkeeper.observability.metrics import WORKER_RESTARTS, WORKER_UP
from watchkeeper.runtime.worker import Worker

log = structlog.get_logger(__name__)


@dataclass
class WorkerState:
    name: str
    status: str = "starting"  # running | standby | backoff | stopped
    restarts: int = 0
    last_error: str | None = None
    started_at: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    scope: anyio.CancelScope | None = field(default=None, repr=False)


class Supervisor:
    """Start with `await start()`, stop with `await stop()`; `states()` feeds health checks."""

    def __init__(
        self,
        workers: list[Worker],
        clock: Clock,
        *,
        initial_backoff: float = 1.0,
        max_backoff: float = 60.0,
        stop_grace: float = 20.0,
    ) -> None:
        self.clock = clock
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.stop_grace = stop_grace
        self._held = False
        self.set_workers(workers)

    def set_workers(self, workers: list[Worker]) -> None:
        """The workers to run (before `start`)."""
        if self._held:
            workers = []
        self._workers = {w.name: w for w in workers}
        self._states = {w.name: WorkerState(w.name) for w in workers}

    def hold(self) -> None:
        """Run no worker in this process, now or after a configuration change: an app built
        for tests that drive workers by hand (`create_app(start_workers=False)`), whose
        readiness then reports no worker rather than every one as not running."""
        self._held = True
        self.set_workers([])

    async def start(self) -> None:
        for name, worker in self._workers.items():
            state = self._states[name]
            state.task = asyncio.create_task(
                self._keep_running(worker, state), name=f"worker:{name}"
            )

    async def stop(self) -> None:
        """Cancel every worker, letting work already handed to a thread finish first.

        A plain `Task.cancel()` abandons an `anyio.to_thread` call: the awaiting task ends but
        its thread runs on, mid-transaction, after the engine is disposed (and, in tests, while
        the schema is dropped). Cancelling through the worker's anyio scope honours the
        shield around thread calls, so a pass that is writing completes. `stop_grace` (wall
        seconds) bounds the wait; past it the remaining tasks are cancelled outright.
        """
        states = [s for s in self._states.values() if s.task is not None]
        for state in states:
            if state.scope is not None:
                state.scope.cancel()
            else:  # not yet inside its scope: nothing has been handed to a thread
                assert state.task is not None
                state.task.cancel()
        tasks = [s.task for s in states if s.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.stop_grace)
            for task in pending:
                log.warning("worker_stop_forced", worker=task.get_name(), grace=self.stop_grace)
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for state in self._states.values():
            state.status = "stopped"
            WORKER_UP.labels(state.name).set(0)

    async def replace(self, workers: list[Worker]) -> None:
        """Stop every worker and start this new set (after a configuration change)."""
        await self.stop()
        self.set_workers(workers)
        await self.start()

    async def _keep_running(self, worker: Worker, state: WorkerState) -> None:
        with anyio.CancelScope() as scope:
            state.scope = scope
            await self._restart_forever(worker, state)

    async def _restart_forever(self, worker: Worker, state: WorkerState) -> None:
        backoff = self.initial_backoff
        while True:
            state.status = "running"
            state.started_at = self.clock.time()
            WORKER_UP.labels(state.name).set(1)
            try:
                await worker.run()
                state.last_error = "worker returned"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                state.last_error = f"{type(exc).__name__}: {exc}"
                log.error("worker_crashed", worker=state.name, error=state.last_error, exc_info=exc)
            WORKER_UP.labels(state.name).set(0)
            state.restarts += 1
            state.status = "backoff"
            WORKER_RESTARTS.labels(state.name).inc()
            # A worker that ran well for a while starts again quickly; one that keeps
            # crashing waits longer each time, up to max_backoff.
            if (
                state.started_at is not None
                and self.clock.time() - state.started_at > self.max_backoff
            ):
                backoff = self.initial_backoff
            await self.clock.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    def states(self) -> list[WorkerState]:
        for name, state in self._states.items():
            # A run-once worker whose lease another replica holds (runtime/lease.py).
            standby = getattr(self._workers.get(name), "standby", False)
            if state.status in ("running", "standby"):
                state.status = "standby" if standby else "running"
        return list(self._states.values())

    def healthy(self) -> bool:
        return all(s.status in ("running", "standby") for s in self.states())
