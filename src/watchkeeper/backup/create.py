"""`create_backup`: metadata (SQLite online backup or pg_dump) plus the embedded store.

The store copy needs the store's cooperation (`EmbeddedStore.backup_snapshot`): while it is
held no block is written, merged or deleted and no WAL segment disappears, and it reports the
block folders, the series log length and each WAL segment's length, taken between two whole
records. Copying exactly those bytes gives a store that opens as the store was at the
snapshot: blocks are immutable, the series log and the WAL only grow, and the WAL lengths are
record boundaries. Appends go on meanwhile; they land past the copied lengths.

An incremental backup copies only the blocks its base does not hold (same block id from
`meta.json`); the series log and the WAL are copied whole each time (they are small: the WAL
holds at most one head of samples). The metadata is always copied whole.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import threading
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from sqlalchemy import create_engine

from watchkeeper.backup.manifest import (
    BackupError,
    BlockEntry,
    Manifest,
    StoreEntry,
    backups_in,
    list_files,
    read_manifest,
    write_manifest,
)
from watchkeeper.clock import Clock
from watchkeeper.config import Settings, sqlite_path
from watchkeeper.db.engine import normalise_url
from watchkeeper.db.migrate import current_revision
from watchkeeper.store.embedded.store import EmbeddedStore, StoreSnapshot

SQLITE_FILE = "metadata/watchkeeper.db"
PG_DUMP_FILE = "metadata/metadata.pgdump"
_ONE_AT_A_TIME = threading.Lock()  # the worker and the API endpoint take turns


@dataclass(frozen=True)
class Sources:
    """What to back up: the settings (database URL, data folder), the open store if any
    (None: metadata only) and the config file if there is one."""

    settings: Settings
    store: EmbeddedStore | None
    config_file: Path | None = None


def create_backup(
    sources: Sources, to: Path, clock: Clock, *, incremental: bool = False
) -> tuple[Path, Manifest]:
    """Write one backup into the backups folder `to`; returns its folder and manifest.

    With `incremental`, the newest finished backup in `to` that has a store copy is the base
    (a full backup is made when there is none)."""
    with _ONE_AT_A_TIME:
        return _create(sources, to, clock, incremental)


def _create(sources: Sources, to: Path, clock: Clock, incremental: bool) -> tuple[Path, Manifest]:
    # Backups hold the config (secrets) and password hashes: owner-only, like the data folder.
    to.mkdir(parents=True, exist_ok=True, mode=0o700)
    base = _base(to) if incremental and sources.store is not None else None
    backup_id = _new_id(to, clock)
    work = to / f"{backup_id}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(mode=0o700)
    try:
        settings = sources.settings
        metadata = _backup_metadata(settings, work)
        store_entry = None
        if sources.store is not None:
            store_entry = _backup_store(sources.store, work / "store", backup_id, base)
        extras = _backup_extras(sources, work / "extras")
        manifest = Manifest(
            id=backup_id,
            created_at=clock.now().astimezone(UTC).isoformat(),
            kind="incremental" if base is not None else "full",
            base=base.id if base is not None else None,
            schema_revision=_schema_revision(settings, work),
            metadata=metadata,
            store=store_entry,
            extras=extras,
            files=list_files(work),
        )
        write_manifest(work, manifest)
        final = to / backup_id
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return final, manifest


def _new_id(to: Path, clock: Clock) -> str:
    stamp = clock.now().astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    candidate, n = stamp, 0
    while (to / candidate).exists() or (to / f"{candidate}.tmp").exists():
        n += 1
        candidate = f"{stamp}-{n}"
    return candidate


def _base(to: Path) -> Manifest | None:
    for folder in reversed(backups_in(to)):
        manifest = read_manifest(folder)
        if manifest.store is not None:
            return manifest
    return None


# -- metadata ------------------------------------------------------------------------------


def _backup_metadata(settings: Settings, work: Path) -> dict[str, str]:
    url = settings.effective_database_url
    source = sqlite_path(url)
    if url.startswith("sqlite"):
        if source is None or not source.exists():
            raise BackupError(f"the SQLite database {source} does not exist")
        target = work / SQLITE_FILE
        target.parent.mkdir(parents=True)
        # The online backup API: a consistent copy while writers go on.
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
        return {"backend": "sqlite", "file": SQLITE_FILE}
    if shutil.which("pg_dump") is None:
        raise BackupError(
            "pg_dump is not on PATH: install the PostgreSQL client tools to back up a "
            "PostgreSQL metadata database"
        )
    dsn, schema = libpq_url(url)
    target = work / PG_DUMP_FILE
    target.parent.mkdir(parents=True)
    command = ["pg_dump", "--format=custom", "--no-owner", f"--file={target}"]
    if schema:
        command.append(f"--schema={schema}")
    run_tool([*command, dsn])
    result = {"backend": "postgresql", "file": PG_DUMP_FILE}
    if schema:
        result["schema"] = schema
    return result


def libpq_url(url: str) -> tuple[str, str | None]:
    """The SQLAlchemy URL as pg_dump/pg_restore take it (no `+driver`), and the schema named
    by a `-csearch_path=` option (then only that schema is dumped)."""
    parts = urlsplit(normalise_url(url))
    scheme = parts.scheme.split("+", 1)[0]
    schema = None
    for option in parse_qs(parts.query).get("options", []):
        for word in option.split():
            if word.startswith("-csearch_path="):
                schema = word.removeprefix("-csearch_path=").split(",")[0]
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, "")), schema


def run_tool(command: list[str]) -> None:
    """Run a PostgreSQL client tool; its error (never the URL: it may hold a password) on
    failure."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BackupError(f"{command[0]} failed: {lines[-1] if lines else done.returncode}")


def _schema_revision(settings: Settings, work: Path) -> str | None:
    copy = work / SQLITE_FILE
    url = f"sqlite:///{copy}" if copy.exists() else normalise_url(settings.effective_database_url)
    engine = create_engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


# -- store ---------------------------------------------------------------------------------


def _backup_store(
    store: EmbeddedStore, target: Path, backup_id: str, base: Manifest | None
) -> StoreEntry:
    held = {b.id: b.held_by for b in base.store.blocks} if base and base.store else {}
    (target / "blocks").mkdir(parents=True)
    (target / "wal").mkdir()
    with store.backup_snapshot() as snapshot:
        blocks = []
        for block_path in snapshot.blocks:
            meta = json.loads((block_path / "meta.json").read_text())
            block_id = str(meta.get("id") or "")
            holder = held.get(block_id) if block_id else None
            if holder is None:
                shutil.copytree(block_path, target / "blocks" / block_path.name)
                holder = backup_id
            blocks.append(BlockEntry(int(block_path.name), block_id, holder))
        _copy_prefix(
            snapshot.path / "series.jsonl", target / "series.jsonl", snapshot.series_log_bytes
        )
        for number, length in snapshot.wal_segments.items():
            name = f"{number:08d}"
            _copy_prefix(snapshot.path / "wal" / name, target / "wal" / name, length)
        return _entry(snapshot, blocks)


def _entry(snapshot: StoreSnapshot, blocks: list[BlockEntry]) -> StoreEntry:
    return StoreEntry(
        blocks=blocks,
        series_log_bytes=snapshot.series_log_bytes,
        wal={f"{n:08d}": length for n, length in snapshot.wal_segments.items()},
        cutoff_ms=snapshot.cutoff_ms,
    )


def _copy_prefix(source: Path, target: Path, length: int) -> None:
    if length == 0 and not source.exists():
        return
    remaining = length
    with source.open("rb") as src, target.open("wb") as dst:
        while remaining:
            chunk = src.read(min(remaining, 1 << 20))
            if not chunk:
                raise BackupError(f"{source} is shorter than its snapshot length {length}")
            dst.write(chunk)
            remaining -= len(chunk)


# -- config and audit checkpoint -----------------------------------------------------------


def _backup_extras(sources: Sources, target: Path) -> list[str]:
    from watchkeeper.audit import CHECKPOINT_FILE

    names = []
    candidates = [sources.config_file, sources.settings.data_dir / CHECKPOINT_FILE]
    for path in candidates:
        if path is not None and path.is_file():
            target.mkdir(exist_ok=True)
            shutil.copy2(path, target / path.name)
            names.append(path.name)
    return names
