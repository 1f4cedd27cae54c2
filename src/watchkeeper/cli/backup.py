"""`watchkeeper backup create|verify|restore`.

`create` opens the metric store itself when no server holds the data folder (the store's
LOCK file); while a server runs, it asks the server instead (`--via URL`, the same as
`POST /admin/backup`)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from watchkeeper.backup.manifest import BackupError
from watchkeeper.cli import common
from watchkeeper.cli.common import CliError, ConfigOption

backup_app = typer.Typer(help="Back up, verify and restore the data.", no_args_is_help=True)


@backup_app.command("create")
def create(
    to: Annotated[Path, typer.Option("--to", help="backups folder (one sub-folder per backup)")],
    incremental: Annotated[
        bool, typer.Option("--incremental", help="copy only blocks the last backup lacks")
    ] = False,
    via: Annotated[
        str | None,
        typer.Option("--via", help="URL of the running server: it takes the backup"),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Back up the metadata database and the embedded metric store (consistent while ingest
    goes on), with a manifest of checksums."""
    if via is not None:
        _create_via(via, to, incremental)
        return
    from watchkeeper.backup.create import Sources, create_backup
    from watchkeeper.clock import SystemClock
    from watchkeeper.store.embedded.store import EmbeddedStore

    settings, config_file = common.settings_from(config)
    store = None
    path = settings.effective_storage_path
    if settings.storage.backend == "embedded" and path.exists():
        try:
            store = EmbeddedStore(path, background_compaction=False)
        except RuntimeError:
            raise CliError(
                f"the metric store {path} is held by a running server: ask it for the backup "
                "with --via http://HOST:PORT (and WATCHKEEPER_TOKEN, a super-admin's token) or "
                "POST /admin/backup"
            ) from None
    started = time.monotonic()
    try:
        folder, manifest = create_backup(
            Sources(settings, store, config_file), to, SystemClock(), incremental=incremental
        )
    except BackupError as exc:
        raise CliError(str(exc)) from None
    finally:
        if store is not None:
            store.close()
    size = sum(f.size for f in manifest.files)
    typer.echo(
        f"{manifest.kind} backup {manifest.id} in {folder}: {len(manifest.files)} files, "
        f"{size} bytes, {time.monotonic() - started:.1f}s"
        + (f" (base {manifest.base})" if manifest.base else "")
    )


def _create_via(url: str, to: Path, incremental: bool) -> None:
    import httpx

    token = os.environ.get("WATCHKEEPER_TOKEN")
    if not token:
        raise CliError("--via needs WATCHKEEPER_TOKEN: a super-admin's access token")
    response = httpx.post(
        url.rstrip("/") + "/admin/backup",
        json={"to": str(to), "incremental": incremental},
        headers={"Authorization": f"Bearer {token}"},
        timeout=3600,
    )
    if response.status_code != 200:
        raise CliError(f"the server answered {response.status_code}: {response.text[:500]}")
    body = response.json()
    typer.echo(f"{body['kind']} backup {body['id']} in {body['folder']} (taken by the server)")


@backup_app.command("verify")
def verify(folder: Path) -> None:
    """Check every checksum, then restore into a temporary folder and open it; exit 1 if the
    backup is corrupt or incomplete."""
    from watchkeeper.backup.restore import verify_backup

    try:
        report = verify_backup(folder)
    except BackupError as exc:
        raise CliError(f"backup {folder} is NOT usable: {exc}") from None
    typer.echo(
        f"backup {report.backup_id} ({report.kind}) verified: {report.files} files, "
        f"{report.bytes} bytes, users={report.users}, series={report.series}"
        + (
            f", shipped WAL segments={report.wal_segments}"
            if report.wal_segments is not None
            else ""
        )
    )


@backup_app.command("restore")
def restore(
    folder: Path,
    to: Annotated[
        Path | None, typer.Option("--to", help="data folder (default: the configured one)")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace the data of a non-empty data folder")
    ] = False,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="point in time (RFC 3339, or unix seconds); FOLDER is then the backups folder",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Verify the backup, then restore metadata, metric store, config file and audit
    checkpoint (an incremental backup with the chain it builds on). Stop the server first.

    With --at: the store from the newest backup at or before TIME (a backup boundary), the
    SQLite metadata as of TIME from the shipped WAL (backup.wal_shipping)."""
    from watchkeeper.backup.restore import restore_backup

    settings, _ = common.settings_from(config)
    target = to or settings.data_dir
    if at is not None:
        _restore_at(folder, parse_time(at), target, force, settings.effective_database_url)
    else:
        try:
            report = restore_backup(
                folder, target, force=force, database_url=settings.effective_database_url
            )
        except BackupError as exc:
            raise CliError(f"not restored: {exc}") from None
        typer.echo(f"restored backup {report.backup_id} ({report.kind}) into {target}")
    restored_config = target / common.CONFIG_NAME
    if restored_config.is_file():
        from watchkeeper.config import load_settings

        named = load_settings(restored_config).data_dir
        if named.resolve() != target.resolve():
            typer.echo(
                f"warning: the restored {restored_config} names data_dir {named}; "
                f"set it to {target} before starting the server there",
                err=True,
            )


def parse_time(text: str) -> float:
    """RFC 3339 (a time without an offset is UTC) or unix seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise CliError(f"--at {text!r} is neither RFC 3339 nor unix seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _restore_at(folder: Path, at: float, target: Path, force: bool, database_url: str) -> None:
    from watchkeeper.backup.manifest import MANIFEST
    from watchkeeper.backup.pitr import iso, restore_at

    backups = folder.parent if (folder / MANIFEST).is_file() else folder
    try:
        report, point = restore_at(backups, at, target, force=force, database_url=database_url)
    except BackupError as exc:
        raise CliError(f"not restored: {exc}") from None
    typer.echo(
        f"restored into {target} as of {iso(at)}: metric store, config and audit checkpoint "
        f"from backup {report.backup_id} taken {iso(point.backup_created_at)} (backup boundary)"
    )
    if point.generation is not None:
        typer.echo(
            f"metadata as of {iso(at)}: WAL generation {point.generation}, "
            f"{point.segments} shipped segments replayed, integrity_check ok"
        )
    else:
        typer.echo(
            f"metadata as of backup {report.backup_id} too: no shipped SQLite WAL in "
            f"{backups / 'wal'} applies (PostgreSQL: see its WAL-archiving procedure)"
        )
