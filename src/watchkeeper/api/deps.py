"""Request dependencies: the app context, the caller, permission checks, tenant sessions."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from watchkeeper.api.errors import ApiError
from watchkeeper.api.ratelimit import retry_after
from watchkeeper.app_context import AppContext
from watchkeeper.auth import restrictions
from watchkeeper.auth.principal import Principal
from watchkeeper.ratelimit.limiter import RateLimited, RateLimiter, kind_of

# Dependencies that do no I/O are `async def`: FastAPI runs plain `def` dependencies in a
# thread pool, and a thread hop per dependency was most of a request's cost.


async def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]

AUDIT_CATCH_UP_SECONDS = 5.0


async def audit_caught_up(context: Context) -> None:
    """Audit entries queued before this request are committed first (a bounded wait, no
    thread): reading the trail shows the caller's earlier requests, and an erasure rewrites
    the records of requests already answered."""
    with anyio.move_on_after(AUDIT_CATCH_UP_SECONDS):
        await context.audit_writer.written_all()


async def get_principal(request: Request) -> Principal:
    """Who is calling. `Authorization: Bearer <jwt or key>` (what Prometheus and Grafana send)
    or `X-API-Key: <key>`.

    Headers are read directly rather than through FastAPI's security classes: each extra
    dependency costs measurable time on the hot paths. The OpenAPI document still declares
    both schemes (see `api/openapi.py`).
    """
    context: AppContext = request.app.state.context
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    credential = (
        token.strip() if scheme.lower() == "bearer" else request.headers.get("x-api-key", "")
    )
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
    if principal.restriction is not None and not restrictions.allows(
        principal.restriction, request.scope["path"]
    ):
        raise ApiError(
            403,
            restrictions.MESSAGES.get(principal.restriction, "this login is restricted"),
            code=principal.restriction,
            details={"allowed": sorted(restrictions.ALLOWED_PATHS.get(principal.restriction, ()))},
        )
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    kind = kind_of(request.scope["method"], request.scope["path"])
    if limiter is not None and kind is not None:
        try:
            await limiter.check(principal, kind)
        except RateLimited as exc:
            raise ApiError(
                429,
                str(exc),
                code="rate_limited",
                details={"kind": exc.kind, "retry_after_seconds": exc.retry_after},
                headers={"Retry-After": retry_after(exc)},
            ) from exc
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(permission: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """`dependencies=[Depends(require("rules:write"))]`: the route's permission, declared on it."""

    async def check(principal: CurrentPrincipal) -> Principal:
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


# scope="function": commit before the response is sent. The default ("request") runs the code
# after `yield` once the client already has its answer: a 201 could precede the commit (a new
# API key briefly unknown) or a failed commit go unreported.
TenantDB = Annotated[Session, Depends(tenant_session, scope="function")]
