"""`POST /admin/backup`: a backup taken by the running server, which holds the metric store
(the CLI cannot open it while the server runs). Super-admin only (`config:write`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from watchkeeper.api.deps import Context, require
from watchkeeper.backup.create import Sources, create_backup
from watchkeeper.backup.manifest import BackupError
from watchkeeper.backup.segments import SHIPPED_WAL_FOLDER
from watchkeeper.store.embedded.store import EmbeddedStore

router = APIRouter(tags=["admin"])


class BackupRequest(BaseModel):
    to: str | None = Field(
        None,
        max_length=1024,
        pattern=r"^[A-Za-z0-9._/-]+$",
        description="backups folder: relative to, or inside, the configured backup folder "
        "(backup.folder, default <data_dir>/backups); default that folder",
    )
    incremental: bool = Field(False, description="copy only blocks the previous backup lacks")


class BackupResult(BaseModel):
    id: str
    kind: str
    base: str | None
    folder: str
    files: int
    bytes: int


def allowed_folder(root: Path, to: str | None) -> Path:
    """`to` resolved inside `root` (no `..` or symlink way out), else a 422."""
    base = root.resolve()
    if to and any(len(part) > 255 for part in to.split("/")):
        raise HTTPException(422, "'to': a name in the backup folder path is over 255 characters")
    target = (base / to).resolve() if to else base
    if target != base and base not in target.parents:
        raise HTTPException(
            422, f"'to' must be inside the backup folder {base} (backup.folder in the settings)"
        )
    shipped = base / SHIPPED_WAL_FOLDER
    if target == shipped or shipped in target.parents:
        raise HTTPException(
            422,
            f"'to': {SHIPPED_WAL_FOLDER}/ in the backup folder holds the shipped WAL "
            "(backup.wal_shipping); choose another name",
        )
    return target


@router.post(
    "/admin/backup",
    response_model=BackupResult,
    summary="Back up the metadata and the embedded metric store now, while ingest goes on",
    dependencies=[Depends(require("config:write"))],
)
async def post_backup(request: Request, context: Context, body: BackupRequest) -> BackupResult:
    target = allowed_folder(context.settings.effective_backup_path, body.to)
    store = context.store if isinstance(context.store, EmbeddedStore) else None
    sources = Sources(context.settings, store, context.config_file)
    try:
        folder, manifest = await run_in_threadpool(
            create_backup, sources, target, context.clock, incremental=body.incremental
        )
    except BackupError as exc:
        raise HTTPException(409, str(exc)) from None
    except OSError as exc:
        raise HTTPException(409, f"cannot write the backup into {target}: {exc.strerror}") from None
    request.state.audit_details = {"backup": manifest.id, "kind": manifest.kind}
    return BackupResult(
        id=manifest.id,
        kind=manifest.kind,
        base=manifest.base,
        folder=str(folder),
        files=len(manifest.files),
        bytes=sum(f.size for f in manifest.files),
    )
