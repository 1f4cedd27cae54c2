"""`POST /v1/metrics`: OTLP metrics over HTTP (protobuf or JSON, gzip), the way OpenTelemetry
SDKs and collectors export; translated as Prometheus 3's OTLP receiver does
(`watchkeeper.ingest.otlp`) and written through the same validation as every other ingest."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from watchkeeper.api.deps import Context, CurrentPrincipal, require
from watchkeeper.api.errors import ApiError
from watchkeeper.api.routers.ingest import _raise_for_store_rejections, _refusal
from watchkeeper.ingest import otlp

router = APIRouter(tags=["ingest"], dependencies=[Depends(require("metrics:write"))])

_TYPES = ("application/x-protobuf", "application/json")


@router.post(
    "/v1/metrics",
    summary="OTLP/HTTP metrics export (ExportMetricsServiceRequest, protobuf or JSON)",
    response_class=Response,
    operation_id="otlp_metrics",
)
@router.post(
    "/api/v1/otlp/v1/metrics",
    summary="The same, at Prometheus 3's OTLP receiver path",
    response_class=Response,
    operation_id="otlp_metrics_prometheus_path",
)
async def export_metrics(
    request: Request, context: Context, principal: CurrentPrincipal
) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in _TYPES:
        raise ApiError(415, f"unsupported Content-Type {content_type!r}: use {' or '.join(_TYPES)}")
    body = await request.body()
    encoding = request.headers.get("content-encoding", "").strip().lower()
    limit = context.settings.security.max_decoded_body_bytes  # gunzipped size
    try:
        decoded = await run_in_threadpool(
            otlp.decode, body, content_type=content_type, encoding=encoding, max_bytes=limit
        )
    except otlp.OtlpDecodeError as exc:
        raise ApiError(400, str(exc), code="malformed_otlp") from None
    translation = await run_in_threadpool(otlp.translate, decoded)
    if translation.series:
        result = await run_in_threadpool(
            lambda: context.ingest.write(principal.tenant_id, translation.series, source="otlp")
        )
        if not result.ok:
            raise _refusal(result)
        _raise_for_store_rejections(result)
    return Response(otlp.response(translation, content_type=content_type), media_type=content_type)
