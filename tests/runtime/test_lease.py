"""Run-once workers among replicas: one lease holder runs the worker, the others stand by,
and the lease moves on expiry, on release, and back to a restarted holder at once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from watchkeeper.clock import ManualClock
from watchkeeper.config import load_settings
from watchkeeper.db import migrate
from watchkeeper.db.engine import build_engine
from watchkeeper.db.tables import WorkerLease
from watchkeeper.runtime.lease import Exclusive, LeaseTable, release_identity, replica_identity
from watchkeeper.runtime.supervisor import Supervisor
from watchkeeper.runtime.worker import Placement
from watchkeeper.tenancy.scope import SessionFactory


@pytest.fixture
def sessions(database_url: str) -> Iterator[SessionFactory]:
    engine = build_engine(load_settings(), url=database_url)
    migrate.upgrade(engine)
    yield SessionFactory(engine)
    engine.dispose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_one_holder_at_a_time_and_the_lease_moves_on_expiry(
    sessions: SessionFactory, clock: ManualClock
) -> None:
    a, b = LeaseTable(sessions, clock, "host-a"), LeaseTable(sessions, clock, "host-b")
    assert a.acquire("rules", ttl=30) and not b.acquire("rules", ttl=30)
    assert b.acquire("dispatcher", ttl=30)  # leases are per worker: work spreads
    clock.advance(20)
    assert a.acquire("rules", ttl=30)  # renewed: expires 30 s from now
    clock.advance(20)
    assert not b.acquire("rules", ttl=30) and a.holder_of("rules") == "host-a"
    clock.advance(31)  # host-a stopped renewing
    assert b.acquire("rules", ttl=30) and not a.acquire("rules", ttl=30)
    b.release("rules")
    assert a.acquire("rules", ttl=30)
    assert b.acquire("dispatcher", ttl=30)  # (expired meanwhile; b takes it again)
    a.release("dispatcher")  # not a's: releasing it changes nothing
    assert b.holder_of("dispatcher") == "host-b"
    # A restarted process of the same replica (same identity) takes its lease back at once.
    assert LeaseTable(sessions, clock, "host-a").acquire("rules", ttl=30)


class Counting:
    placement = Placement.RUN_ONCE

    def __init__(self, name: str = "rules") -> None:
        self.name = name
        self.running = False
        self.runs = 0

    async def run(self) -> None:
        self.runs += 1
        self.running = True
        try:
            await asyncio.Event().wait()
        finally:
            self.running = False


async def _settle(until: object = None, rounds: int = 200) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0.005)
        if callable(until) and until():
            return


@pytest.mark.anyio
async def test_a_standby_replica_takes_over_when_the_holder_stops_or_loses_its_lease(
    sessions: SessionFactory,
) -> None:
    clock = ManualClock()
    work = {name: Counting() for name in ("a", "b")}
    replicas = {
        name: Supervisor(
            [Exclusive(work[name], LeaseTable(sessions, clock, f"host-{name}"), clock)], clock
        )
        for name in ("a", "b")
    }
    await replicas["a"].start()
    await _settle(lambda: work["a"].running)
    await replicas["b"].start()
    await _settle(lambda: clock.sleepers >= 2)
    assert work["a"].running and not work["b"].running
    assert [s.status for s in replicas["b"].states()] == ["standby"]
    assert replicas["b"].healthy()  # a standby is not a failure

    # A clean stop releases the lease: the standby takes it at its next attempt.
    await replicas["a"].stop()
    assert not work["a"].running
    clock.advance(10)
    await _settle(lambda: work["b"].running)
    assert work["b"].running and [s.status for s in replicas["b"].states()] == ["running"]

    # b's lease is taken away behind its back (it stalled past the ttl and a took over):
    # at its next renewal b finds out and stops its worker.
    with sessions.system("test") as db:
        db.execute(
            update(WorkerLease).values(holder="host-a", expires_at=clock.now().replace(year=2999))
        )
    clock.advance(10)
    await _settle(lambda: not work["b"].running)
    assert not work["b"].running and [s.status for s in replicas["b"].states()] == ["standby"]
    await replicas["b"].stop()


class Crashing:
    placement = Placement.RUN_ONCE
    name = "rules"

    async def run(self) -> None:
        raise ValueError("bad rule file")


@pytest.mark.anyio
async def test_a_crash_under_a_lease_reports_the_workers_own_error(
    sessions: SessionFactory,
) -> None:
    clock = ManualClock()
    supervisor = Supervisor([Exclusive(Crashing(), LeaseTable(sessions, clock, "h"), clock)], clock)
    await supervisor.start()
    await _settle(lambda: supervisor.states()[0].last_error is not None)
    assert supervisor.states()[0].last_error == "ValueError: bad rule file"
    await supervisor.stop()


class Unreachable(LeaseTable):
    """The database went away after the lease was taken."""

    def release(self, name: str) -> None:
        raise ConnectionError("database unreachable")


@pytest.mark.anyio
async def test_stopping_with_the_database_gone_still_stops(sessions: SessionFactory) -> None:
    clock = ManualClock()
    work = Counting()
    supervisor = Supervisor([Exclusive(work, Unreachable(sessions, clock, "h"), clock)], clock)
    await supervisor.start()
    await _settle(lambda: work.running)
    await supervisor.stop()  # the lease runs out on its own; stop() must not raise
    assert not work.running and supervisor.states()[0].status == "stopped"


def _identity_in_subprocess(data_dir: str, hold: bool = False) -> subprocess.Popen[str]:
    code = (
        "import sys, time; from pathlib import Path; "
        "from watchkeeper.runtime.lease import replica_identity; "
        f"print(replica_identity(Path({data_dir!r})), flush=True); "
        f"time.sleep(60 if {hold} else 0)"
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def test_processes_of_one_data_folder_get_their_own_identity_and_keep_it(tmp_path: Path) -> None:
    mine = replica_identity(tmp_path)
    assert mine.endswith(f":{tmp_path.resolve()}:0") and replica_identity(tmp_path) == mine
    # A second process on the same host and folder (server.workers > 1) is someone else...
    holder = _identity_in_subprocess(str(tmp_path), hold=True)
    assert holder.stdout is not None
    second = holder.stdout.readline().strip()
    assert second.endswith(":1")
    # ... and after it dies by SIGKILL, the process that replaces it is it again.
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    again = _identity_in_subprocess(str(tmp_path))
    out, _ = again.communicate(timeout=60)
    assert out.strip() == second


def test_a_released_identity_is_free_for_the_next_process(tmp_path: Path) -> None:
    first = replica_identity(tmp_path)
    release_identity(tmp_path)
    out, _ = _identity_in_subprocess(str(tmp_path)).communicate(timeout=60)
    assert out.strip() == first  # slot 0 again, not 1


def test_acquired_at_is_when_the_current_holder_took_the_lease(
    sessions: SessionFactory, clock: ManualClock
) -> None:
    def acquired_at() -> float:
        with sessions.system("test") as db:
            row = db.get(WorkerLease, "rules")
            assert row is not None
            return row.acquired_at.timestamp()

    a, b = LeaseTable(sessions, clock, "host-a"), LeaseTable(sessions, clock, "host-b")
    taken = clock.time()
    assert a.acquire("rules", ttl=30)
    clock.advance(20)
    assert a.acquire("rules", ttl=30)  # a renewal keeps the first time
    assert acquired_at() == pytest.approx(taken, abs=0.001)
    clock.advance(31)
    assert b.acquire("rules", ttl=30)  # taken over: acquired now
    assert acquired_at() == pytest.approx(clock.time(), abs=0.001)
    b.release("rules")
    clock.advance(1)
    assert a.acquire("rules", ttl=30)  # back to a after a release: acquired now too
    assert acquired_at() == pytest.approx(clock.time(), abs=0.001)
