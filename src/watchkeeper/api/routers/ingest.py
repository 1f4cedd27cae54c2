"""Metric ingestion: Prometheus remote_write and JSON push. Data plane: not audited."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from watchkeeper.api.deps import Context, CurrentPrincipal, require
from watchkeeper.api.errors import ApiError
from watchkeeper.app_context import AppContext
from watchkeeper.ingest.remote_write import DecodedTooLarge, RemoteWriteDecodeError
from watchkeeper.ingest.remote_write_metadata import MetadataDecodeError, metadata_of
from watchkeeper.ingest.service import IngestResult

router = APIRouter(
    prefix="/api/v1", tags=["ingest"], dependencies=[Depends(require("metrics:write"))]
)


def _refusal(result: IngestResult) -> ApiError:
    if result.cardinality_error is not None:
        return ApiError(400, result.cardinality_error, code="series_limit")
    assert result.rejected is not None
    rejected = result.rejected
    return ApiError(
        400,
        f"{rejected.rejected_samples} sample(s) rejected; nothing was written: {rejected.rejections[0].message}",
        code="rejected_samples",
        details=rejected.to_dict(),
    )


def _raise_for_store_rejections(result: IngestResult) -> None:
    """Samples the store refused against what it already holds (out of order, or a new value
    for a stored timestamp): the rest is written, as Prometheus' receiver does, and the 400
    lists each refused sample so nothing is lost silently."""
    assert result.appended is not None
    errors = result.appended.errors
    if errors:
        raise ApiError(
            400,
            f"{len(errors)} sample(s) refused (out of order or duplicate timestamp); "
            f"{result.appended.appended} others were written: {errors[0]}",
            code="samples_refused_by_store",
            details={"written": result.appended.appended, "refused": errors[:100]},
        )


@router.post(
    "/write",
    status_code=204,
    summary="Prometheus remote_write receiver (snappy-compressed protobuf WriteRequest)",
    response_class=Response,
)
async def remote_write(request: Request, context: Context, principal: CurrentPrincipal) -> Response:
    body = await request.body()
    if not body:
        raise ApiError(400, "empty body: expected a snappy-compressed remote_write WriteRequest")
    try:
        result = await run_in_threadpool(
            context.ingest.write_remote,
            principal.tenant_id,
            body,
            max_decoded_bytes=context.settings.security.max_decoded_body_bytes,
        )
    except DecodedTooLarge as exc:
        raise ApiError(
            413, str(exc), code="decoded_body_too_large", details={"limit_bytes": exc.limit}
        ) from None
    except RemoteWriteDecodeError as exc:
        raise ApiError(
            400, f"not a remote_write request: {exc}", code="malformed_remote_write"
        ) from None
    if not result.ok:
        raise _refusal(result)
    _raise_for_store_rejections(result)
    if result.appended is not None and result.appended.appended == 0:
        _record_metadata(context, principal.tenant_id, body)
    return Response(status_code=204)


def _record_metadata(context: AppContext, tenant_id: str, body: bytes) -> None:
    """A request without samples is Prometheus' periodic metadata send: keep what it says."""
    try:
        limit = context.settings.security.max_decoded_body_bytes
        found = metadata_of(body, max_decoded_bytes=limit)
    except MetadataDecodeError as exc:
        raise ApiError(
            400, f"not a remote_write request: {exc}", code="malformed_remote_write"
        ) from None
    for name, metadata in found:
        context.metadata.record(tenant_id, name, metadata)


@router.post("/ingest", summary="JSON push: [{metric, labels, samples: [[ts, value], ...]}]")
async def ingest_json(
    request: Request, context: Context, principal: CurrentPrincipal
) -> dict[str, object]:
    body = await request.body()
    result = await run_in_threadpool(context.ingest.write_json, principal.tenant_id, body)
    if not result.ok:
        raise _refusal(result)
    _raise_for_store_rejections(result)
    assert result.appended is not None
    return {
        "status": "success",
        "samples": result.appended.appended,
        "new_series": result.appended.new_series,
        "duplicates_dropped": result.duplicates_dropped + result.appended.duplicates,
    }
