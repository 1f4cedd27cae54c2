"""API keys of the caller's tenant: create (shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from watchkeeper.api.deps import Context, CurrentPrincipal, TenantDB, require
from watchkeeper.api.schemas.directory import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from watchkeeper.auth import apikeys

router = APIRouter(prefix="/api/v1/apikeys", tags=["api keys"])


@router.get("", response_model=list[ApiKeyPublic], dependencies=[Depends(require("apikeys:read"))])
def list_keys(db: TenantDB) -> list[ApiKeyPublic]:
    return [ApiKeyPublic.model_validate(k) for k in apikeys.list_api_keys(db)]


@router.post(
    "",
    response_model=ApiKeyCreated,
    status_code=201,
    dependencies=[Depends(require("apikeys:write"))],
)
def create_key(
    body: ApiKeyCreate, db: TenantDB, context: Context, principal: CurrentPrincipal
) -> ApiKeyCreated:
    row, key = apikeys.create_api_key(
        db,
        name=body.name,
        scopes=[s.value for s in body.scopes],
        now=context.clock.now(),
        created_by=principal.id,
        expires_at=body.expires_at,
    )
    return ApiKeyCreated(**ApiKeyPublic.model_validate(row).model_dump(), key=key)


@router.delete("/{key_id}", status_code=204, dependencies=[Depends(require("apikeys:write"))])
def revoke_key(key_id: str, db: TenantDB, context: Context) -> Response:
    apikeys.revoke_api_key(db, key_id, now=context.clock.now())
    context.auth.forget_api_keys()
    return Response(status_code=204)
