"""Readiness checks: the database, Redis when configured, and every background worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import anyio.to_thread
from sqlalchemy import Engine, text

from watchkeeper.runtime.supervisor import Supervisor


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    latency_ms: float


def _timed(name: str, check: Callable[[], str]) -> CheckResult:
    started = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"
        ok = False
    return CheckResult(name, ok, detail, round((time.perf_counter() - started) * 1000, 2))


class HealthChecker:
    """Runs the dependency checks; blocking, so callers run it in a thread."""

    def __init__(
        self,
        engine: Engine,
        supervisor: Supervisor,
        redis_url: str | None,
        redis_password: str | None,
    ) -> None:
        self.engine = engine
        self.supervisor = supervisor
        self.redis_url = redis_url
        self.redis_password = redis_password
        self._limiter: anyio.CapacityLimiter | None = None
        self._running: asyncio.Future[list[CheckResult]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def probe(self) -> list[CheckResult]:
        """`run` for the readiness probe, never queued behind requests for the shared worker
        threads (a flood of slow requests must not make a healthy process look dead): it runs
        on a capacity limiter of its own, one check at a time, and concurrent probes share the
        check in progress."""
        loop = asyncio.get_running_loop()
        if self._limiter is None or self._loop is not loop:  # (a test client's loop per call)
            self._limiter, self._loop, self._running = anyio.CapacityLimiter(1), loop, None
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(
                anyio.to_thread.run_sync(self.run, limiter=self._limiter)
            )
        return await asyncio.shield(self._running)

    def _database(self) -> str:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return self.engine.dialect.name

    def _redis(self) -> str:
        import redis

        assert self.redis_url is not None
        client = redis.Redis.from_url(
            self.redis_url, password=self.redis_password, socket_timeout=2, socket_connect_timeout=2
        )
        try:
            client.ping()
        finally:
            client.close()
        return "PONG"

    def run(self) -> list[CheckResult]:
        results = [_timed("database", self._database)]
        if self.redis_url:
            results.append(_timed("redis", self._redis))
        for state in self.supervisor.states():
            ok = state.status in ("running", "standby")  # standby: another replica has it
            detail = state.status if ok else f"{state.status}: {state.last_error or 'not running'}"
            results.append(CheckResult(f"worker:{state.name}", ok, detail, 0.0))
        return results
