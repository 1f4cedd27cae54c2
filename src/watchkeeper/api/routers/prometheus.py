"""Prometheus' query HTTP API, same paths, parameters, JSON shapes and error types, so
Grafana and other Prometheus clients work against Watchkeeper unchanged."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import Histogram

from watchkeeper.api.deps import Context, CurrentPrincipal, require
from watchkeeper.domain.series import Matcher
from watchkeeper.query.errors import QueryError, bad_data
from watchkeeper.query.params import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    parse_duration,
    parse_selector,
    parse_time,
)

router = APIRouter(
    prefix="/api/v1", tags=["PromQL"], dependencies=[Depends(require("metrics:read"))]
)

QUERY_LATENCY = Histogram(
    "watchkeeper_query_duration_seconds",
    "PromQL evaluation time by endpoint",
    ["endpoint"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


async def _params(request: Request) -> dict[str, list[str]]:
    """Query string and, for POST, a form-encoded body: as Prometheus accepts both."""
    params = parse_qs(request.url.query, keep_blank_values=True)
    if request.method == "POST" and "application/x-www-form-urlencoded" in request.headers.get(
        "content-type", ""
    ):
        for key, values in parse_qs(
            (await request.body()).decode("utf-8", "replace"), keep_blank_values=True
        ).items():
            params.setdefault(key, []).extend(values)
    return params


def _one(params: dict[str, list[str]], name: str, default: str | None = None) -> str:
    values = params.get(name)
    if values:
        return values[-1]
    if default is None:
        raise bad_data(f'invalid parameter "{name}": parameter is required')
    return default


def _error(exc: QueryError) -> JSONResponse:
    return JSONResponse(
        {"status": "error", "errorType": exc.error_type.value, "error": exc.message},
        status_code=exc.http_status,
    )


def _success(data: Any) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data})


async def _answer(endpoint: str, work: Callable[[], Any]) -> JSONResponse:
    started = time.perf_counter()
    try:
        data = await run_in_threadpool(work)
    except QueryError as exc:
        return _error(exc)
    finally:
        QUERY_LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    return _success(data)


@router.get("/query", summary="Instant query", operation_id="prometheus_query_get")
@router.post("/query", summary="Instant query", operation_id="prometheus_query_post")
async def query(request: Request, context: Context, principal: CurrentPrincipal) -> JSONResponse:
    try:
        params = await _params(request)
        expr = _one(params, "query")
        at = (
            parse_time("time", _one(params, "time"))
            if params.get("time")
            else round(context.clock.time() * 1000)
        )
    except QueryError as exc:
        return _error(exc)
    return await _answer(
        "query", lambda: context.query.instant_query(principal.tenant_id, expr, at).to_json()
    )


@router.get("/query_range", summary="Range query", operation_id="prometheus_query_range_get")
@router.post("/query_range", summary="Range query", operation_id="prometheus_query_range_post")
async def query_range(
    request: Request, context: Context, principal: CurrentPrincipal
) -> JSONResponse:
    try:
        params = await _params(request)
        expr = _one(params, "query")
        start = parse_time("start", _one(params, "start"))
        end = parse_time("end", _one(params, "end"))
        step = parse_duration("step", _one(params, "step"))
    except QueryError as exc:
        return _error(exc)
    return await _answer(
        "query_range",
        lambda: context.query.range_query(principal.tenant_id, expr, start, end, step).to_json(),
    )


def _window(params: dict[str, list[str]]) -> tuple[int, int]:
    start = parse_time("start", _one(params, "start")) if params.get("start") else MIN_TIME_MS
    end = parse_time("end", _one(params, "end")) if params.get("end") else MAX_TIME_MS
    return start, end


def _selectors(params: dict[str, list[str]], required: bool) -> list[list[Matcher]]:
    raw = params.get("match[]", [])
    if required and not raw:
        raise bad_data("no match[] parameter provided")
    return [parse_selector(value) for value in raw]


async def _metadata_request(
    request: Request, *, match_required: bool
) -> tuple[int, int, list[list[Matcher]]]:
    """The window and `match[]` selectors of a metadata request; none given: every series."""
    params = await _params(request)
    start, end = _window(params)
    return start, end, _selectors(params, required=match_required) or [[]]


def _sorted_union(
    selectors: list[list[Matcher]], fetch: Callable[[list[Matcher]], Iterable[str]]
) -> list[str]:
    """What `fetch` finds for any of the selectors, each once, sorted (as Prometheus answers)."""
    found: set[str] = set()
    for matchers in selectors:
        found.update(fetch(matchers))
    return sorted(found)


@router.get("/series", summary="Series matching selectors", operation_id="prometheus_series_get")
@router.post("/series", summary="Series matching selectors", operation_id="prometheus_series_post")
async def series(request: Request, context: Context, principal: CurrentPrincipal) -> JSONResponse:
    try:
        start, end, selectors = await _metadata_request(request, match_required=True)
    except QueryError as exc:
        return _error(exc)

    def work() -> list[dict[str, str]]:
        found: dict[tuple[tuple[str, str], ...], None] = {}
        for matchers in selectors:
            for labels in context.store.series(principal.tenant_id, matchers, start, end):
                found[labels] = None
        return [dict(labels) for labels in sorted(found)]

    return await _answer("series", work)


async def _label_answer(
    endpoint: str,
    request: Request,
    fetch: Callable[[list[Matcher], int, int], Iterable[str]],
) -> JSONResponse:
    """Label names or values: what `fetch(matchers, start, end)` finds for any selector."""
    try:
        start, end, selectors = await _metadata_request(request, match_required=False)
    except QueryError as exc:
        return _error(exc)
    return await _answer(
        endpoint, lambda: _sorted_union(selectors, lambda matchers: fetch(matchers, start, end))
    )


@router.get("/labels", summary="Label names", operation_id="prometheus_labels_get")
@router.post("/labels", summary="Label names", operation_id="prometheus_labels_post")
async def labels(request: Request, context: Context, principal: CurrentPrincipal) -> JSONResponse:
    tenant_id = principal.tenant_id
    return await _label_answer(
        "labels",
        request,
        lambda matchers, start, end: context.store.label_names(tenant_id, matchers, start, end),
    )


@router.get("/label/{name}/values", summary="Values of one label")
async def label_values(
    name: str, request: Request, context: Context, principal: CurrentPrincipal
) -> JSONResponse:
    tenant_id = principal.tenant_id
    return await _label_answer(
        "label_values",
        request,
        lambda matchers, start, end: context.store.label_values(
            tenant_id, name, matchers, start, end
        ),
    )
