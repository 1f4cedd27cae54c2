"""The rest of Prometheus' HTTP API that Grafana and the Prometheus UI call besides queries:
build info, metric metadata, exemplars, scrape targets and TSDB (cardinality) status.

We mirror the HTTP API of Prometheus `MIRRORED_PROMETHEUS_VERSION` (the release the query
differential suite runs against), and build info says so, so clients that pick features by
version choose the right ones. Every answer is the caller's tenant's only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

import watchkeeper
from watchkeeper.api.deps import Context, CurrentPrincipal, require
from watchkeeper.api.routers.prometheus import _answer, _error, _one, _params, _success, _window
from watchkeeper.app_context import AppContext
from watchkeeper.domain.series import METRIC_NAME_LABEL, Matcher, MatchOp
from watchkeeper.domain.times import rfc3339, utc
from watchkeeper.query.errors import QueryError, bad_data
from watchkeeper.query.syntax import parse

router = APIRouter(
    prefix="/api/v1", tags=["PromQL"], dependencies=[Depends(require("metrics:read"))]
)

MIRRORED_PROMETHEUS_VERSION = "2.42.0"
HEAD_WINDOW_MS = 3 * 3600 * 1000
"""TSDB status counts series with samples in this window, as Prometheus' head block does."""


@router.get("/status/buildinfo", summary="Build information (the Prometheus API version we mirror)")
def buildinfo() -> JSONResponse:
    return _success(
        {
            "version": MIRRORED_PROMETHEUS_VERSION,
            "revision": "",
            "branch": "",
            "buildUser": "watchkeeper",
            "buildDate": "",
            "goVersion": "",
            "application": "watchkeeper",
            "watchkeeperVersion": watchkeeper.__version__,
        }
    )


def _int_param(params: dict[str, list[str]], name: str, default: int) -> int:
    text = _one(params, name, str(default))
    try:
        return int(text)
    except ValueError:
        raise bad_data(f'invalid parameter "{name}": {text!r} is not an integer') from None


@router.get("/metadata", summary="Metric metadata (type, help, unit) per metric name")
async def metadata(request: Request, context: Context, principal: CurrentPrincipal) -> JSONResponse:
    try:
        params = await _params(request)
        limit = _int_param(params, "limit", -1)
        per_metric = _int_param(params, "limit_per_metric", -1)
        metric = _one(params, "metric", "") or None
    except QueryError as exc:
        return _error(exc)
    return _success(
        context.metadata.query(
            principal.tenant_id, metric=metric, limit=limit, per_metric=per_metric
        )
    )


@router.get("/query_exemplars", summary="Exemplars (none are stored yet: always empty)")
@router.post("/query_exemplars", summary="Exemplars (none are stored yet: always empty)")
async def query_exemplars(request: Request) -> JSONResponse:
    """An empty answer is Prometheus' own when no exemplar storage is configured; the query
    and times are still checked so a client learns about its mistakes."""
    try:
        params = await _params(request)
        parse(_one(params, "query"))
        start, end = _window(params)
        if end < start:
            raise bad_data('invalid parameter "end": end timestamp must not be before start time')
    except QueryError as exc:
        return _error(exc)
    return _success([])


def _duration(seconds: float) -> str:
    return f"{seconds:g}s" if seconds < 60 or seconds % 60 else f"{seconds / 60:g}m"


def _targets(context: AppContext, tenant_id: str, pool: str | None) -> list[dict[str, Any]]:
    scraper = context.scraper
    if scraper is None:
        return []
    answer: list[dict[str, Any]] = []
    for loop in scraper.loops:
        job = loop.job
        if pool is not None and job.job_name != pool:
            continue
        if context.tenants.id_of(job.tenant) != tenant_id:
            continue
        report = loop.last_report
        health = "unknown" if report is None else ("up" if report.up else "down")
        answer.append(
            {
                "discoveredLabels": {
                    "__address__": loop.target,
                    "__metrics_path__": job.metrics_path,
                    "__scheme__": job.scheme,
                    "job": job.job_name,
                },
                "labels": job.target_labels(loop.target),
                "scrapePool": job.job_name,
                "scrapeUrl": loop.url,
                "globalUrl": loop.url,
                "lastError": "" if report is None else (report.error or ""),
                "lastScrape": rfc3339(utc(0 if report is None else report.timestamp_ms / 1000)),
                "lastScrapeDuration": 0.0 if report is None else report.duration_seconds,
                "health": health,
                "scrapeInterval": _duration(job.interval),
                "scrapeTimeout": _duration(job.timeout),
            }
        )
    return answer


@router.get("/targets", summary="Scrape targets of the tenant with health and last error")
async def targets(request: Request, context: Context, principal: CurrentPrincipal) -> JSONResponse:
    try:
        params = await _params(request)
        state = _one(params, "state", "any")
        pool = _one(params, "scrapePool", "") or None
        if state not in {"active", "dropped", "any"}:
            raise bad_data(f'invalid parameter "state": {state!r} (active, dropped or any)')
    except QueryError as exc:
        return _error(exc)
    # Static targets are never dropped: there is no relabelling.
    active = [] if state == "dropped" else _targets(context, principal.tenant_id, pool)
    data: dict[str, Any] = {"activeTargets": active, "droppedTargets": []}
    if state == "active":
        del data["droppedTargets"]
    elif state == "dropped":
        del data["activeTargets"]
    return _success(data)


def _top(counts: Counter[str], limit: int) -> list[dict[str, Any]]:
    return [{"name": name, "value": value} for name, value in counts.most_common(limit)]


@router.get("/status/tsdb", summary="Cardinality of the tenant's series (Prometheus' TSDB status)")
async def tsdb_status(
    request: Request, context: Context, principal: CurrentPrincipal
) -> JSONResponse:
    try:
        params = await _params(request)
        limit = _int_param(params, "limit", 10)
        if not 0 < limit <= 10_000:
            raise bad_data('invalid parameter "limit": must be between 1 and 10000')
    except QueryError as exc:
        return _error(exc)

    def work() -> dict[str, Any]:
        end = round(context.clock.time() * 1000)
        everything = [Matcher(METRIC_NAME_LABEL, MatchOp.REGEX, ".+")]
        found = context.store.series(principal.tenant_id, everything, end - HEAD_WINDOW_MS, end)
        by_metric: Counter[str] = Counter()
        pairs: Counter[str] = Counter()
        values: dict[str, set[str]] = defaultdict(set)
        label_bytes: Counter[str] = Counter()
        for labels in found:
            for name, value in labels:
                if name == METRIC_NAME_LABEL:
                    by_metric[value] += 1
                pairs[f"{name}={value}"] += 1
                if value not in values[name]:
                    values[name].add(value)
                    label_bytes[name] += len(value)
        value_counts = Counter({name: len(v) for name, v in values.items()})
        return {
            "headStats": {
                "numSeries": len(found),
                "numLabelPairs": len(pairs),
                "chunkCount": 0,
                "minTime": end - HEAD_WINDOW_MS,
                "maxTime": end,
            },
            "seriesCountByMetricName": _top(by_metric, limit),
            "labelValueCountByLabelName": _top(value_counts, limit),
            "memoryInBytesByLabelName": _top(label_bytes, limit),
            "seriesCountByLabelValuePair": _top(pairs, limit),
        }

    return await _answer("tsdb_status", work)
