"""Backups: full and incremental, taken by the running server while ingest goes on, verified
(a flipped byte is refused) and restored into fresh folders as of each point."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.cli.conftest import Result
from tests.conftest import Env
from tests.support import ADMIN_PASSWORD
from watchkeeper.backup.manifest import BackupError, read_manifest
from watchkeeper.backup.restore import restore_backup, verify_backup
from watchkeeper.backup.worker import BackupWorker
from watchkeeper.config import Settings
from watchkeeper.domain.series import Matcher, MatchOp, SeriesSamples
from watchkeeper.store.embedded.store import EmbeddedStore

ALL = [Matcher("__name__", MatchOp.EQUAL, "m")]
T0 = (int(time.time()) - 86_400) * 1000  # within the retention of the `env` clock


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only here (PostgreSQL backups go through pg_dump; see test_backup_postgres)."""
    return f"sqlite:///{tmp_path / 'meta.db'}"


def batch(first: int, count: int, series: int = 3) -> list[SeriesSamples]:
    ts = np.arange(T0 + first * 1000, T0 + (first + count) * 1000, 1000, dtype=np.int64)
    return [
        SeriesSamples(
            (("__name__", "m"), ("i", str(i))), ts, (ts - T0).astype(np.float64) / 1000 + i
        )
        for i in range(series)
    ]


def samples_of(store: EmbeddedStore, tenant: str) -> dict[str, list[tuple[int, float]]]:
    return {
        dict(s.labels)["i"]: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
        for s in store.select(tenant, ALL, 0, 2**62)
    }


def opened(data_dir: Path) -> EmbeddedStore:
    return EmbeddedStore(data_dir / "metrics", background_compaction=False)


def usernames(data_dir: Path) -> set[str]:
    with sqlite3.connect(data_dir / "watchkeeper.db") as db:
        return {row[0] for row in db.execute("SELECT username FROM users")}


def post_backup(env: Env, root: dict[str, str], **body: object) -> Path:
    response = env.client.post("/admin/backup", headers=root, json=body)
    assert response.status_code == 200, response.text
    return Path(response.json()["folder"])


def add_user(env: Env, root: dict[str, str], name: str) -> None:
    response = env.client.post(
        "/api/v1/users",
        headers=root,
        json={"username": name, "password": ADMIN_PASSWORD, "role": "viewer"},
    )
    assert response.status_code == 201, response.text


def test_full_then_incremental_restore_each_point(
    env: Env, root: dict[str, str], tmp_path: Path
) -> None:
    store = env.context.store
    assert isinstance(store, EmbeddedStore)
    tenant = env.context.tenants.id_of("default")
    store.append(tenant, batch(0, 100))
    store.flush()  # block 1
    store.append(tenant, batch(100, 50))  # in the WAL only
    add_user(env, root, "alice")
    as_of_full = samples_of(store, tenant)
    full = post_backup(env, root, to="nightly")

    store.append(tenant, batch(150, 100))
    store.flush()  # block 2
    store.append(tenant, batch(250, 10))
    add_user(env, root, "bob")
    as_of_incremental = samples_of(store, tenant)
    incremental = post_backup(env, root, to="nightly", incremental=True)

    manifest = read_manifest(incremental)
    assert manifest.kind == "incremental" and manifest.base == full.name
    assert manifest.store is not None
    holders = [b.held_by for b in manifest.store.blocks]
    assert holders == [full.name, incremental.name]  # the first block is not copied again
    assert len(list((incremental / "store" / "blocks").iterdir())) == 1
    assert {f["path"] for f in json.loads((full / "manifest.json").read_text())["files"]} >= {
        "metadata/watchkeeper.db",
        "extras/watchkeeper.yaml",
    }

    for folder, expected, users in (
        (full, as_of_full, {"alice"}),
        (incremental, as_of_incremental, {"alice", "bob"}),
    ):
        target = tmp_path / f"restored-{folder.name}"
        report = restore_backup(folder, target)
        assert report.series is not None and report.series >= 3
        assert (target / "watchkeeper.yaml").exists()
        assert users <= usernames(target) and not ({"alice", "bob"} - users) & usernames(target)
        restored = opened(target)
        try:
            assert samples_of(restored, tenant) == expected
        finally:
            restored.close()
    assert len(as_of_full["0"]) == 150 and len(as_of_incremental["0"]) == 260


def test_backup_while_appending_has_no_torn_data(
    env: Env, root: dict[str, str], tmp_path: Path
) -> None:
    """A thread keeps appending (and the head keeps being compacted) during the backups:
    every restored sample is one that was appended, per series a prefix of what was."""
    store = env.context.store
    assert isinstance(store, EmbeddedStore)
    tenant = env.context.tenants.id_of("default")
    stop = threading.Event()
    written = {"n": 0}

    def keep_appending() -> None:
        while not stop.is_set():
            store.append(tenant, batch(written["n"], 20, series=5))
            written["n"] += 20
            if written["n"] % 400 == 0:
                store.flush()

    thread = threading.Thread(target=keep_appending)
    thread.start()
    try:
        folders = [post_backup(env, root, to="live", incremental=i > 0) for i in range(3)]
    finally:
        stop.set()
        thread.join()
    assert written["n"] > 0
    for folder in folders:
        target = tmp_path / f"r-{folder.name}"
        restore_backup(folder, target)
        restored = opened(target)
        try:
            got = samples_of(restored, tenant)
        finally:
            restored.close()
        for i, rows in got.items():
            count = len(rows)
            assert count % 20 == 0  # whole appends only
            expected = [(T0 + k * 1000, k + int(i)) for k in range(count)]
            assert rows == [(t, float(v)) for t, v in expected]


def test_a_flipped_byte_is_refused(
    env: Env, root: dict[str, str], tmp_path: Path, run: Callable[..., Result]
) -> None:
    store = env.context.store
    tenant = env.context.tenants.id_of("default")
    store.append(tenant, batch(0, 50))
    assert isinstance(store, EmbeddedStore)
    store.flush()
    folder = post_backup(env, root)
    assert (verify_backup(folder).series or 0) >= 3
    good = run("backup", "verify", str(folder))
    assert "verified" in good.stdout

    block = next((folder / "store" / "blocks").iterdir())
    victim = next(p for p in sorted(block.rglob("*.zst")))
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="sha256"):
        verify_backup(folder)
    bad = run("backup", "verify", str(folder), check=False)
    assert bad.returncode == 1
    assert "NOT usable" in bad.stderr and "fails its sha256 check" in bad.stderr
    with pytest.raises(BackupError, match="sha256"):
        restore_backup(folder, tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_incomplete_backup_and_non_empty_target_are_refused(
    env: Env, root: dict[str, str], tmp_path: Path
) -> None:
    folder = post_backup(env, root)
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "something").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(folder, occupied)
    restore_backup(folder, occupied, force=True)
    assert (occupied / "watchkeeper.db").exists()
    (folder / "manifest.json").unlink()
    with pytest.raises(BackupError, match=r"no manifest\.json"):
        verify_backup(folder)


def test_backup_endpoint_is_superadmin_only_and_stays_in_its_folder(
    env: Env, root: dict[str, str], acme: object
) -> None:
    from tests.conftest import TenantFixture

    assert isinstance(acme, TenantFixture)
    denied = env.client.post("/admin/backup", headers=acme.admin, json={})
    assert denied.status_code == 403
    for escape in ("../elsewhere", "/tmp/elsewhere", "a/../../x", "a\x00b", "x" * 300):
        response = env.client.post("/admin/backup", headers=root, json={"to": escape})
        assert response.status_code == 422, response.text
        assert "backup folder" in response.text or "pattern" in response.text
    for shipped in ("wal", "wal/nightly", "x/../wal"):
        response = env.client.post("/admin/backup", headers=root, json={"to": shipped})
        assert response.status_code == 422, response.text
        assert "shipped WAL" in response.text


def test_worker_takes_incrementals_and_prunes(env: Env, tmp_path: Path) -> None:
    store = env.context.store
    assert isinstance(store, EmbeddedStore)
    tenant = env.context.tenants.id_of("default")
    settings = Settings.model_validate(
        {
            **env.context.settings.model_dump(),
            "backup": {"enabled": True, "keep": 2, "folder": str(tmp_path / "auto")},
        }
    )
    worker = BackupWorker(env.clock, settings, store)
    kinds = []
    for day in range(5):
        store.append(tenant, batch(day * 10, 10))
        store.flush()
        folder = worker.run_once()
        assert folder is not None
        kinds.append(read_manifest(folder).kind)
        assert worker.run_once() is None  # not due again within the interval
        env.clock.advance(24 * 3600)
    assert kinds == ["full", "incremental", "full", "incremental", "full"]
    left = sorted(p.name for p in (tmp_path / "auto").iterdir())
    # newest 2 kept (full #5 and incremental #4) plus the full #3 that #4 builds on
    assert len(left) == 3
    assert (verify_backup(tmp_path / "auto" / left[-2]).series or 0) >= 3


def test_cli_create_refuses_a_store_held_by_the_server_and_works_when_stopped(
    tmp_path: Path, data_dir: Path, run: Callable[..., Result]
) -> None:
    config = str(data_dir / "watchkeeper.yaml")
    store = EmbeddedStore(data_dir / "metrics", background_compaction=False)
    store.append("t", batch(0, 10))
    held = run("backup", "create", "--to", str(tmp_path / "b"), "-c", config, check=False)
    assert held.returncode == 1 and "--via" in held.stderr
    store.close()
    made = run("backup", "create", "--to", str(tmp_path / "b"), "-c", config)
    assert "full backup" in made.stdout
    (folder,) = (tmp_path / "b").iterdir()
    restored = run("backup", "restore", str(folder), "--to", str(tmp_path / "r"), "-c", config)
    assert "restored" in restored.stdout
    again = run(
        "backup", "restore", str(folder), "--to", str(tmp_path / "r"), "-c", config, check=False
    )
    assert again.returncode == 1 and "--force" in again.stderr
    reopened = EmbeddedStore(tmp_path / "r" / "metrics", background_compaction=False)
    try:
        assert reopened.series_count("t") == 3
    finally:
        reopened.close()


def test_snapshot_holds_off_retention_and_compaction_but_not_appends(tmp_path: Path) -> None:
    """While a backup copies, retention may hide samples but deletes no block folder, and
    appends are accepted (they go into the head, past the reported WAL lengths). Background
    compaction, as in the server: a store without it compacts inside `append`, which then
    waits for the backup."""
    store = EmbeddedStore(tmp_path / "s")
    try:
        store.append("t", batch(0, 10))
        store.flush()
        with store.backup_snapshot() as snapshot:
            (block,) = snapshot.blocks
            lengths = dict(snapshot.wal_segments)
            retention = threading.Thread(target=store.delete_before, args=(T0 + 10**9,))
            retention.start()
            retention.join(timeout=0.2)
            assert retention.is_alive()  # waiting for the backup to finish
            assert block.is_dir()
            store.append("t", batch(10**6, 5))  # appends go on
            assert {
                n: (tmp_path / "s" / "wal" / f"{n:08d}").stat().st_size for n in lengths
            } != lengths
        retention.join(timeout=10)
        assert not retention.is_alive() and not block.exists()
    finally:
        store.close()


def test_worker_is_built_only_when_enabled_and_runs_under_a_lease(env: Env) -> None:
    from dataclasses import replace

    from watchkeeper.runtime.lease import Exclusive
    from watchkeeper.wiring import build_workers

    settings = env.context.settings
    assert all(w.name != "backup" for w in build_workers(replace(env.context)))
    enabled = settings.model_copy(
        update={"backup": settings.backup.model_copy(update={"enabled": True})}
    )
    (worker,) = [
        w for w in build_workers(replace(env.context, settings=enabled)) if w.name == "backup"
    ]
    assert isinstance(worker, Exclusive) and isinstance(worker.worker, BackupWorker)


def test_restore_refuses_the_data_folder_of_a_running_server(
    env: Env, root: dict[str, str]
) -> None:
    folder = post_backup(env, root)
    with pytest.raises(BackupError, match="running server"):
        restore_backup(folder, env.data_dir, force=True)
    assert (env.data_dir / "metrics" / "blocks").is_dir()
