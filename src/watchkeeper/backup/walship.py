"""Continuous WAL shipping of the SQLite metadata database (the Litestream design, our code).

Every tick the shipper copies the WAL frames committed since its last tick into a segment of
the current generation (see `segments.py`). Nothing may be checkpointed away before it is
shipped, so the shipper owns checkpoints: with `backup.wal_shipping` on, the app's connections
run with `wal_autocheckpoint=0`, and the shipper checkpoints itself once the WAL holds
`checkpoint_frames` frames, like this:

1. `BEGIN IMMEDIATE` (no writer can commit), ship the rest, `wal_checkpoint(PASSIVE)` on a
   second connection. Only when every frame was copied into the database does it go on.
2. Release, take the write lock again, and make the WAL restart now: a tiny write
   (`PRAGMA user_version` set to itself) by a connection that began reading after the full
   checkpoint starts the WAL over with new salts. The shipper reads the new header at once and
   follows it: the generation goes on, because it saw every frame of the old WAL.

A WAL it did not see restart (a checkpoint by another program, the database closed by its last
connection, a shipper that restarted) breaks the chain: the shipper then starts a new
generation, whose base is a snapshot (SQLite's online backup API, page for page) taken under
the write lock at a known WAL position. A new generation also starts after each new backup,
so the frames to replay stay bounded by the backup interval and retention can delete whole
generations with the backups they follow.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing, suppress
from datetime import UTC, datetime
from pathlib import Path

import anyio
import structlog

from watchkeeper.backup.manifest import BackupError, backups_in, sha256_of
from watchkeeper.backup.segments import (
    BASE,
    SHIPPED_WAL_FOLDER,
    Generation,
    mark_shipped,
    write_generation,
    write_segment,
)
from watchkeeper.backup.walformat import HEADER_SIZE, WalHeader, committed_frames, read_header
from watchkeeper.clock import Clock
from watchkeeper.config import Settings, sqlite_path
from watchkeeper.runtime.files import fsync_path
from watchkeeper.runtime.worker import PeriodicWorker, Placement

log = structlog.get_logger(__name__)


class WalShipper:
    """Ships one SQLite database's WAL into `root` (`<backups folder>/wal`)."""

    def __init__(
        self,
        database: Path,
        root: Path,
        clock: Clock,
        *,
        backups: Path | None = None,
        checkpoint_frames: int = 1000,
    ) -> None:
        self.database = database
        self.wal = database.with_name(database.name + "-wal")
        self.root = root
        self.backups = backups if backups is not None else root.parent
        self.clock = clock
        self.checkpoint_frames = checkpoint_frames
        self.folder: Path | None = None
        self.generation: Generation | None = None
        self.generations_started = 0
        self._salt: tuple[int, int] = (0, 0)
        self._next = 1
        self._seed: tuple[int, int] = (0, 0)
        self._seq = 0
        self._based_after: str | None = None
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None

    # -- connections -----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.database, isolation_level=None, timeout=10, check_same_thread=False
        )
        db.execute("PRAGMA wal_autocheckpoint=0")
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.close()
            raise BackupError(f"{self.database} is not in WAL mode: nothing to ship")
        return db

    def _connections(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        if self._writer is None or self._reader is None:
            self._writer, self._reader = self._connect(), self._connect()
        return self._writer, self._reader

    def close(self) -> None:
        for db in (self._writer, self._reader):
            if db is not None:
                db.close()
        self._writer = self._reader = None

    # -- shipping --------------------------------------------------------------------------

    def run_once(self) -> int:
        """One tick: ship, checkpoint when the WAL is long; returns the frames shipped."""
        shipped = self.ship_once()
        if self.generation is not None and self._next - 1 >= self.checkpoint_frames:
            self.checkpoint()
        return shipped

    def ship_once(self) -> int:
        """Copy the frames committed since the last call into a new segment."""
        if self.folder is None or self._rotation_due():
            self.start_generation()
            return 0
        shipped = self._ship()
        if shipped is None:
            self.start_generation()
            return 0
        return shipped

    def _ship(self) -> int | None:
        """None when the WAL restarted without the shipper (the chain is broken)."""
        assert self.folder is not None
        through = self.clock.time()
        header = read_header(self.wal)
        if header is None or header.salt != self._salt:
            log.warning("wal_shipping_chain_broken", database=str(self.database))
            return None
        with self.wal.open("rb") as file:
            file.seek(HEADER_SIZE + (self._next - 1) * header.frame_size)
            data = file.read()
        committed = committed_frames(data, header, self._next, self._seed)
        if committed.count:
            self._seq += 1
            write_segment(
                self.folder,
                self._seq,
                self.clock.time(),
                header,
                committed.first,
                committed.count,
                committed.data,
            )
            self._next += committed.count
            self._seed = committed.seed
        mark_shipped(self.folder, through)
        return committed.count

    def checkpoint(self) -> bool:
        """Ship everything, checkpoint, restart the WAL; False when readers held the
        checkpoint back (tried again on a later tick) or the chain broke (a new generation)."""
        writer, reader = self._connections()
        writer.execute("BEGIN IMMEDIATE")
        try:
            shipped = self._ship()
            if shipped is not None:
                busy, logged, done = reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            writer.execute("COMMIT")
        if shipped is None:
            self.start_generation()
            return False
        if busy or logged != done or logged != self._next - 1:
            return False
        writer.execute("BEGIN IMMEDIATE")
        try:
            header = read_header(self.wal)
            if header is None or header.salt != self._salt:
                # A writer restarted it between our two locks (it may, the WAL was all
                # copied), unless someone else emptied it: then the chain is broken.
                followed = self._follow(header)
            elif self._appended(header):
                followed = True  # to the old WAL (a reader pinned it): shipped next tick
            else:
                version = int(writer.execute("PRAGMA user_version").fetchone()[0])
                writer.execute(f"PRAGMA user_version={version}")
                followed = None
        finally:
            writer.execute("COMMIT")
        if followed is None:  # our write restarted the WAL, or appended to it (a reader)
            header = read_header(self.wal)
            followed = header is not None and (header.salt == self._salt or self._follow(header))
        if not followed:
            self.start_generation()
        return followed

    def _appended(self, header: WalHeader) -> bool:
        with self.wal.open("rb") as file:
            file.seek(HEADER_SIZE + (self._next - 1) * header.frame_size)
            return committed_frames(file.read(), header, self._next, self._seed).count > 0

    def _follow(self, header: WalHeader | None) -> bool:
        """Go on into a restarted WAL; False when it is not the one restart that follows
        ours (SQLite adds one to salt-1 at each restart)."""
        if header is None or header.salt[0] != (self._salt[0] + 1) & 0xFFFFFFFF:
            log.warning("wal_shipping_chain_broken", database=str(self.database))
            return False
        self._salt, self._next, self._seed = header.salt, 1, header.checksum
        return True

    # -- generations -----------------------------------------------------------------------

    def _rotation_due(self) -> bool:
        return self._newest_backup() != self._based_after

    def _newest_backup(self) -> str | None:
        backups = backups_in(self.backups)
        return backups[-1].name if backups else None

    def start_generation(self) -> Path:
        """A base snapshot at a known WAL position: under the write lock the WAL is read and a
        read transaction begun on the second connection (so it sees exactly those frames);
        the copy itself is made from that transaction after the lock is released, so
        writers wait for the WAL to be read, not for the database to be copied."""
        writer, reader = self._connections()
        newest_backup = self._newest_backup()
        started = self.clock.time()
        gen_id = _new_id(self.root, started)
        work = self.root / f"{gen_id}.tmp"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True, mode=0o700)
        try:
            writer.execute("BEGIN IMMEDIATE")
            try:
                header = read_header(self.wal)
                if header is None:  # no WAL yet: write one, so the chain has a start
                    version = int(writer.execute("PRAGMA user_version").fetchone()[0])
                    writer.execute(f"PRAGMA user_version={version}")
                    writer.execute("COMMIT")
                    writer.execute("BEGIN IMMEDIATE")
                    header = read_header(self.wal)
                    if header is None:
                        raise BackupError(f"{self.wal} has no header after a write")
                with self.wal.open("rb") as file:
                    file.seek(HEADER_SIZE)
                    committed = committed_frames(file.read(), header, 1, header.checksum)
                reader.execute("BEGIN")
                reader.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                writer.execute("COMMIT")
            try:
                with closing(sqlite3.connect(work / BASE)) as copy:
                    reader.backup(copy)
            finally:
                reader.execute("COMMIT")
            fsync_path(work / BASE)
            generation = Generation(
                id=gen_id,
                started_at=started,
                salt=list(header.salt),
                frame=committed.count,
                seed=list(committed.seed),
                base_sha256=sha256_of(work / BASE),
                base_size=(work / BASE).stat().st_size,
            )
            write_generation(work, generation)
            final = self.root / gen_id
            work.rename(final)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        self.folder, self.generation = final, generation
        self._salt, self._next, self._seed = header.salt, committed.count + 1, committed.seed
        self._seq = 0
        self._based_after = newest_backup
        self.generations_started += 1
        mark_shipped(final, started)
        log.info("wal_generation_started", id=gen_id, frame=committed.count)
        return final


def _new_id(root: Path, at: float) -> str:
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y%m%dT%H%M%S%fZ")
    candidate, n = stamp, 0
    while (root / candidate).exists():
        n += 1
        candidate = f"{stamp}-{n}"
    return candidate


class WalShipWorker(PeriodicWorker):
    """Runs the shipper every `backup.wal_ship_seconds` (one ship interval is the recovery
    granularity of the metadata)."""

    name = "wal-shipper"
    placement = Placement.RUN_ONCE

    def __init__(self, clock: Clock, settings: Settings) -> None:
        super().__init__(clock, settings.backup.wal_ship_seconds)
        database = sqlite_path(settings.effective_database_url)
        if database is None:
            raise ValueError("WAL shipping needs a SQLite database file")
        root = settings.effective_backup_path / SHIPPED_WAL_FOLDER
        self.shipper = WalShipper(database, root, clock)

    async def tick(self) -> None:
        await anyio.to_thread.run_sync(self.shipper.run_once)

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            with suppress(Exception):
                self.shipper.close()
