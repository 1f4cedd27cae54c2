"""Per-tenant API keys for machines. The key is shown once; only its hash is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.auth import rbac, tokens
from watchkeeper.db.tables import ApiKey
from watchkeeper.tenancy.service import NotFoundError


def create_api_key(
    db: Session,
    *,
    name: str,
    scopes: list[str] | str,
    now: datetime,
    created_by: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Returns the stored row and the full key, which is never retrievable again."""
    if not name.strip() or len(name) > 100:
        raise ValueError("API key name must be 1-100 characters")
    key, prefix, secret_hash = tokens.new_api_key()
    row = ApiKey(
        name=name.strip(),
        prefix=prefix,
        secret_hash=secret_hash,
        scopes=rbac.parse_scopes(scopes),
        created_by=created_by,
        created_at=now,
        expires_at=expires_at,
    )
    db.add(row)
    db.flush()
    return row, key


def list_api_keys(db: Session) -> list[ApiKey]:
    return list(db.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def revoke_api_key(db: Session, key_id_or_prefix: str, *, now: datetime) -> ApiKey:
    row = db.scalar(
        select(ApiKey).where((ApiKey.id == key_id_or_prefix) | (ApiKey.prefix == key_id_or_prefix))
    )
    if row is None:
        raise NotFoundError(f"API key {key_id_or_prefix!r} not found")
    if row.revoked_at is None:
        row.revoked_at = now
    return row
