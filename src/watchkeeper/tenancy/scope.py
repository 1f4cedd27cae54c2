"""Sessions bound to one tenant by construction.

Every ORM query made through a tenant session gets `tenant_id = <tenant>` added to each
tenant-owned entity it touches (SQLAlchemy's `with_loader_criteria`), and every new
tenant-owned row gets the tenant stamped on it. Routers and services never write a tenant
filter themselves. Reaching across tenants needs `SessionFactory.system(reason)`, which names
why in the code; a query or write of tenant-owned rows in a session that is neither raises
`TenancyViolation`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria

from watchkeeper.db.tables import TenantOwned

_TENANT = "watchkeeper.tenant_id"
_SYSTEM = "watchkeeper.system_reason"


class TenancyViolation(RuntimeError):
    """Code tried to touch tenant data without a tenant, or another tenant's row."""


class SessionFactory:
    """Makes tenant-scoped and system sessions for one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._make = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def tenant(self, tenant_id: str) -> Iterator[Session]:
        """A session that can only see and write rows of `tenant_id`; commits on success."""
        with self._make() as session:
            session.info[_TENANT] = tenant_id
            with session.begin():
                yield session

    @contextmanager
    def system(self, reason: str) -> Iterator[Session]:
        """A session that sees every tenant: for login, init, retention. Always give a reason."""
        with self._make() as session:
            session.info[_SYSTEM] = reason
            with session.begin():
                yield session


def tenant_of(session: Session) -> str | None:
    value = session.info.get(_TENANT)
    return str(value) if value is not None else None


@event.listens_for(Session, "do_orm_execute")
def _scope_queries(state: ORMExecuteState) -> None:
    if state.is_column_load or state.is_relationship_load:
        return
    tenant_id = state.session.info.get(_TENANT)
    if tenant_id is None:
        if state.session.info.get(_SYSTEM) is None and _touches_tenant_data(state):
            raise TenancyViolation("query on tenant-owned data outside a tenant or system session")
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantOwned,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
        )
    )


def _touches_tenant_data(state: ORMExecuteState) -> bool:
    for mapper in state.all_mappers:
        if issubclass(mapper.class_, TenantOwned):
            return True
    return False


@event.listens_for(Session, "before_flush")
def _stamp_tenant(session: Session, _ctx: Any, _instances: Any) -> None:
    tenant_id = session.info.get(_TENANT)
    if tenant_id is None:
        if session.info.get(_SYSTEM) is None and any(
            isinstance(obj, TenantOwned) for obj in (*session.new, *session.dirty, *session.deleted)
        ):
            raise TenancyViolation("write of tenant-owned data outside a tenant or system session")
        return
    for obj in session.new:
        if isinstance(obj, TenantOwned):
            current = getattr(obj, "tenant_id", None)
            if current is None:
                obj.tenant_id = tenant_id
            elif current != tenant_id:
                raise TenancyViolation(
                    f"row of tenant {current} written in a session of {tenant_id}"
                )
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, TenantOwned) and obj.tenant_id != tenant_id:
            raise TenancyViolation(
                f"row of tenant {obj.tenant_id} changed in a session of {tenant_id}"
            )
