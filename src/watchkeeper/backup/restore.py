"""`verify_backup` and `restore_backup`.

Verification checks every file of the backup and of the bases it takes blocks from against
the manifests' sizes and sha256, then restores into a temporary folder and opens the result:
a query on the users table of the metadata, and the embedded store opened and its series
counted; the WAL segments shipped beside it (`<backups folder>/wal`) are checked too. Restore
verifies first and refuses a corrupt or incomplete backup.

A restore lays out a data folder: `watchkeeper.db` (SQLite) or the PostgreSQL database named
by the settings (pg_restore --clean), `metrics/` (the store), and the config file and audit
checkpoint file the backup holds. An incremental backup is restored with its chain: the
blocks come from whichever backup of the chain holds them, the series log and WAL from the
newest.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from watchkeeper.backup.create import libpq_url, run_tool
from watchkeeper.backup.manifest import BackupError, Manifest, chain, sha256_of
from watchkeeper.backup.segments import SHIPPED_WAL_FOLDER, verify_wal
from watchkeeper.store.embedded.store import EmbeddedStore


@dataclass(frozen=True)
class VerifyReport:
    backup_id: str
    kind: str
    files: int
    bytes: int
    users: int | None
    series: int | None
    wal_segments: int | None = None
    """Shipped WAL segments checked beside the backup (None: no WAL shipping there)."""


def check_files(folder: Path) -> tuple[list[tuple[Path, Manifest]], int, int]:
    """Checksums of the backup and its chain; raises BackupError at the first mismatch."""
    links = chain(folder)
    files = size = 0
    for path, manifest in links:
        for entry in manifest.files:
            target = path / entry.path
            if not target.is_file():
                raise BackupError(f"backup {manifest.id}: {entry.path} is missing")
            actual = target.stat().st_size
            if actual != entry.size:
                raise BackupError(
                    f"backup {manifest.id}: {entry.path} has {actual} bytes, "
                    f"the manifest says {entry.size}"
                )
            if sha256_of(target) != entry.sha256:
                raise BackupError(f"backup {manifest.id}: {entry.path} fails its sha256 check")
            files += 1
            size += entry.size
    return links, files, size


def verify_backup(folder: Path) -> VerifyReport:
    links, files, size = check_files(folder)
    manifest = links[-1][1]
    with tempfile.TemporaryDirectory(prefix="watchkeeper-verify-") as tmp:
        target = Path(tmp)
        _lay_out(links, target)
        users = None
        if manifest.metadata["backend"] == "sqlite":
            users = _count_users(target / "watchkeeper.db")
        else:
            dump = links[-1][0] / manifest.metadata["file"]
            run_tool(["pg_restore", "--list", str(dump)])
        series = _count_series(target / "metrics") if manifest.store is not None else None
    wal = folder.parent / SHIPPED_WAL_FOLDER
    segments = verify_wal(wal) if wal.is_dir() else None
    return VerifyReport(manifest.id, manifest.kind, files, size, users, series, segments)


def _count_users(path: Path) -> int:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return int(db.execute("SELECT count(*) FROM users").fetchone()[0])
    except sqlite3.Error as exc:
        raise BackupError(f"the metadata copy does not open: {exc}") from None


def _count_series(path: Path) -> int:
    try:
        store = EmbeddedStore(path, background_compaction=False)
    except Exception as exc:
        raise BackupError(f"the metric store copy does not open: {exc}") from None
    try:
        return sum(store.series_count(t) for t in store.tenant_ids())
    finally:
        store.close()


def _lay_out(links: list[tuple[Path, Manifest]], data_dir: Path) -> None:
    """Write the newest backup of `links` (with blocks from its bases) as a data folder;
    the metadata only as a SQLite file (PostgreSQL is restored by `restore_backup`)."""
    folder, manifest = links[-1]
    holders = {m.id: p for p, m in links}
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if manifest.metadata["backend"] == "sqlite":
        shutil.copy2(folder / manifest.metadata["file"], data_dir / "watchkeeper.db")
    if manifest.store is not None:
        store = data_dir / "metrics"
        (store / "blocks").mkdir(parents=True)
        (store / "wal").mkdir()
        for block in manifest.store.blocks:
            name = f"{block.number:08d}"
            source = holders.get(block.held_by)
            if source is None or not (source / "store" / "blocks" / name).is_dir():
                raise BackupError(
                    f"backup {manifest.id}: block {name} should be in backup {block.held_by}, "
                    "which is not in its chain"
                )
            shutil.copytree(source / "store" / "blocks" / name, store / "blocks" / name)
        if (folder / "store" / "series.jsonl").exists():
            shutil.copy2(folder / "store" / "series.jsonl", store / "series.jsonl")
        for name in manifest.store.wal:
            shutil.copy2(folder / "store" / "wal" / name, store / "wal" / name)
        if manifest.store.cutoff_ms is not None:
            (store / "retention.json").write_text(
                json.dumps({"cutoff_ms": manifest.store.cutoff_ms})
            )
    for name in manifest.extras:
        shutil.copy2(folder / "extras" / name, data_dir / name)


def _refuse_a_running_server(store: Path) -> None:
    """A server (or another command) holding the store's LOCK file would see its files
    replaced under it: refuse instead."""
    lock = store / "LOCK"
    if not lock.exists():
        return
    with lock.open("a") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"{store} is open in a running server: stop it before restoring"
            ) from None
        fcntl.flock(file, fcntl.LOCK_UN)


def restore_backup(
    folder: Path, data_dir: Path, *, force: bool = False, database_url: str | None = None
) -> VerifyReport:
    """Verify, then restore into `data_dir` (refused when it is not empty, unless `force`).

    A PostgreSQL dump is restored into `database_url` (the settings' database) with
    `pg_restore --clean --if-exists`."""
    report = verify_backup(folder)
    if data_dir.exists() and any(data_dir.iterdir()):
        if not force:
            raise BackupError(
                f"{data_dir} is not empty: restore into an empty folder, or pass --force "
                "to replace its database, metrics, config and audit checkpoint"
            )
        _refuse_a_running_server(data_dir / "metrics")
    links = chain(folder)
    manifest = links[-1][1]
    if force:
        if manifest.metadata["backend"] == "sqlite":
            for name in ("watchkeeper.db", "watchkeeper.db-wal", "watchkeeper.db-shm"):
                (data_dir / name).unlink(missing_ok=True)
        if manifest.store is not None:
            shutil.rmtree(data_dir / "metrics", ignore_errors=True)
    _lay_out(links, data_dir)
    if manifest.metadata["backend"] == "postgresql":
        if database_url is None or not database_url.startswith("postgresql"):
            raise BackupError("this backup holds a PostgreSQL dump: configure database_url")
        dsn, _ = libpq_url(database_url)
        dump = folder / manifest.metadata["file"]
        run_tool(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={dsn}", str(dump)]
        )
    return report


__all__ = ["VerifyReport", "check_files", "restore_backup", "verify_backup"]
