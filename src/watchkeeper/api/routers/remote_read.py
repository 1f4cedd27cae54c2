"""`POST /api/v1/read`: Prometheus remote_read over the caller's tenant, so Prometheus, Thanos
sidecars and other readers can query Watchkeeper's data. Sampled or streamed XOR chunks, as
the client accepts (see `watchkeeper.query.remote_read`)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from watchkeeper.api.deps import Context, CurrentPrincipal, require
from watchkeeper.api.errors import ApiError
from watchkeeper.app_context import AppContext
from watchkeeper.domain.regex import RegexError
from watchkeeper.domain.series import SeriesSamples
from watchkeeper.query.remote_read import (
    STREAMED_CONTENT_TYPE,
    ReadDecodeError,
    decode_request,
    encode_samples_response,
    streamed_frames,
)

router = APIRouter(
    prefix="/api/v1", tags=["PromQL"], dependencies=[Depends(require("metrics:read"))]
)

MAX_QUERIES = 64
"""Queries in one request (Prometheus sends one per remote_read call)."""


def _select(
    context: AppContext, tenant_id: str, body: bytes
) -> tuple[bool, list[list[SeriesSamples]]]:
    request = decode_request(
        body, max_decoded_bytes=context.settings.api.max_body_bytes * 8, max_queries=MAX_QUERIES
    )
    budget = context.settings.query.max_samples
    results: list[list[SeriesSamples]] = []
    for query in request.queries:
        for matcher in query.matchers:
            try:
                matcher.matches("")  # compiles a regex matcher
            except RegexError as exc:
                raise ReadDecodeError(f"invalid matcher {matcher}: {exc}") from None
        if not query.matchers or all(m.matches("") for m in query.matchers):
            raise ReadDecodeError("a query needs at least one matcher that selects something")
        if query.end_ms < query.start_ms:
            raise ReadDecodeError("a query ends before it starts")
        found = context.store.select(tenant_id, list(query.matchers), query.start_ms, query.end_ms)
        budget -= sum(len(s.timestamps) for s in found)
        if budget < 0:
            raise OverflowError(
                f"the request reads more than query.max_samples "
                f"({context.settings.query.max_samples}) samples: narrow its time range or matchers"
            )
        results.append(found)
    return request.streamed, results


@router.post(
    "/read",
    summary="Prometheus remote_read (snappy protobuf ReadRequest; sampled or streamed chunks)",
    response_class=Response,
)
async def remote_read(request: Request, context: Context, principal: CurrentPrincipal) -> Response:
    body = await request.body()
    if not body:
        raise ApiError(400, "empty body: expected a snappy-compressed remote_read ReadRequest")
    try:
        streamed, results = await run_in_threadpool(_select, context, principal.tenant_id, body)
    except ReadDecodeError as exc:
        raise ApiError(400, f"not a remote_read request: {exc}", code="bad_data") from None
    except OverflowError as exc:
        raise ApiError(422, str(exc), code="too_many_samples") from None
    if streamed:

        def frames() -> Iterator[bytes]:
            for index, found in enumerate(results):
                yield from streamed_frames(index, found)

        return StreamingResponse(frames(), media_type=STREAMED_CONTENT_TYPE)
    payload = await run_in_threadpool(encode_samples_response, results)
    return Response(
        payload,
        media_type="application/x-protobuf",
        headers={"Content-Encoding": "snappy"},
    )
