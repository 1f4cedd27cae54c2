"""Request dependencies: the app context, the caller, permission checks, tenant sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from watchkeeper.api.errors import ApiError
from watchkeeper.auth.principal import Principal
from watchkeeper.wiring import AppContext

_bearer = HTTPBearer(
    auto_error=False, description="An access token from /auth/login, or an API key"
)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]


async def get_principal(
    request: Request,
    context: Context,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """Who is calling. `Authorization: Bearer <jwt or key>` (what Prometheus and Grafana send)
    or `X-API-Key: <key>`."""
    credential = bearer.credentials if bearer is not None else api_key
    if not credential:
        raise ApiError(
            401,
            "authentication required: send `Authorization: Bearer <token>` or `X-API-Key`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = context.auth.cached(credential)
    if principal is None:
        principal = await run_in_threadpool(context.auth.authenticate, credential)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(permission: str) -> Callable[[Principal], Principal]:
    """`dependencies=[Depends(require("rules:write"))]`: the route's permission, declared on it."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise ApiError(
                403, f"permission {permission!r} is required", details={"permission": permission}
            )
        return principal

    check.__name__ = f"require_{permission.replace(':', '_')}"
    return check


def tenant_session(context: Context, principal: CurrentPrincipal) -> Iterator[Session]:
    """A session that sees only the caller's tenant; committed when the request succeeds."""
    with context.sessions.tenant(principal.tenant_id) as session:
        yield session


TenantDB = Annotated[Session, Depends(tenant_session)]
