"""Liveness and readiness, for Kubernetes probes and load balancers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from watchkeeper.api.deps import Context
from watchkeeper.runtime.drain import DRAIN

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Every dependency answers; says which one failed")
async def ready(context: Context) -> JSONResponse:
    if DRAIN.draining:  # SIGTERM received: still serving, but send new work elsewhere
        return JSONResponse(
            {"status": "draining", "failed": ["draining"], "checks": {}}, status_code=503
        )
    results = await context.health.probe()
    checks: dict[str, Any] = {
        r.name: {"status": "ok" if r.ok else "fail", "detail": r.detail, "latency_ms": r.latency_ms}
        for r in results
    }
    failed = [r.name for r in results if not r.ok]
    body = {"status": "fail" if failed else "ok", "failed": failed, "checks": checks}
    return JSONResponse(body, status_code=503 if failed else 200)
