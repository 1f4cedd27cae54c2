"""Owner-only files: the data folder 0700, the database, WAL, blocks, models and config 0600.

They hold password hashes, encrypted secrets, the signing and encryption keys (config) and
every tenant's metrics: nobody else on the machine should read them. `serve` and `init`
set a 077 umask, so whatever the process creates later is private too, and fix the modes
of what is already there (a folder made by hand, a database from an older version).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import structlog

from watchkeeper.config import Settings, sqlite_path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
PRIVATE_UMASK = 0o077

log = structlog.get_logger(__name__)


def restrict_umask() -> int:
    """Files and folders this process creates from now on are its owner's only."""
    return os.umask(PRIVATE_UMASK)


def secure_data(settings: Settings, config_file: Path | None) -> list[Path]:
    """Make the data folder, the metric store and models folders (recursively: they are
    Watchkeeper's own), the files directly in the data folder, the SQLite files and the config
    owner-only; returns what was changed. Paths owned by someone else are left alone (logged).

    The data folder itself is not walked recursively: it may be set to a folder that also
    holds other things (its direct files, the database and config among them, are tightened).
    """
    changed: list[Path] = []
    data_dir = settings.data_dir
    if data_dir.is_dir():
        changed += _tighten(data_dir, PRIVATE_DIR)
        changed += [
            path
            for child in sorted(data_dir.iterdir())
            if child.is_file() and not child.is_symlink()
            for path in _tighten(child, PRIVATE_FILE)
        ]
    for folder in sorted({settings.effective_storage_path, settings.effective_models_path}):
        if folder.is_dir():
            changed += _tighten_tree(folder)
    files = [config_file] if config_file is not None else []
    database = sqlite_path(settings.effective_database_url)
    if database is not None:
        files += [database.with_name(database.name + s) for s in ("", "-wal", "-shm", "-journal")]
    for path in files:
        if path is not None and path.is_file():
            changed += _tighten(path, PRIVATE_FILE)
    return changed


def _tighten_tree(root: Path) -> list[Path]:
    changed = _tighten(root, PRIVATE_DIR)
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        for name in dirs:
            changed += _tighten(base / name, PRIVATE_DIR)
        for name in files:
            changed += _tighten(base / name, PRIVATE_FILE)
    return changed


def _tighten(path: Path, mode: int) -> list[Path]:
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode) or stat.S_IMODE(info.st_mode) & ~mode == 0:
            return []
        path.chmod(stat.S_IMODE(info.st_mode) & mode)
    except OSError as exc:  # not ours (a shared folder): say so, do not stop the start
        log.warning("cannot_restrict_permissions", path=str(path), error=str(exc))
        return []
    return [path]
