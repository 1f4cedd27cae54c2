"""System status: version, uptime, component health, counts for the caller's tenant."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from watchkeeper.api.deps import Context, CurrentPrincipal, require
from watchkeeper.api.hotpath import status_body
from watchkeeper.api.schemas.admin import SystemStatus

router = APIRouter(prefix="/system", tags=["system"])


@router.get("/status", response_model=SystemStatus, dependencies=[Depends(require("system:read"))])
async def status(context: Context, principal: CurrentPrincipal) -> JSONResponse:
    """Answered from a few-seconds-old cache, built as plain JSON: validating the response
    model on every call cost more than the rest of the request (measured in bench/api.py).
    When the cache is fresh and the caller known, `api/hotpath.py` answers before this."""
    fresh_components = context.status.fresh_components()
    fresh_counts = context.status.fresh_counts(principal.tenant_id)
    if fresh_components is None or fresh_counts is None:
        components, counts = await run_in_threadpool(context.status.refresh, principal.tenant_id)
    else:
        components, counts = fresh_components, fresh_counts
    return JSONResponse(status_body(context, components, counts))
