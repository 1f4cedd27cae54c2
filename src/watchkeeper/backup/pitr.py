"""`restore_at`: point-in-time restore from a backups folder.

The metric store, config and audit checkpoint come from the newest backup taken at or before
the time (a backup boundary: the store has no finer history). The SQLite metadata comes from
the shipped WAL generation covering the time: its base snapshot, then the frames of every
segment shipped at or before the time, each page written at offset (page - 1) * page size
and the file cut to the size the last commit names; `PRAGMA integrity_check` must then say
ok. Anything that would give a different database than the one at that time (a missing or
corrupt segment, a broken frame checksum chain, a time no generation covers) is refused.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from watchkeeper.backup.manifest import BackupError, Manifest, backups_in, read_manifest
from watchkeeper.backup.restore import VerifyReport, restore_backup
from watchkeeper.backup.segments import (
    BASE,
    SHIPPED_WAL_FOLDER,
    Generation,
    generations_in,
    read_segment,
    segments_of,
    shipped_through,
)
from watchkeeper.backup.walformat import committed_frames, frames

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PointInTime:
    at: float
    backup_id: str
    backup_created_at: float
    generation: str | None
    """The WAL generation the metadata was replayed from (None: the backup's metadata)."""
    segments: int


def iso(at: float) -> str:
    """RFC 3339 to the microsecond, rounded as `_whole_microseconds` rounds."""
    return (_EPOCH + timedelta(microseconds=round(at * 1_000_000))).isoformat()


def restore_at(
    backups: Path,
    at: float,
    data_dir: Path,
    *,
    force: bool = False,
    database_url: str | None = None,
) -> tuple[VerifyReport, PointInTime]:
    at = _whole_microseconds(at)  # the precision times are printed with, so one read back fits
    folder, manifest, created = _backup_at(backups, at)
    generations = generations_in(backups / SHIPPED_WAL_FOLDER)
    replay = generations and manifest.metadata["backend"] == "sqlite"
    with tempfile.TemporaryDirectory(prefix="watchkeeper-pitr-") as tmp:
        database, generation, used = None, None, 0
        if replay:
            gen_folder, generation = _generation_at(backups / SHIPPED_WAL_FOLDER, generations, at)
            database = Path(tmp) / "watchkeeper.db"
            used = replay_generation(gen_folder, generation, at, database)
        report = restore_backup(folder, data_dir, force=force, database_url=database_url)
        if database is not None:
            for name in ("watchkeeper.db-wal", "watchkeeper.db-shm"):
                (data_dir / name).unlink(missing_ok=True)
            shutil.move(database, data_dir / "watchkeeper.db")
    point = PointInTime(at, manifest.id, created, generation.id if generation else None, used)
    return report, point


def _backup_at(backups: Path, at: float) -> tuple[Path, Manifest, float]:
    found = [(p, m, _time(m)) for p in backups_in(backups) for m in [read_manifest(p)]]
    if not found:
        raise BackupError(f"{backups} holds no finished backup")
    if at < found[0][2]:
        raise BackupError(
            f"{iso(at)} is before the oldest backup ({found[0][1].id}, {iso(found[0][2])})"
        )
    return [f for f in found if f[2] <= at][-1]


def _whole_microseconds(at: float) -> float:
    return round(at * 1_000_000) / 1_000_000


def _time(manifest: Manifest) -> float:
    return datetime.fromisoformat(manifest.created_at).timestamp()


def _generation_at(
    root: Path, generations: list[tuple[Path, Generation]], at: float
) -> tuple[Path, Generation]:
    spans = [
        (p, g, _whole_microseconds(g.started_at), _whole_microseconds(shipped_through(p, g)))
        for p, g in generations
    ]
    for folder, generation, start, end in reversed(spans):
        if start <= at <= end:
            return folder, generation
    newest = max(end for *_, end in spans)
    if at > newest:
        raise BackupError(
            f"{iso(at)} is after the last shipped WAL: the newest restorable time is {iso(newest)}"
        )
    covered = ", ".join(f"{iso(start)} to {iso(end)}" for *_, start, end in spans)
    raise BackupError(
        f"no shipped WAL covers {iso(at)} (a gap: the server was down or the WAL chain broke); "
        f"shipped WAL in {root} covers {covered}"
    )


def replay_generation(folder: Path, generation: Generation, at: float, target: Path) -> int:
    """Write the metadata database as of `at` to `target`; the number of segments replayed."""
    base = folder / BASE
    if not base.is_file():
        raise BackupError(f"WAL generation {generation.id}: {BASE} is missing")
    shutil.copyfile(base, target)
    salt = tuple(generation.salt) if generation.salt else None
    next_frame, seed = generation.frame + 1, (generation.seed[0], generation.seed[1])
    used, db_pages, page_size = 0, 0, _page_size(target)
    with target.open("r+b") as db:
        for expected, path in enumerate(segments_of(folder), start=1):
            if _whole_microseconds(read_segment(path, body=False).shipped_at) > at:
                break
            if int(path.stem) != expected:
                raise BackupError(
                    f"WAL generation {generation.id}: segment {expected:08d} is missing (a gap)"
                )
            segment = read_segment(path)
            if segment.header.page_size != page_size:
                raise BackupError(f"WAL segment {path} has another page size than its base")
            if segment.header.salt != salt:
                if segment.first != 1:
                    raise BackupError(f"WAL segment {path} does not start its WAL (a gap)")
                salt, next_frame, seed = segment.header.salt, 1, segment.header.checksum
            if segment.first != next_frame:
                raise BackupError(
                    f"WAL segment {path} starts at frame {segment.first}, expected {next_frame}"
                )
            checked = committed_frames(segment.body, segment.header, segment.first, seed)
            if checked.count != segment.count:
                raise BackupError(f"WAL segment {path} fails its frame checksums")
            for pgno, size, page in frames(segment.body, page_size):
                db.seek((pgno - 1) * page_size)
                db.write(page)
                if size:
                    db_pages = size
            next_frame, seed, used = next_frame + segment.count, checked.seed, used + 1
        if db_pages:
            db.truncate(db_pages * page_size)
    _check_integrity(target)
    return used


def _page_size(path: Path) -> int:
    with path.open("rb") as file:
        raw = file.read(18)
    size = int.from_bytes(raw[16:18], "big")
    return 65536 if size == 1 else size


def _check_integrity(path: Path) -> None:
    try:
        with closing(sqlite3.connect(path)) as db:
            rows = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.Error as exc:
        raise BackupError(f"the replayed metadata does not open: {exc}") from None
    if rows != ["ok"]:
        raise BackupError(f"the replayed metadata fails PRAGMA integrity_check: {rows[:3]}")


__all__ = ["PointInTime", "replay_generation", "restore_at"]
