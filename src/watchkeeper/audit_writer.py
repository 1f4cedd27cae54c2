"""Audit writes off the request threads: one writer thread, a bounded queue, batched commits.

Writing a record costs the chain's lock, a database commit and a checkpoint file
(`watchkeeper.audit`). Done on the shared worker threads for every refused request, a flood of
refusals held those threads and starved every other caller (`docs/benchmarks.md`, "Abuse").
Here a request hands its entry to a queue (no thread held) and one dedicated thread appends
what is queued in one transaction with one checkpoint update.

Bounds, so a caller cannot grow memory or the trail faster than one thread writes:
- **Collapsing.** A refusal (status >= 400) identical to one still queued (same tenant,
  principal, address, method, path, status and details) adds to that entry's count; the row
  written carries `details.repeated` (how many requests), `last_at` and `last_request_id`.
  While the writer is busy it waits `window` seconds between batches, so a flood of one
  refusal becomes about one row per window.
- **Capacity.** At most `capacity` distinct entries wait. When the queue is full, `submit`
  waits (asynchronously, holding no thread) before the response is sent, which slows the caller
  that fills it; after `enqueue_timeout` seconds the entry is dropped and logged as an error
  (the writer is stuck, e.g. the database is down).
- **Sizes.** The path and path parameters are cut to `MAX_PATH_CHARS` / `MAX_PARAM_CHARS`.

Durability: `submit` returns a sequence number; `written` waits (asynchronously) until the
batch holding it is committed. The request middleware awaits it after sending the response, so
an ASGI cycle ends only once its record is durable, and uvicorn's graceful shutdown waits for
it; `stop` writes whatever is still queued before the thread ends.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import structlog

from watchkeeper.audit import AuditEntry, AuditLog
from watchkeeper.observability.metrics import AUDIT_COLLAPSED, AUDIT_DROPPED

log = structlog.get_logger(__name__)

MAX_PATH_CHARS = 2048
MAX_PARAM_CHARS = 256
WRITE_ATTEMPTS = 3


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bounded(entry: AuditEntry) -> AuditEntry:
    """The entry with the caller-chosen strings (path, path parameters) cut to bounded sizes."""
    params = entry.details.get("path_params")
    if len(entry.path) <= MAX_PATH_CHARS and not (
        isinstance(params, dict)
        and any(isinstance(v, str) and len(v) > MAX_PARAM_CHARS for v in params.values())
    ):
        return entry
    details = dict(entry.details)
    if isinstance(params, dict):
        details["path_params"] = {
            str(k)[:MAX_PARAM_CHARS]: _cut(v, MAX_PARAM_CHARS) if isinstance(v, str) else v
            for k, v in params.items()
        }
    return replace(entry, path=_cut(entry.path, MAX_PATH_CHARS), details=details)


@dataclass
class _Queued:
    entry: AuditEntry
    seq: int
    count: int = 1
    last_at: Any = None
    last_request_id: str | None = None

    def row(self) -> AuditEntry:
        if self.count == 1:
            return self.entry
        details = {
            **self.entry.details,
            "repeated": self.count,
            "last_at": self.last_at.isoformat() if self.last_at is not None else None,
            "last_request_id": self.last_request_id,
        }
        return replace(self.entry, details=details)


def _collapse_key(entry: AuditEntry) -> tuple[Any, ...] | None:
    if entry.status_code < 400:
        return None  # every state change that happened keeps its own row
    return (
        entry.tenant_id,
        entry.actor_type,
        entry.actor_id,
        entry.actor_name,
        entry.client_ip,
        entry.method,
        entry.path,
        entry.status_code,
        json.dumps(entry.details, sort_keys=True, default=str),
    )


class AuditWriter:
    """Appends audit entries to an `AuditLog` from one dedicated thread; see the module doc."""

    def __init__(
        self,
        audit: AuditLog,
        *,
        capacity: int = 10_000,
        window: float = 0.2,
        enqueue_timeout: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.audit = audit
        self.capacity = capacity
        self.window = window
        self.enqueue_timeout = enqueue_timeout
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queued: list[_Queued] = []
        self._by_key: dict[tuple[Any, ...], _Queued] = {}
        self._next_seq = 0  # the last sequence number handed out
        self._written_seq = 0  # every entry up to this one is committed (or given up on)
        self._durable: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._room: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._written_cond = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- the request side (event loop) -------------------------------------------------

    async def submit(self, entry: AuditEntry) -> int:
        """Queue `entry` (or count it into an identical queued refusal); returns its sequence
        number for `written`, 0 if it had to be dropped."""
        entry = bounded(entry)
        key = _collapse_key(entry)
        deadline = self._monotonic() + self.enqueue_timeout
        while True:
            with self._lock:
                self._ensure_thread()
                if key is not None and (same := self._by_key.get(key)) is not None:
                    same.count += 1
                    same.last_at, same.last_request_id = entry.at, entry.request_id
                    AUDIT_COLLAPSED.inc()
                    return same.seq
                if len(self._queued) < self.capacity:
                    self._next_seq += 1
                    queued = _Queued(entry, self._next_seq)
                    self._queued.append(queued)
                    if key is not None:
                        self._by_key[key] = queued
                    self._wake.notify()
                    return queued.seq
                room: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._room.append((asyncio.get_running_loop(), room))
            remaining = deadline - self._monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                await asyncio.wait_for(room, remaining)
            except TimeoutError:
                AUDIT_DROPPED.inc()
                log.error(
                    "audit_entry_dropped",
                    reason=f"audit queue full ({self.capacity} entries) for "
                    f"{self.enqueue_timeout} s",
                    action=entry.action,
                    status=entry.status_code,
                    tenant_id=entry.tenant_id,
                    actor=entry.actor_name,
                    request_id=entry.request_id,
                )
                return 0

    async def written(self, seq: int) -> None:
        """Wait until the entry numbered `seq` is committed (holding no thread)."""
        with self._lock:
            if seq <= self._written_seq:
                return
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._durable.append((seq, asyncio.get_running_loop(), done))
        await done

    async def written_all(self) -> None:
        """Wait until everything submitted so far is committed (read-your-writes for the
        audit listing)."""
        with self._lock:
            seq = self._next_seq
        await self.written(seq)

    def flush(self, timeout: float = 30.0) -> bool:
        """Block until everything submitted so far is committed; False on timeout."""
        with self._lock:
            seq = self._next_seq
            if seq > self._written_seq:
                self._ensure_thread()
            return self._written_cond.wait_for(lambda: self._written_seq >= seq, timeout)

    # -- the writer thread -------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            self._stopping = False
            self._ensure_thread()

    def stop(self, timeout: float = 30.0) -> None:
        """Write everything queued, then end the thread."""
        with self._lock:
            self._stopping = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.error("audit_writer_stop_timeout", queued=len(self._queued))
        with self._lock:
            self._thread = None

    def _ensure_thread(self) -> None:
        """Start the writer if it is not running (called with the lock held)."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        busy = False  # the last batch had company: wait a window so refusals collapse
        last = float("-inf")
        while True:
            with self._lock:
                while not self._queued and not self._stopping:
                    self._wake.wait()
                if not self._queued:
                    return
                delay = last + self.window - self._monotonic() if busy else 0.0
                if delay > 0:
                    self._wake.wait_for(lambda: self._stopping, delay)
                batch, self._queued = self._queued, []
                self._by_key.clear()
                room, self._room = self._room, []
            for loop, future in room:
                _wake_up(loop, future)
            last = self._monotonic()
            busy = len(batch) > 1 or batch[0].count > 1
            self._write(batch)
            with self._lock:
                self._written_seq = batch[-1].seq
                ready = [w for w in self._durable if w[0] <= self._written_seq]
                self._durable = [w for w in self._durable if w[0] > self._written_seq]
                self._written_cond.notify_all()
            for _, loop, future in ready:
                _wake_up(loop, future)

    def _write(self, batch: list[_Queued]) -> None:
        rows = [queued.row() for queued in batch]
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                self.audit.append(rows)
                return
            except Exception as exc:  # the database may be busy or briefly down: retry
                if attempt == WRITE_ATTEMPTS:
                    AUDIT_DROPPED.inc(len(rows))
                    log.error(
                        "audit_write_failed",
                        records=len(rows),
                        error=str(exc),
                        request_ids=[r.request_id for r in rows[:20]],
                    )
                    return
                log.warning("audit_write_retry", records=len(rows), error=str(exc))
                time.sleep(0.1 * attempt)  # backoff of the writer thread, no caller waits on it


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _wake_up(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
    try:
        loop.call_soon_threadsafe(_resolve, future)
    except RuntimeError:  # that event loop has ended (a test client's): nobody waits any more
        pass
