"""Anomaly detection and forecasting: events, training jobs, models, predictions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import promql_parser as pp
from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from watchkeeper.api.deps import Context, CurrentPrincipal, TenantDB, require
from watchkeeper.api.errors import ApiError
from watchkeeper.api.schemas.ai import (
    AnomalyPage,
    AnomalyPublic,
    FeedbackPublic,
    FeedbackRequest,
    ModelPublic,
    ModelQuality,
    TrainingJobPublic,
    TrainRequest,
)
from watchkeeper.detect import feedback, service
from watchkeeper.detect.explain import Pattern
from watchkeeper.detect.forecast import FORECASTERS, ForecastError
from watchkeeper.detect.predict import PredictionRequest, predict
from watchkeeper.domain.series import Matcher
from watchkeeper.query.errors import QueryError
from watchkeeper.query.params import parse_time
from watchkeeper.query.syntax import matchers_of, parse

router = APIRouter(prefix="/ai", tags=["anomaly detection"])


def parse_series_selector(param: str, value: str) -> list[Matcher]:
    """A PromQL series selector such as `cpu{host="db-1"}`, or a 400 that says what is wrong."""
    try:
        node = parse(value)
    except QueryError as exc:
        raise ApiError(400, f"invalid {param} {value!r}: {exc.message}") from None
    if not isinstance(node, pp.VectorSelector):
        raise ApiError(
            400, f'{param} must be a series selector such as cpu{{host="db-1"}}, not {value!r}'
        )
    matchers = matchers_of(node)
    if all(m.matches("") for m in matchers):
        raise ApiError(400, f"{param} {value!r} must contain at least one non-empty matcher")
    return matchers


def _time(param: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        ms = parse_time(param, value)
    except QueryError as exc:
        raise ApiError(400, exc.message) from None
    try:
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (ValueError, OverflowError, OSError):  # beyond datetime's years 1..9999
        raise ApiError(400, f"{param} {value!r} is outside years 1 to 9999") from None


@router.get(
    "/anomalies",
    response_model=AnomalyPage,
    dependencies=[Depends(require("anomalies:read"))],
    summary="Anomaly events with their explanations, newest first",
)
def list_anomalies(
    db: TenantDB,
    start: str | None = Query(None, description="RFC 3339 or Unix seconds"),
    end: str | None = Query(None, description="RFC 3339 or Unix seconds"),
    selector: str | None = Query(None, description='PromQL series selector, e.g. {job="api"}'),
    min_score: float | None = Query(None, ge=0, le=1),
    pattern: Pattern | None = Query(None),
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
) -> AnomalyPage:
    matchers = parse_series_selector("selector", selector) if selector else []
    page = service.list_anomalies(
        db,
        start=_time("start", start),
        end=_time("end", end),
        matchers=matchers,
        min_score=min_score,
        pattern=pattern.value if pattern else None,
        limit=limit,
        cursor=cursor,
    )
    verdicts = feedback.feedback_for(db, [r.id for r in page.items])
    return AnomalyPage(
        items=[
            AnomalyPublic(
                id=r.id,
                series=r.series,
                labels=r.labels,
                at=r.at,
                detector=r.detector,
                score=r.score,
                pattern=r.pattern,
                explanation=r.explanation,
                sentence=r.sentence,
                feedback=FeedbackPublic.model_validate(verdicts[r.id])
                if r.id in verdicts
                else None,
            )
            for r in page.items
        ],
        next_cursor=page.next_cursor,
    )


@router.post(
    "/anomalies/{anomaly_id}/feedback",
    response_model=FeedbackPublic,
    dependencies=[Depends(require("anomalies:feedback"))],
    summary="Mark an anomaly a true or false positive (replaces an earlier verdict; audited)",
)
def post_feedback(
    anomaly_id: str,
    body: FeedbackRequest,
    request: Request,
    db: TenantDB,
    context: Context,
    principal: CurrentPrincipal,
) -> FeedbackPublic:
    row = feedback.set_feedback(
        db, anomaly_id[:64], body.label, by=principal.name, now=context.clock.now()
    )
    request.state.audit_details = {"anomaly_id": row.anomaly_id, "label": row.label}
    return FeedbackPublic.model_validate(row)


@router.delete(
    "/anomalies/{anomaly_id}/feedback",
    status_code=204,
    dependencies=[Depends(require("anomalies:feedback"))],
    summary="Undo the verdict on an anomaly (audited)",
)
def delete_feedback(anomaly_id: str, request: Request, db: TenantDB) -> Response:
    feedback.clear_feedback(db, anomaly_id[:64])
    request.state.audit_details = {"anomaly_id": anomaly_id[:64]}
    return Response(status_code=204)


@router.post(
    "/train",
    response_model=TrainingJobPublic,
    status_code=202,
    dependencies=[Depends(require("anomalies:train"))],
    summary="Train or retrain the models of the series a selector matches (a background job)",
)
def train(
    body: TrainRequest,
    context: Context,
    principal: CurrentPrincipal,
    background: BackgroundTasks,
) -> TrainingJobPublic:
    matchers = parse_series_selector("selector", body.selector)
    job = context.trainer.submit(
        principal.tenant_id,
        selector=body.selector,
        detector=body.detector or context.settings.detection.detector,
        created_by=principal.id,
    )
    background.add_task(context.trainer.run_job, principal.tenant_id, job.id, matchers)
    return TrainingJobPublic.model_validate(job)


@router.get(
    "/train/{job_id}",
    response_model=TrainingJobPublic,
    dependencies=[Depends(require("anomalies:read"))],
    summary="A training job's status: queued, running, succeeded or failed",
)
def training_job(job_id: str, db: TenantDB) -> TrainingJobPublic:
    return TrainingJobPublic.model_validate(service.get_training_job(db, job_id))


@router.get(
    "/models",
    response_model=list[ModelPublic],
    dependencies=[Depends(require("anomalies:read"))],
    summary="Per series model: detector, when trained, data span, quality on its own history",
)
def list_models(db: TenantDB) -> list[ModelPublic]:
    return [
        ModelPublic(
            series=row.series,
            labels=row.labels,
            detector=row.detector,
            revision=row.revision,
            trained_at=row.trained_at,
            data_start=row.first_sample_at,
            data_end=row.last_sample_at,
            points=row.points,
            events=row.events,
            quality=ModelQuality(alerts_per_1000_points=service.alerts_per_1000(row)),
        )
        for row in service.list_models(db)
    ]


@router.get(
    "/predictions",
    dependencies=[Depends(require("anomalies:read"))],
    summary="Forecast a metric with 80/95 % intervals, and when it crosses a threshold",
)
async def predictions(
    context: Context,
    principal: CurrentPrincipal,
    metric: str = Query(..., min_length=1, description="PromQL selector or expression"),
    horizon_hours: float = Query(24.0, gt=0, le=24 * 90),
    history_hours: float = Query(168.0, gt=0, le=24 * 365),
    model: str = Query("default", description="a forecaster name: " + ", ".join(FORECASTERS)),
    threshold: float | None = Query(
        None, description="answer when the forecast reaches this value"
    ),
    limit: int = Query(20, ge=1, le=200, description="series forecast at most"),
) -> dict[str, Any]:
    if model not in FORECASTERS:
        raise ApiError(422, f"unknown model {model!r}; known: {', '.join(FORECASTERS)}")
    request = PredictionRequest(
        metric, context.clock.time(), horizon_hours, history_hours, model, threshold, limit
    )
    try:
        return await run_in_threadpool(predict, context.query, principal.tenant_id, request)
    except QueryError as exc:
        raise ApiError(400 if exc.http_status == 400 else 422, exc.message) from None
    except ForecastError as exc:
        raise ApiError(422, f"cannot forecast: {exc}") from None
