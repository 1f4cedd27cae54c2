"""Tenants. Members see their own tenant; only a super-admin creates tenants or lists all."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from watchkeeper.api.deps import Context, CurrentPrincipal, require
from watchkeeper.api.schemas.directory import TenantCreate, TenantPublic, TenantSecurity
from watchkeeper.tenancy import service
from watchkeeper.tenancy.service import NotFoundError

router = APIRouter(prefix="/api/v1/tenants", tags=["tenants"])


@router.get("", response_model=list[TenantPublic], dependencies=[Depends(require("tenant:read"))])
def list_tenants(context: Context, principal: CurrentPrincipal) -> list[TenantPublic]:
    with context.sessions.system("list tenants") as db:
        tenants = service.list_tenants(db)
    visible = (
        tenants
        if principal.can("tenants:read")
        else [t for t in tenants if t.id == principal.tenant_id]
    )
    return [TenantPublic.model_validate(t) for t in visible]


@router.post(
    "",
    response_model=TenantPublic,
    status_code=201,
    dependencies=[Depends(require("tenants:write"))],
)
def create_tenant(body: TenantCreate, context: Context) -> TenantPublic:
    with context.sessions.system("create tenant") as db:
        tenant = service.create_tenant(
            db, name=body.name, display_name=body.display_name, now=context.clock.now()
        )
        return TenantPublic.model_validate(tenant)


@router.get(
    "/{tenant}", response_model=TenantPublic, dependencies=[Depends(require("tenant:read"))]
)
def get_tenant(tenant: str, context: Context, principal: CurrentPrincipal) -> TenantPublic:
    """By name or id. Another tenant is reported as not found, exactly like a missing one."""
    with context.sessions.system("get tenant") as db:
        found = service.find_tenant(db, tenant)
    if found.id != principal.tenant_id and not principal.can("tenants:read"):
        raise NotFoundError(f"tenant {tenant!r} not found")
    return TenantPublic.model_validate(found)


@router.put(
    "/{tenant}/security",
    response_model=TenantPublic,
    dependencies=[Depends(require("users:write"))],
    summary="Set the tenant's login policy (2FA required for admins)",
)
def set_tenant_security(
    tenant: str, body: TenantSecurity, context: Context, principal: CurrentPrincipal
) -> TenantPublic:
    """An admin sets their own tenant's policy; another tenant is not found, as in `get`."""
    with context.sessions.system("tenant security") as db:
        found = service.find_tenant(db, tenant)
        if found.id != principal.tenant_id and not principal.can("tenants:write"):
            raise NotFoundError(f"tenant {tenant!r} not found")
        service.set_security(db, found, require_admin_2fa=body.require_admin_2fa)
        return TenantPublic.model_validate(found)
