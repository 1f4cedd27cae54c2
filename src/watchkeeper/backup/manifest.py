"""`manifest.json`: what a backup holds and the checksum of every file in it.

Fields: `version`, `id`, `created_at`, `kind` (full / incremental), `base` (the backup an
incremental builds on), `schema_revision` (Alembic), `metadata` (`backend`: sqlite / postgresql,
`file`), `store` (`blocks`: every block of the store at the snapshot, with the backup that holds
its files, `series_log_bytes`, `wal` segments and `cutoff_ms`; null when the store was not
backed up), `extras` (config and audit checkpoint files), and `files` (`path`, `size`,
`sha256`) for the files in this backup's own folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
VERSION = 1


class BackupError(Exception):
    """A backup that cannot be made, or is corrupt, incomplete or unusable."""


@dataclass
class FileEntry:
    path: str
    size: int
    sha256: str


@dataclass
class BlockEntry:
    number: int
    id: str
    held_by: str
    """Id of the backup whose folder has the block's files (this one or an ancestor)."""


@dataclass
class StoreEntry:
    blocks: list[BlockEntry]
    series_log_bytes: int
    wal: dict[str, int]
    cutoff_ms: int | None


@dataclass
class Manifest:
    id: str
    created_at: str
    kind: str
    base: str | None
    schema_revision: str | None
    metadata: dict[str, str]
    store: StoreEntry | None
    extras: list[str] = field(default_factory=list)
    files: list[FileEntry] = field(default_factory=list)
    version: int = VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Manifest:
        store = raw.get("store")
        return cls(
            id=str(raw["id"]),
            created_at=str(raw["created_at"]),
            kind=str(raw["kind"]),
            base=raw.get("base"),
            schema_revision=raw.get("schema_revision"),
            metadata={str(k): str(v) for k, v in raw["metadata"].items()},
            store=None
            if store is None
            else StoreEntry(
                blocks=[BlockEntry(**b) for b in store["blocks"]],
                series_log_bytes=int(store["series_log_bytes"]),
                wal={str(k): int(v) for k, v in store["wal"].items()},
                cutoff_ms=store.get("cutoff_ms"),
            ),
            extras=list(raw.get("extras", [])),
            files=[FileEntry(**f) for f in raw["files"]],
            version=int(raw["version"]),
        )


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupError(f"{folder} has no {MANIFEST}: not a backup, or an unfinished one")
    try:
        manifest = Manifest.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path} is corrupt: {exc}") from None
    if manifest.version > VERSION:
        raise BackupError(f"{path}: manifest version {manifest.version} is newer than supported")
    if manifest.id != folder.name:
        raise BackupError(f"{path} names backup {manifest.id!r} but sits in {folder.name!r}")
    return manifest


def write_manifest(folder: Path, manifest: Manifest) -> None:
    tmp = folder / f"{MANIFEST}.tmp"
    with tmp.open("w") as file:
        file.write(manifest.to_json())
        file.flush()
        os.fsync(file.fileno())
    tmp.replace(folder / MANIFEST)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def list_files(folder: Path) -> list[FileEntry]:
    """Every file under `folder` (but the manifest), with size and checksum."""
    return [
        FileEntry(str(p.relative_to(folder)), p.stat().st_size, sha256_of(p))
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    ]


def backups_in(folder: Path) -> list[Path]:
    """Finished backups in a backups folder, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and (p / MANIFEST).is_file())


def chain(folder: Path) -> list[tuple[Path, Manifest]]:
    """The backup at `folder` and its bases, oldest (the full backup) first."""
    links: list[tuple[Path, Manifest]] = []
    current: Path | None = folder
    while current is not None:
        manifest = read_manifest(current)
        links.append((current, manifest))
        if manifest.base is None:
            break
        current = current.parent / manifest.base
        if not current.is_dir():
            raise BackupError(f"backup {manifest.id} needs its base {manifest.base}, missing")
        if len(links) > 10_000:
            raise BackupError("backup chain loops")
    return links[::-1]
