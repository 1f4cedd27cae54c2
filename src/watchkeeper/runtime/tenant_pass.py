"""A periodic pass over every enabled tenant, in which one tenant's failure stops only its own
part of the pass (the detection and forecast loops)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from watchkeeper.tenancy.scope import SessionFactory
from watchkeeper.tenancy.service import list_tenants


def enabled_tenants(sessions: SessionFactory, reason: str) -> list[str]:
    """The ids of the tenants a run-once loop serves: all enabled ones (a lease would narrow
    this); `reason` is what the system session is audited as."""
    with sessions.system(reason) as db:
        return [t.id for t in list_tenants(db) if not t.disabled]


def each_tenant(
    tenant_ids: Sequence[str], run: Callable[[str], None], *, log: Any, event: str
) -> list[str]:
    """`run` for each tenant in turn; a failure is logged as `event` on the caller's logger and
    returned as "tenant: Type: message", and the next tenant still runs."""
    errors: list[str] = []
    for tenant_id in tenant_ids:
        try:
            run(tenant_id)
        except Exception as exc:  # one tenant's failure must not starve the others
            log.error(event, tenant=tenant_id, exc_info=exc)
            errors.append(f"{tenant_id}: {type(exc).__name__}: {exc}")
    return errors
