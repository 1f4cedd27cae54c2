"""`GET /metrics/query`: PromQL with a friendlier answer than Prometheus' API (numbers as
numbers, times as ISO 8601), for scripts and the web UI."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from watchkeeper.api.deps import Context, CurrentPrincipal, require
from watchkeeper.api.errors import ApiError
from watchkeeper.domain.times import rfc3339, utc
from watchkeeper.query import MatrixResult, QueryError, ScalarResult, StringResult, VectorResult
from watchkeeper.query.params import parse_duration, parse_time

router = APIRouter(tags=["PromQL"])


def _num(value: float) -> float | str:
    return value if math.isfinite(value) else str(value).replace("inf", "Inf").replace("nan", "NaN")


def _shape(result: Any) -> dict[str, Any]:
    if isinstance(result, MatrixResult):
        return {
            "type": "matrix",
            "series": [
                {
                    "labels": dict(s.labels),
                    "points": [
                        {"t": rfc3339(utc(int(t) / 1000)), "v": _num(float(v))}
                        for t, v in zip(s.timestamps, s.values, strict=True)
                    ],
                }
                for s in result.series
            ],
        }
    if isinstance(result, VectorResult):
        return {
            "type": "vector",
            "series": [
                {
                    "labels": dict(s.labels),
                    "points": [{"t": rfc3339(utc(s.timestamp_ms / 1000)), "v": _num(s.value)}],
                }
                for s in result.samples
            ],
        }
    if isinstance(result, ScalarResult):
        return {
            "type": "scalar",
            "value": _num(result.value),
            "t": rfc3339(utc(result.timestamp_ms / 1000)),
        }
    assert isinstance(result, StringResult)
    return {"type": "string", "value": result.value, "t": rfc3339(utc(result.timestamp_ms / 1000))}


@router.get(
    "/metrics/query",
    dependencies=[Depends(require("metrics:read"))],
    summary="Evaluate PromQL: instant (no start/end) or over a range",
)
async def metrics_query(
    context: Context,
    principal: CurrentPrincipal,
    query: str = Query(..., min_length=1, description="PromQL expression"),
    time: str | None = Query(None, description="instant: RFC 3339 or Unix seconds (default: now)"),
    start: str | None = Query(None, description="range start"),
    end: str | None = Query(None, description="range end (default: now)"),
    step: str = Query("60s", description="range resolution, e.g. 15s"),
) -> dict[str, Any]:
    now_ms = round(context.clock.time() * 1000)
    try:
        if start is not None:
            start_ms = parse_time("start", start)
            end_ms = parse_time("end", end) if end else now_ms
            step_ms = parse_duration("step", step)
            result: Any = await run_in_threadpool(
                context.query.range_query, principal.tenant_id, query, start_ms, end_ms, step_ms
            )
        else:
            at = parse_time("time", time) if time else now_ms
            result = await run_in_threadpool(
                context.query.instant_query, principal.tenant_id, query, at
            )
    except QueryError as exc:
        status = 503 if exc.http_status == 503 else (422 if exc.http_status == 422 else 400)
        raise ApiError(status, exc.message, code=exc.error_type.value) from None
    return {"query": query, **_shape(result)}
