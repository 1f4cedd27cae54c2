"""Tenants: create, list, find. Tenant names are DNS-label-like slugs."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from watchkeeper.db.tables import Tenant
from watchkeeper.db.tables.base import Base
from watchkeeper.tenancy.scope import SessionFactory

Row = TypeVar("Row", bound=Base)
TENANT_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class NotFoundError(LookupError):
    """The object does not exist in the caller's tenant (which is all the caller may know)."""


class ConflictError(ValueError):
    """The object already exists."""


def create_tenant(db: Session, *, name: str, display_name: str = "", now: datetime) -> Tenant:
    if not TENANT_NAME_RE.match(name):
        raise ValueError(
            f"tenant name {name!r} must be 1-63 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit"
        )
    if db.scalar(select(Tenant).where(Tenant.name == name)) is not None:
        raise ConflictError(f"tenant {name!r} already exists")
    tenant = Tenant(name=name, display_name=display_name or name, created_at=now)
    db.add(tenant)
    db.flush()
    return tenant


def list_tenants(db: Session) -> list[Tenant]:
    return list(db.scalars(select(Tenant).order_by(Tenant.name)))


def find_by_id_or_name(
    db: Session,
    model: type[Row],
    columns: tuple[InstrumentedAttribute[str], InstrumentedAttribute[str]],
    ref: str,
    what: str,
) -> Row:
    """The row whose id or name (`columns`, in that order) is `ref`: the API and the CLI
    accept either for tenants, users, schedules and policies."""
    ident, name = columns
    row = db.scalar(select(model).where((name == ref) | (ident == ref)))
    if row is None:
        raise NotFoundError(f"{what} {ref!r} not found")
    return row


def find_tenant(db: Session, name_or_id: str) -> Tenant:
    return find_by_id_or_name(db, Tenant, (Tenant.id, Tenant.name), name_or_id, "tenant")


def set_security(db: Session, tenant: Tenant, *, require_admin_2fa: bool) -> Tenant:
    """The tenant's login policy; admins without 2FA are sent to enrol at their next login."""
    tenant.require_admin_2fa = require_admin_2fa
    db.flush()
    return tenant


class TenantDirectory:
    """Tenant name -> id for workers configured by name (scrape jobs, the host collector)."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions
        self._ids: dict[str, str] = {}

    def id_of(self, name: str) -> str:
        cached = self._ids.get(name)
        if cached is None:
            with self.sessions.system("resolve tenant") as db:
                cached = find_tenant(db, name).id
            self._ids[name] = cached
        return cached
