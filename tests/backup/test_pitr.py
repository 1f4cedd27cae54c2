"""Point-in-time restore of the SQLite metadata: WAL shipped while users are added through the
API at t1, t2, t3 (the injected clock stamps the segments), restored `--at` between them."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from tests.backup.test_backup import add_user, post_backup, usernames
from tests.cli.conftest import Result
from tests.conftest import Env
from watchkeeper.backup.manifest import BackupError
from watchkeeper.backup.pitr import iso, replay_generation, restore_at
from watchkeeper.backup.restore import verify_backup
from watchkeeper.backup.segments import (
    generations_in,
    prune_generations,
    segments_of,
    shipped_through,
)
from watchkeeper.backup.walformat import read_header
from watchkeeper.backup.walship import WalShipper
from watchkeeper.clock import ManualClock
from watchkeeper.config import sqlite_path


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'meta.db'}"


def shipper_of(env: Env) -> WalShipper:
    settings = env.context.settings
    database = sqlite_path(settings.effective_database_url)
    assert database is not None
    return WalShipper(database, settings.effective_backup_path / "wal", env.clock)


def added_then_shipped(env: Env, root: dict[str, str], shipper: WalShipper, name: str) -> float:
    """Add a user 10 s on, ship 1 s later; the time of that ship."""
    env.clock.advance(10)
    add_user(env, root, name)
    env.clock.advance(1)
    assert shipper.ship_once() > 0
    return env.clock.time()


def test_restore_at_each_point_follows_the_shippers_own_wal_restart(
    env: Env, root: dict[str, str], tmp_path: Path, run: Callable[..., Result]
) -> None:
    backups = env.context.settings.effective_backup_path
    post_backup(env, root)
    t0 = env.clock.time()
    shipper = shipper_of(env)
    try:
        shipper.ship_once()  # the first generation, based on a snapshot
        t1 = added_then_shipped(env, root, shipper, "alice")
        t2 = added_then_shipped(env, root, shipper, "bob")
        salt = read_header(shipper.wal)
        assert shipper.checkpoint()  # everything shipped, checkpointed, the WAL restarted
        assert read_header(shipper.wal) != salt
        t3 = added_then_shipped(env, root, shipper, "carol")
    finally:
        shipper.close()
    assert shipper.generations_started == 1  # the restart it made did not break the chain

    for at, expected in ((t0 + 5, set()), (t2 - 1, {"alice"}), (t3, {"alice", "bob", "carol"})):
        target = tmp_path / f"at-{at}"
        _, point = restore_at(backups, at, target)
        assert point.generation is not None
        assert usernames(target) - {"admin"} == expected
    assert t1 < t2 - 1

    cli = run(
        "backup",
        "restore",
        str(backups),
        "--at",
        iso(t2),
        "--to",
        str(tmp_path / "cli"),
        "-c",
        str(env.config_file),
    )
    assert "backup boundary" in cli.stdout and "integrity_check ok" in cli.stdout
    assert usernames(tmp_path / "cli") - {"admin"} == {"alice", "bob"}

    with pytest.raises(BackupError, match=re.escape(f"newest restorable time is {iso(t3)}")):
        restore_at(backups, t3 + 60, tmp_path / "late")
    with pytest.raises(BackupError, match="before the oldest backup"):
        restore_at(backups, t0 - 60, tmp_path / "early")
    assert not (tmp_path / "late").exists() and not (tmp_path / "early").exists()

    assert shipper.folder is not None
    segments_of(shipper.folder)[1].unlink()
    with pytest.raises(BackupError, match="segment 00000002 is missing"):
        restore_at(backups, t3, tmp_path / "gap")


def test_a_wal_restart_by_someone_else_starts_a_new_generation(
    env: Env, root: dict[str, str], tmp_path: Path
) -> None:
    backups = env.context.settings.effective_backup_path
    post_backup(env, root)
    shipper = shipper_of(env)
    try:
        shipper.ship_once()
        t1 = added_then_shipped(env, root, shipper, "alice")
        with sqlite3.connect(shipper.database) as other:
            other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        env.clock.advance(10)
        add_user(env, root, "bob")
        env.clock.advance(1)
        assert shipper.ship_once() == 0  # the chain is broken: a new base instead
        t2 = env.clock.time()
        assert shipper.generations_started == 2
        env.clock.advance(5)
        shipper.ship_once()
    finally:
        shipper.close()

    _, point = restore_at(backups, t1, tmp_path / "one")
    assert usernames(tmp_path / "one") - {"admin"} == {"alice"}
    _, later = restore_at(backups, t2 + 1, tmp_path / "two")
    assert later.generation != point.generation
    assert usernames(tmp_path / "two") - {"admin"} == {"alice", "bob"}
    with pytest.raises(BackupError, match="no shipped WAL covers"):
        restore_at(backups, t1 + 5, tmp_path / "gap")

    first, second = generations_in(backups / "wal")
    assert prune_generations(backups / "wal", second[1].started_at) == [first[1].id]


def test_a_flipped_byte_in_a_segment_is_refused(
    env: Env, root: dict[str, str], tmp_path: Path, run: Callable[..., Result]
) -> None:
    backups = env.context.settings.effective_backup_path
    backup = post_backup(env, root)
    shipper = shipper_of(env)
    try:
        shipper.ship_once()
        t1 = added_then_shipped(env, root, shipper, "alice")
    finally:
        shipper.close()
    assert verify_backup(backup).wal_segments == 1
    assert assert_cli(run, "backup", "verify", str(backup)).returncode == 0

    assert shipper.folder is not None
    (segment,) = segments_of(shipper.folder)
    data = bytearray(segment.read_bytes())
    data[-100] ^= 0x01
    segment.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="fails its sha256 check"):
        verify_backup(backup)
    refused = run(
        "backup",
        "restore",
        str(backups),
        "--at",
        str(t1),
        "--to",
        str(tmp_path / "never"),
        "-c",
        str(env.config_file),
        check=False,
    )
    assert refused.returncode == 1 and "fails its sha256 check" in refused.stderr
    assert not (tmp_path / "never").exists()


def assert_cli(run: Callable[..., Result], *args: str) -> Result:
    result = run(*args)
    assert "shipped WAL segments=1" in result.stdout
    return result


def test_a_torn_tail_is_not_shipped(tmp_path: Path) -> None:
    database = tmp_path / "m.db"
    app = sqlite3.connect(database, isolation_level=None)
    app.execute("PRAGMA journal_mode=WAL")
    app.execute("PRAGMA wal_autocheckpoint=0")
    app.execute("CREATE TABLE t (x TEXT)")
    shipper = WalShipper(database, tmp_path / "b" / "wal", ManualClock())
    try:
        shipper.ship_once()
        app.execute("INSERT INTO t VALUES (?)", ("x" * 3000,))
        wal = shipper.wal
        whole = wal.read_bytes()
        with wal.open("r+b") as file:
            file.truncate(len(whole) - 100)  # the commit frame cut short
        assert shipper.ship_once() == 0
        assert shipper.folder is not None and segments_of(shipper.folder) == []
        wal.write_bytes(whole[:-100] + bytes(b ^ 0xFF for b in whole[-100:]))  # bad checksum
        assert shipper.ship_once() == 0
        wal.write_bytes(whole)
        assert shipper.ship_once() > 0
        (segment,) = segments_of(shipper.folder)
    finally:
        shipper.close()
        app.close()
    generation = generations_in(tmp_path / "b" / "wal")[0]
    assert segment.parent == generation[0]


def test_shipping_setting_turns_off_auto_checkpoint_and_builds_the_worker(env: Env) -> None:
    from dataclasses import replace

    from watchkeeper.backup.walship import WalShipWorker
    from watchkeeper.db.engine import build_engine
    from watchkeeper.runtime.lease import Exclusive
    from watchkeeper.wiring import build_workers

    settings = env.context.settings
    shipping = settings.model_copy(
        update={"backup": settings.backup.model_copy(update={"wal_shipping": True})}
    )
    engine = build_engine(shipping)
    try:
        with engine.connect() as db:
            assert db.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        workers = build_workers(replace(env.context, settings=shipping, engine=engine))
    finally:
        engine.dispose()
    (worker,) = [w for w in workers if w.name == "wal-shipper"]
    assert isinstance(worker, Exclusive) and isinstance(worker.worker, WalShipWorker)
    with env.context.engine.connect() as db:
        assert db.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    # Turned on at run time: the running app's connections still checkpoint, so not yet.
    for context in (replace(env.context), replace(env.context, settings=shipping)):
        assert all(w.name != "wal-shipper" for w in build_workers(context))


@pytest.fixture
def shipping_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """`backup.wal_shipping` for the `env` app (requested before `env`)."""
    monkeypatch.setenv("WATCHKEEPER_BACKUP__WAL_SHIPPING", "true")


def newest_shipped(backups: Path) -> float:
    generations = generations_in(backups / "wal")
    return shipped_through(*generations[-1]) if generations else 0.0


@pytest.mark.workers
def test_the_servers_shipper_ships_as_its_clock_ticks(
    shipping_on: None, env: Env, root: dict[str, str], tmp_path: Path
) -> None:
    backups = env.context.settings.effective_backup_path
    with env.context.engine.connect() as db:
        assert db.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    post_backup(env, root)
    for name in ("alice", "bob"):  # alice may land in a new base (after the backup), bob not
        add_user(env, root, name)
        env.clock.advance(1)
        target = env.clock.time()
        # A poll, not a wait for a duration: it ends at the first ship at or after `target`.
        # A pass still running when the clock moved (the first one after a backup snapshots
        # the whole database) sleeps until the next tick, so the clock keeps ticking here.
        deadline = time.monotonic() + 30
        while newest_shipped(backups) < target and time.monotonic() < deadline:
            time.sleep(0.25)
            env.clock.advance(1)
        assert newest_shipped(backups) >= target, "the worker did not ship in 30 s"
    _, point = restore_at(backups, target, tmp_path / "restored")
    assert point.segments >= 1
    assert {"alice", "bob"} <= usernames(tmp_path / "restored")


def test_repeated_own_checkpoints_keep_one_chain_and_replay_exactly(tmp_path: Path) -> None:
    database = tmp_path / "m.db"
    app = sqlite3.connect(database, isolation_level=None)
    app.execute("PRAGMA journal_mode=WAL")
    app.execute("PRAGMA wal_autocheckpoint=0")
    app.execute("CREATE TABLE t (x INTEGER)")
    clock = ManualClock()
    shipper = WalShipper(database, tmp_path / "b" / "wal", clock, checkpoint_frames=1)
    salts = set()
    try:
        shipper.ship_once()
        for round_ in range(4):
            app.executemany("INSERT INTO t VALUES (?)", [(round_,)] * 200)
            clock.advance(1)
            assert shipper.run_once() > 0  # ships, then checkpoints and restarts the WAL
            header = read_header(shipper.wal)
            assert header is not None
            salts.add(header.salt)
    finally:
        shipper.close()
        app.close()
    assert len(salts) == 4 and shipper.generations_started == 1
    folder, generation = generations_in(tmp_path / "b" / "wal")[0]
    for round_ in range(4):
        target = tmp_path / f"r{round_}.db"
        replay_generation(folder, generation, clock.time() - 3 + round_, target)
        with closing(sqlite3.connect(target)) as db:
            assert db.execute("SELECT count(*), max(x) FROM t").fetchone() == (
                200 * (round_ + 1),
                round_,
            )
