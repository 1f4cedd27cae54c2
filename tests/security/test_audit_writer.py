"""Audit writes hold no request thread, collapse repeated refusals, are bounded, and every
queued entry is committed on a clean stop, with the chain still verifiable.

"The writer is stuck" is made by holding the audit log's chain lock, which every append takes:
the writer thread blocks in its first batch while the test submits more.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import Env
from watchkeeper.audit import AuditEntry, AuditLog
from watchkeeper.audit_writer import MAX_PATH_CHARS, AuditWriter
from watchkeeper.config import load_settings
from watchkeeper.db import migrate
from watchkeeper.db.engine import build_engine
from watchkeeper.db.tables import AuditRecord
from watchkeeper.observability.metrics import AUDIT_COLLAPSED
from watchkeeper.tenancy.scope import SessionFactory


def _entry(path: str = "/api/v1/users", status: int = 403, request_id: str = "r") -> AuditEntry:
    return AuditEntry(
        at=datetime.now(UTC),
        tenant_id="t1",
        actor_type="api_key",
        actor_id="k1",
        actor_name="reader",
        action="POST /api/v1/users",
        method="POST",
        path=path,
        status_code=status,
        request_id=request_id,
        client_ip="203.0.113.9",
        details={"path_params": {}},
    )


def _rows(audit: AuditLog) -> list[AuditRecord]:
    with audit.sessions.system("test") as db:
        rows = list(db.scalars(select(AuditRecord).order_by(AuditRecord.id)))
        db.expunge_all()
        return rows


def collapsed() -> float:
    return float(AUDIT_COLLAPSED._value.get())


def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for another thread to reach a state (not for a duration under test)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


@pytest.fixture
def audit(database_url: str, tmp_path: Path) -> Iterator[AuditLog]:
    engine = build_engine(load_settings(), url=database_url)
    migrate.upgrade(engine)
    yield AuditLog(SessionFactory(engine), "k" * 32, checkpoint_file=tmp_path / "checkpoint.json")
    engine.dispose()


@pytest.fixture
def writer(audit: AuditLog) -> Iterator[AuditWriter]:
    writer = AuditWriter(audit, capacity=100, window=0.0)
    yield writer
    writer.stop()


def _stuck(writer: AuditWriter, audit: AuditLog) -> None:
    """Submit one entry and wait until the writer has taken it (and blocks on the lock)."""
    asyncio.run(writer.submit(_entry(path="/first", status=200)))
    _until(lambda: not writer._queued)


def test_identical_refusals_collapse_into_one_counted_record(
    writer: AuditWriter, audit: AuditLog
) -> None:
    before = len(_rows(audit))

    async def flood() -> None:
        for i in range(500):
            await writer.submit(_entry(request_id=f"r{i}"))

    with audit._lock:
        _stuck(writer, audit)
        asyncio.run(flood())
    assert writer.flush()
    rows = _rows(audit)[before:]
    refused = [r for r in rows if r.path == "/api/v1/users"]
    assert len(refused) == 1
    assert refused[0].details is not None and refused[0].details["repeated"] == 500
    assert refused[0].details["last_request_id"] == "r499" and refused[0].request_id == "r0"
    assert audit.verify().intact


def test_successes_are_never_collapsed(writer: AuditWriter, audit: AuditLog) -> None:
    before = len(_rows(audit))

    async def changes() -> None:
        for i in range(30):
            await writer.submit(_entry(status=201, request_id=f"c{i}"))

    with audit._lock:
        _stuck(writer, audit)
        asyncio.run(changes())
    assert writer.flush()
    assert len([r for r in _rows(audit)[before:] if r.path == "/api/v1/users"]) == 30
    assert audit.verify().intact


def test_a_full_queue_makes_the_submitter_wait_then_takes_its_entry(
    writer: AuditWriter, audit: AuditLog
) -> None:
    lock_released = threading.Event()

    async def scenario() -> None:
        for i in range(writer.capacity):  # distinct paths: nothing collapses
            await writer.submit(_entry(path=f"/p/{i}"))
        late = asyncio.ensure_future(writer.submit(_entry(path="/late")))
        await asyncio.sleep(0.2)
        assert not late.done() and len(writer._queued) == writer.capacity
        lock_released.set()
        await writer.written(await asyncio.wait_for(late, 10))

    audit._lock.acquire()
    _stuck(writer, audit)

    def release_when_told() -> None:
        lock_released.wait()
        audit._lock.release()

    waiter = threading.Thread(target=release_when_told)
    waiter.start()
    asyncio.run(scenario())
    waiter.join()
    paths = {r.path for r in _rows(audit)}
    assert "/late" in paths and {f"/p/{i}" for i in range(writer.capacity)} <= paths


def test_a_queue_full_past_its_timeout_drops_the_entry_instead_of_growing(
    audit: AuditLog,
) -> None:
    writer = AuditWriter(audit, capacity=2, window=0.0, enqueue_timeout=0.0)
    try:
        with audit._lock:
            _stuck(writer, audit)
            seqs = [asyncio.run(writer.submit(_entry(path=f"/d/{i}"))) for i in range(3)]
            assert seqs[2] == 0 and len(writer._queued) == 2
    finally:
        writer.stop()
    assert {r.path for r in _rows(audit)} >= {"/d/0", "/d/1"}


def test_stop_commits_everything_still_queued(writer: AuditWriter, audit: AuditLog) -> None:
    with audit._lock:
        _stuck(writer, audit)
        for i in range(20):
            asyncio.run(writer.submit(_entry(path=f"/s/{i}", status=200)))
        stopping = threading.Thread(target=writer.stop)
        stopping.start()
    stopping.join(30)
    assert not stopping.is_alive()
    paths = {r.path for r in _rows(audit)}
    assert {f"/s/{i}" for i in range(20)} <= paths
    assert audit.verify().intact


def test_caller_chosen_sizes_are_bounded(writer: AuditWriter, audit: AuditLog) -> None:
    entry = _entry(path="/x/" + "a" * 100_000)
    entry.details["path_params"] = {"id": "b" * 100_000}
    asyncio.run(writer.submit(entry))
    assert writer.flush()
    row = _rows(audit)[-1]
    assert len(row.path) == MAX_PATH_CHARS
    assert row.details is not None and len(row.details["path_params"]["id"]) <= 256


def test_a_stuck_audit_writer_holds_no_request_thread(env: Env) -> None:
    """60 refused POSTs (more than the 40 shared worker threads) wait for their audit record
    while the writer is stuck; a read that needs a worker thread is still answered, and the
    refusals end up as one counted record."""
    context = env.context
    admin = env.login()
    key = env.client.post(
        "/api/v1/apikeys", headers=admin, json={"name": "reader", "scopes": ["read"]}
    ).json()["key"]
    refused: list[int] = []

    def attack() -> None:
        response = env.client.post(
            "/api/v1/users",
            headers={"X-API-Key": key},
            json={"username": "x", "password": "y" * 16, "role": "viewer"},
        )
        refused.append(response.status_code)

    writer = context.audit_writer
    seq_before, collapsed_before = writer._next_seq, collapsed()
    with context.audit._lock:
        attackers = [threading.Thread(target=attack) for _ in range(60)]
        for thread in attackers:
            thread.start()
        # Every refusal has reached the writer's queue (as its own entry or counted in one).
        _until(lambda: writer._next_seq - seq_before + collapsed() - collapsed_before == 60)
        answer: list[int] = []
        reader = threading.Thread(
            target=lambda: answer.append(env.client.get("/api/v1/users", headers=admin).status_code)
        )
        reader.start()
        reader.join(15)
        assert answer == [200]
    for thread in attackers:
        thread.join(30)
    assert refused == [403] * 60
    with context.sessions.system("test") as db:
        rows = list(
            db.scalars(
                select(AuditRecord).where(
                    AuditRecord.path == "/api/v1/users", AuditRecord.status_code == 403
                )
            )
        )
        total = db.scalar(select(func.count(AuditRecord.id)))
    assert len(rows) <= 2 and sum((r.details or {}).get("repeated", 1) for r in rows) == 60
    assert total is not None and total < 60
    assert context.audit.verify().intact
