"""Our own metrics in Prometheus' exposition format.

`GET /metrics` answers anyone by default (`observability.metrics_auth: none`), or only a
caller with the scrape token (`observability.metrics_token`) or a credential with
`system:read` (`token`). Series labelled with a tenant id are seen as such only by operators
(the scrape token, a superadmin); every other caller gets them summed over tenants, so no
tenant ids (and no per-tenant sizes) leak to anonymous scrapers or to other tenants.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from watchkeeper.api.deps import Context, CurrentPrincipal, require
from watchkeeper.api.errors import ApiError
from watchkeeper.app_context import AppContext
from watchkeeper.observability.metrics import TenantsSummed

router = APIRouter(tags=["observability"])

_SUMMED = TenantsSummed()


async def _exposition(per_tenant: bool) -> Response:
    registry = REGISTRY if per_tenant else _SUMMED
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _credential(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return token.strip()
    return request.headers.get("x-api-key", "").strip()


async def _operator_view(request: Request, context: AppContext) -> bool:
    """Whether this caller sees per-tenant series; raises 401/403 when it may not scrape."""
    settings = context.settings.observability
    credential = _credential(request)
    token = settings.metrics_token
    if credential and token is not None:
        if hmac.compare_digest(credential.encode(), token.get_secret_value().encode()):
            return True
    if not credential:
        if settings.metrics_auth == "token":
            raise ApiError(
                401,
                "authentication required for /metrics (observability.metrics_auth: token): "
                "send `Authorization: Bearer <metrics_token or API key>`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return False
    principal = context.auth.cached(credential)
    if principal is None:
        principal = await run_in_threadpool(context.auth.authenticate, credential)
    if settings.metrics_auth == "token" and not principal.can("system:read"):
        raise ApiError(
            403, "permission 'system:read' is required", details={"permission": "system:read"}
        )
    return principal.superadmin


@router.get(
    "/metrics", summary="Prometheus metrics of this process (for scraping)", response_class=Response
)
async def metrics(request: Request, context: Context) -> Response:
    return await _exposition(await _operator_view(request, context))


@router.get(
    "/admin/metrics/prometheus",
    summary="The same metrics, behind authentication",
    response_class=Response,
    dependencies=[Depends(require("system:read"))],
)
async def admin_metrics(principal: CurrentPrincipal) -> Response:
    return await _exposition(principal.superadmin)
