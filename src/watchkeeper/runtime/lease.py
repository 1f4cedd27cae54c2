"""Leases: work that must run once among several replicas runs in the replica that holds it.

Rule evaluation, alert dispatch, correlation, detection, forecasting, escalation and the
housekeeping workers each act on every tenant's data; two replicas running the same one would
evaluate twice and race on the same rows. Each such worker is wrapped in `Exclusive`: it runs
only while this replica holds the lease named after the worker (a row in `worker_leases` with
a holder and an expiry, renewed every `renew_every` seconds). A replica that stops renewing
(crash, network partition, a stalled process) loses the lease after `ttl` seconds, and a
standby takes it at its next attempt; a replica that loses its lease cancels the worker (the
pass in progress finishes, see `Supervisor.stop`). A clean shutdown releases the lease so the
standby takes over within one attempt.

The holder's identity is the host name, the data folder and a slot (`replica_identity`),
stable across restarts: a process restarted after `kill -9` takes its own leases back at once
instead of waiting out the ttl. Delivery workers need no lease (they claim outbox rows under their own leases), nor
do per-process ones (host collector, the event relay to this replica's WebSocket clients).
"""

from __future__ import annotations

import fcntl
import socket
import threading
from datetime import timedelta
from pathlib import Path
from typing import IO

import anyio
import anyio.to_thread
import structlog
from prometheus_client import Gauge
from sqlalchemy import and_, case, select, update
from sqlalchemy.exc import IntegrityError

from watchkeeper.clock import Clock
from watchkeeper.db.tables import WorkerLease
from watchkeeper.runtime.worker import Placement, Worker
from watchkeeper.tenancy.scope import SessionFactory

log = structlog.get_logger(__name__)

LEASE_HELD = Gauge(
    "watchkeeper_worker_lease_held",
    "1 while this replica holds the lease of a run-once worker (0: standby)",
    ["worker"],
)


_IDENTITIES: dict[Path, tuple[str, IO[bytes]]] = {}  # the open file holds the slot's lock
_IDENTITY_LOCK = threading.Lock()


def replica_identity(data_dir: Path) -> str:
    """This process's holder name: host, data folder and a slot number.

    The slot is the lowest `replica-<n>.lock` in the data folder this process can lock, so
    the processes of one host and folder (`server.workers > 1`) each get their own name,
    and a process restarted after dying (the kernel drops its lock) gets its old one back.
    """
    folder = data_dir.resolve()
    with _IDENTITY_LOCK:
        known = _IDENTITIES.get(folder)
        if known is not None:
            return known[0]
        folder.mkdir(parents=True, exist_ok=True)
        slot = 0
        while True:
            handle = (folder / f"replica-{slot}.lock").open("ab")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                slot += 1
                continue
            break
        identity = f"{socket.gethostname()}:{folder}:{slot}"[-200:]
        _IDENTITIES[folder] = (identity, handle)
        return identity


def release_identity(data_dir: Path) -> None:
    """Give the slot up (at shutdown, after the leases were released)."""
    with _IDENTITY_LOCK:
        known = _IDENTITIES.pop(data_dir.resolve(), None)
    if known is not None:
        known[1].close()


class LeaseTable:
    """Leases in the metadata database (SQLite for one process, PostgreSQL for several)."""

    def __init__(self, sessions: SessionFactory, clock: Clock, holder: str) -> None:
        self.sessions = sessions
        self.clock = clock
        self.holder = holder

    def acquire(self, name: str, ttl: float) -> bool:
        """Take the lease if it is free or expired, renew it if it is ours; True if held."""
        now = self.clock.now()
        until = now + timedelta(seconds=ttl)
        with self.sessions.system(f"lease {name}") as db:
            taken = db.execute(
                update(WorkerLease)
                .where(
                    WorkerLease.name == name,
                    (WorkerLease.holder == self.holder) | (WorkerLease.expires_at <= now),
                )
                .values(
                    holder=self.holder,
                    expires_at=until,
                    released_at=None,
                    # A renewal keeps the time the holder took the lease; a lease taken over
                    # (another holder's, or our own after it lapsed) is acquired now.
                    acquired_at=case(
                        (
                            and_(WorkerLease.holder == self.holder, WorkerLease.expires_at > now),
                            WorkerLease.acquired_at,
                        ),
                        else_=now,
                    ),
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(taken, "rowcount", 0):
                return True
            if db.scalar(select(WorkerLease.name).where(WorkerLease.name == name)) is not None:
                return False
        try:  # never held by anyone: the first replica to insert the row has it
            with self.sessions.system(f"lease {name}") as db:
                db.add(
                    WorkerLease(name=name, holder=self.holder, expires_at=until, acquired_at=now)
                )
        except IntegrityError:
            return False
        return True

    def release(self, name: str) -> None:
        """Let a standby take the lease at once (a no-op when another replica holds it)."""
        with self.sessions.system(f"lease {name}") as db:
            db.execute(
                update(WorkerLease)
                .where(WorkerLease.name == name, WorkerLease.holder == self.holder)
                .values(expires_at=self.clock.now(), released_at=self.clock.now())
                .execution_options(synchronize_session=False)
            )

    def holder_of(self, name: str) -> str | None:
        with self.sessions.system(f"lease {name}") as db:
            row = db.get(WorkerLease, name)
            return row.holder if row is not None and row.expires_at > self.clock.now() else None


class Exclusive:
    """Runs `worker` only while this replica holds its lease; a standby otherwise."""

    placement = Placement.RUN_ONCE

    def __init__(
        self,
        worker: Worker,
        leases: LeaseTable,
        clock: Clock,
        *,
        ttl: float = 30.0,
        renew_every: float = 10.0,
    ) -> None:
        if renew_every >= ttl:
            raise ValueError("a lease must be renewed well before it expires")
        self.worker = worker
        self.name = worker.name
        self.leases = leases
        self.clock = clock
        self.ttl = ttl
        self.renew_every = renew_every
        self.standby = True

    async def run(self) -> None:
        try:
            while True:
                if await anyio.to_thread.run_sync(self.leases.acquire, self.name, self.ttl):
                    await self._run_while_held()
                await self.clock.sleep(self.renew_every)
        finally:
            self._set_standby(True)
            with anyio.CancelScope(shield=True):
                try:
                    await anyio.to_thread.run_sync(self.leases.release, self.name)
                except Exception as exc:  # the lease simply runs out instead
                    log.warning("lease_release_failed", worker=self.name, error=str(exc))

    async def _run_while_held(self) -> None:
        self._set_standby(False)
        log.info("lease_acquired", worker=self.name, holder=self.leases.holder)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._work)
                while True:
                    await self.clock.sleep(self.renew_every)
                    if not await anyio.to_thread.run_sync(self.leases.acquire, self.name, self.ttl):
                        log.warning("lease_lost", worker=self.name, holder=self.leases.holder)
                        group.cancel_scope.cancel()
                        break
        except BaseExceptionGroup as group_error:  # the worker crashed: report its own error
            if len(group_error.exceptions) == 1:
                raise group_error.exceptions[0] from None
            raise
        finally:
            self._set_standby(True)

    async def _work(self) -> None:
        await self.worker.run()
        raise RuntimeError("worker returned")

    def _set_standby(self, standby: bool) -> None:
        self.standby = standby
        LEASE_HELD.labels(self.name).set(0 if standby else 1)
