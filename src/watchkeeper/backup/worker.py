"""The automatic backup worker: every `backup.interval_hours`, a backup into the backup folder,
then the oldest backups past `backup.keep` are deleted (never one a kept backup builds on)."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import anyio
import structlog

from watchkeeper.backup.create import Sources, create_backup
from watchkeeper.backup.manifest import BackupError, backups_in, chain, read_manifest
from watchkeeper.backup.segments import SHIPPED_WAL_FOLDER, prune_generations
from watchkeeper.clock import Clock
from watchkeeper.config import Settings
from watchkeeper.runtime.worker import PeriodicWorker, Placement
from watchkeeper.store.base import MetricStore
from watchkeeper.store.embedded.store import EmbeddedStore

log = structlog.get_logger(__name__)


class BackupWorker(PeriodicWorker):
    """Takes a backup when the newest one in the folder is `interval_hours` old (so a restart
    does not take an extra one), incremental while the chain since the last full backup is
    shorter than `keep`. The store is backed up only when it is the embedded one; a remote
    TSDB has backups of its own. Among replicas it runs under a lease (one metadata backup);
    each replica's own embedded store is then backed up only by the lease holder."""

    name = "backup"
    placement = Placement.RUN_ONCE

    def __init__(
        self,
        clock: Clock,
        settings: Settings,
        store: MetricStore,
        *,
        config_file: Path | None = None,
        check_every: float = 300.0,
    ) -> None:
        super().__init__(clock, min(check_every, settings.backup.interval_hours * 3600))
        self.settings = settings
        self.store = store if isinstance(store, EmbeddedStore) else None
        self.config_file = config_file
        self.folder = settings.effective_backup_path
        self.taken = 0

    def due(self) -> bool:
        backups = backups_in(self.folder)
        if not backups:
            return True
        created = datetime.fromisoformat(read_manifest(backups[-1]).created_at)
        return self.clock.now() - created >= timedelta(hours=self.settings.backup.interval_hours)

    def run_once(self) -> Path | None:
        """One check: a backup if one is due, then pruning; returns the new backup's folder."""
        if not self.due():
            return None
        incremental = False
        backups = backups_in(self.folder)
        if backups and self.store is not None:
            incremental = len(chain(backups[-1])) < self.settings.backup.keep
        sources = Sources(self.settings, self.store, self.config_file)
        folder, manifest = create_backup(sources, self.folder, self.clock, incremental=incremental)
        self.taken += 1
        log.info("backup_taken", id=manifest.id, kind=manifest.kind, files=len(manifest.files))
        prune(self.folder, self.settings.backup.keep)
        return folder

    async def tick(self) -> None:
        await anyio.to_thread.run_sync(self.run_once)


def prune(folder: Path, keep: int) -> list[str]:
    """Delete the backups older than the newest `keep` that none of those builds on, and the
    shipped WAL generations that end before the oldest backup left."""
    backups = backups_in(folder)
    needed: set[str] = set()
    for backup in backups[-keep:]:
        try:
            needed.update(m.id for _, m in chain(backup))
        except BackupError:
            needed.add(backup.name)
    removed = []
    for backup in backups[:-keep]:
        if backup.name not in needed:
            shutil.rmtree(backup)
            removed.append(backup.name)
    left = backups_in(folder)
    if left:
        oldest = datetime.fromisoformat(read_manifest(left[0]).created_at).timestamp()
        removed.extend(prune_generations(folder / SHIPPED_WAL_FOLDER, oldest))
    return removed
