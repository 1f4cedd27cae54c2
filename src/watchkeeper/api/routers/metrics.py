"""Our own metrics in Prometheus' exposition format."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from watchkeeper.api.deps import require

router = APIRouter(tags=["observability"])


def _exposition() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/metrics", summary="Prometheus metrics of this process (for scraping)", response_class=Response
)
def metrics() -> Response:
    return _exposition()


@router.get(
    "/admin/metrics/prometheus",
    summary="The same metrics, behind authentication",
    response_class=Response,
    dependencies=[Depends(require("system:read"))],
)
def admin_metrics() -> Response:
    return _exposition()
