"""Dashboards of a tenant: the built-ins (read-only) and its own, stored as JSON models.

Functions take a tenant-scoped session: the tenant filter is the session's, never ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.dashboards import BUILTIN, model
from watchkeeper.db.tables import StoredDashboard
from watchkeeper.tenancy.service import ConflictError, NotFoundError

MAX_PER_TENANT = 500


@dataclass(frozen=True)
class DashboardSummary:
    uid: str
    title: str
    builtin: bool
    tags: list[str]
    version: int
    updated_at: datetime | None


def builtin_model(uid: str) -> dict[str, Any]:
    return model.to_json(BUILTIN[uid]().build())


def list_dashboards(db: Session) -> list[DashboardSummary]:
    """The built-ins first, then the tenant's own by title."""
    out = []
    for uid in BUILTIN:
        data = builtin_model(uid)
        out.append(DashboardSummary(uid, data["title"], True, data.get("tags", []), 1, None))
    rows = db.scalars(select(StoredDashboard).order_by(StoredDashboard.title)).all()
    out += [
        DashboardSummary(
            row.uid,
            row.title,
            False,
            list(row.model.get("tags") or []),
            row.version,
            row.updated_at,
        )
        for row in rows
    ]
    return out


def get_dashboard(db: Session, uid: str) -> dict[str, Any]:
    """The JSON model of a built-in or stored dashboard; NotFoundError otherwise."""
    if uid in BUILTIN:
        return builtin_model(uid)
    row = _row(db, uid)
    return dict(row.model)


def create_dashboard(db: Session, data: object, *, now: datetime) -> StoredDashboard:
    """Store a new dashboard; its uid is the model's (or one derived from its title)."""
    normalised = model.normalise(data)
    normalised.pop("id", None)  # Grafana's per-instance id, not ours to keep
    uid = _uid_of(normalised)
    if uid in BUILTIN or _find(db, uid) is not None:
        raise ConflictError(f"dashboard {uid!r} already exists")
    count = len(db.scalars(select(StoredDashboard.id)).all())
    if count >= MAX_PER_TENANT:
        raise ConflictError(f"this tenant has {count} dashboards, the limit")
    normalised["version"] = 1
    row = StoredDashboard(
        uid=uid,
        title=normalised["title"],
        model=normalised,
        version=1,
        created_at=now,
        updated_at=now,
    )
    db.add(row)
    db.flush()
    return row


def replace_dashboard(db: Session, uid: str, data: object, *, now: datetime) -> StoredDashboard:
    """Replace a stored dashboard's model (built-ins are read-only: ConflictError)."""
    if uid in BUILTIN:
        raise ConflictError(f"{uid!r} is a built-in dashboard and read-only")
    row = _row(db, uid)
    normalised = model.normalise(data)
    normalised.pop("id", None)
    if normalised.get("uid", uid) != uid:
        raise ConflictError(f"the model's uid {normalised['uid']!r} is not {uid!r}")
    row.version += 1
    normalised["uid"], normalised["version"] = uid, row.version
    row.model, row.title, row.updated_at = normalised, normalised["title"], now
    db.flush()
    return row


def delete_dashboard(db: Session, uid: str) -> None:
    if uid in BUILTIN:
        raise ConflictError(f"{uid!r} is a built-in dashboard and cannot be deleted")
    db.delete(_row(db, uid))


def _uid_of(data: dict[str, Any]) -> str:
    from watchkeeper.dashboards.custom import uid_for

    uid = data.get("uid")
    if uid is None:
        uid = data["uid"] = uid_for(data["title"])
    if not isinstance(uid, str) or not 1 <= len(uid) <= 40:
        raise model.InvalidDashboard("`uid` must be a string of 1 to 40 characters")
    if not all(c.isalnum() or c in "-_" for c in uid):
        raise model.InvalidDashboard("`uid` may contain only letters, digits, '-' and '_'")
    return uid


def _find(db: Session, uid: str) -> StoredDashboard | None:
    return db.scalar(select(StoredDashboard).where(StoredDashboard.uid == uid))


def _row(db: Session, uid: str) -> StoredDashboard:
    row = _find(db, uid)
    if row is None:
        raise NotFoundError(f"dashboard {uid!r} not found")
    return row
