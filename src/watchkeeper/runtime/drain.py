"""Draining: what a replica does between SIGTERM and its exit, so a rolling restart loses nothing.

A load balancer (or a Kubernetes Service) stops sending new requests to a replica only after it
notices that the replica is no longer ready. If the process stopped listening at SIGTERM, the
requests routed to it in that window would fail. So on the first SIGTERM (or SIGINT):

1. `/health/ready` answers 503 `draining` at once; `/health/live` stays 200 (the process is
   healthy, it must not be restarted);
2. the server keeps accepting and serving requests for `server.drain_seconds`;
3. then it stops listening, finishes the requests in flight, and runs the application's
   shutdown: the supervisor stops the workers (a notification batch being sent settles and its
   outcomes are recorded, `notify/delivery.py`), and each run-once worker releases its lease so
   the other replica takes it at its next attempt instead of waiting for the lease to expire
   (`runtime/lease.py`);
4. a watchdog ends the process once `server.shutdown_timeout_seconds` have passed since the
   signal, whatever is still running (leases left behind then expire after their ttl).

A second SIGTERM/SIGINT skips the rest of the drain period. The flag is per process: with
granian, the main process forwards the start of the drain to its worker processes by SIGUSR1.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType
from typing import Any

import structlog

log = structlog.get_logger(__name__)

DRAIN_SIGNAL = signal.SIGUSR1
WATCHDOG_EXIT_CODE = 70


class Drain:
    """This process's draining flag (set once, by a signal handler)."""

    def __init__(self) -> None:
        self._since: float | None = None
        self._lock = threading.Lock()

    @property
    def draining(self) -> bool:
        return self._since is not None

    def begin(self) -> bool:
        """Mark the process as draining; True the first time only."""
        with self._lock:
            if self._since is not None:
                return False
            self._since = time.monotonic()
            return True

    def reset(self) -> None:
        """Ready again (tests that run several apps in one process)."""
        with self._lock:
            self._since = None


DRAIN = Drain()


def start_watchdog(seconds: float) -> threading.Timer:
    """End the process `seconds` from now if it has not exited by then."""

    def expire() -> None:
        log.error("shutdown_timeout", seconds=seconds)
        os._exit(WATCHDOG_EXIT_CODE)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


def listen_for_drain() -> None:
    """In a worker process (granian): start draining when the main process says so."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(_sig: int, _frame: FrameType | None) -> None:
        if DRAIN.begin():
            log.info("draining", pid=os.getpid())

    signal.signal(DRAIN_SIGNAL, handler)


def uvicorn_server(config: Any, *, drain_seconds: float, shutdown_timeout: float) -> Any:
    """A `uvicorn.Server` whose first exit signal starts a drain instead of stopping at once."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        _exit_at: float | None = None
        _signal: int = signal.SIGTERM

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if not DRAIN.begin():  # a second signal: stop now
                super().handle_exit(sig, frame)
                return
            start_watchdog(shutdown_timeout)
            log.info("draining", seconds=drain_seconds, signal=sig)
            self._signal = sig
            if drain_seconds <= 0:
                super().handle_exit(sig, frame)
            else:
                self._exit_at = time.monotonic() + drain_seconds

        async def on_tick(self, counter: int) -> bool:
            if self._exit_at is not None and time.monotonic() >= self._exit_at:
                self._exit_at = None
                super().handle_exit(self._signal, None)
            return await super().on_tick(counter)

    return DrainingServer(config)


def granian_server(
    options: dict[str, Any], *, drain_seconds: float, shutdown_timeout: float
) -> Any:
    """A Granian server whose main process drains its workers before stopping them."""
    from granian import Granian

    class DrainingGranian(Granian):  # type: ignore[misc,valid-type]
        def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None:
            if not DRAIN.begin():
                super().signal_handler_interrupt(*args, **kwargs)
                return
            start_watchdog(shutdown_timeout)
            log.info("draining", seconds=drain_seconds)
            for worker in list(self.wrks):
                process = getattr(worker, "inner", None)
                pid = getattr(process, "pid", None)
                if pid:
                    try:
                        os.kill(pid, DRAIN_SIGNAL)
                    except ProcessLookupError:
                        pass
            stop = threading.Timer(
                max(drain_seconds, 0.0), super().signal_handler_interrupt, args, kwargs
            )
            stop.daemon = True
            stop.start()

    return DrainingGranian(
        **options, workers_kill_timeout=max(1, int(shutdown_timeout - drain_seconds))
    )
