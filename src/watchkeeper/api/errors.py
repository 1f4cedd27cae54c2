"""One error body everywhere: {"error": {"code", "message", "details"}}, never a bare 500."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from watchkeeper.auth.passwords import HashingBusy
from watchkeeper.auth.service import AuthError, LockedOutError
from watchkeeper.auth.tokens import InvalidTokenError
from watchkeeper.config import ConfigError
from watchkeeper.tenancy.service import ConflictError, NotFoundError

log = structlog.get_logger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """Raise from a router or service to answer with a given status and message."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = headers


MAX_ERROR_BODY_BYTES = 64 * 1024
"""No error answer is larger: a refused request must not be echoed back (or multiplied)."""
MAX_ECHOED_CHARS = 256
"""Each string in an error's details is cut to this, with an ellipsis."""
MAX_MESSAGE_CHARS = 2048
_ELLIPSIS = "…"


def clip(
    value: Any, max_chars: int = MAX_ECHOED_CHARS, max_items: int = 100, depth: int = 0
) -> Any:
    """`value` with every string cut to `max_chars` (ellipsis added) and every list or object
    to `max_items` entries (a last entry says how many more): what an error may echo."""
    if isinstance(value, str):
        return value if len(value) <= max_chars else value[:max_chars] + _ELLIPSIS
    if depth > 8:
        return _ELLIPSIS
    if isinstance(value, dict):
        out = {
            clip(str(k), max_chars): clip(v, max_chars, max_items, depth + 1)
            for k, v in itertools.islice(value.items(), max_items)
        }
        if len(value) > max_items:
            out[_ELLIPSIS] = f"{len(value) - max_items} more"
        return out
    if isinstance(value, list | tuple):
        items = [clip(v, max_chars, max_items, depth + 1) for v in value[:max_items]]
        if len(value) > max_items:
            items.append(f"{_ELLIPSIS} {len(value) - max_items} more")
        return items
    return value


def bounded_error_body(code: str, message: str, details: Any) -> dict[str, Any]:
    """The error body, cut until it serialises to at most MAX_ERROR_BODY_BYTES."""
    message = clip(message, MAX_MESSAGE_CHARS)
    for max_items, max_chars in ((100, MAX_ECHOED_CHARS), (20, 128), (5, 64)):
        body = {
            "error": {
                "code": code,
                "message": message,
                "details": clip(details, max_chars, max_items),
            }
        }
        if len(json.dumps(body, ensure_ascii=False).encode()) <= MAX_ERROR_BODY_BYTES:
            return body
    return {"error": {"code": code, "message": message, "details": {"truncated": True}}}


async def send_error(
    send: Send,
    status: int,
    body: dict[str, Any],
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """An error answer written straight to ASGI `send`, for middleware that answers before
    (or instead of) the app, where FastAPI's exception handlers do not run."""
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *headers,
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = bounded_error_body(code or _CODES.get(status, "error"), message, details)
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for item in exc.errors():
        loc = [str(p) for p in item.get("loc", ())]
        details.append(
            {"field": ".".join(loc), "message": item.get("msg", ""), "type": item.get("type", "")}
        )
    return details


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(
            exc.status, exc.message, code=exc.code, details=exc.details, headers=exc.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        if any(d["type"] == "json_invalid" for d in details):
            return error_response(
                400, "request body is not valid JSON", code="malformed_json", details=details
            )
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        return error_response(422, f"invalid request: {summary}", details=details)

    @app.exception_handler(InvalidTokenError)
    async def _bad_token(_request: Request, exc: InvalidTokenError) -> JSONResponse:
        return error_response(401, str(exc), headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(LockedOutError)
    async def _locked(_request: Request, exc: LockedOutError) -> JSONResponse:
        return error_response(429, str(exc), headers={"Retry-After": str(int(exc.retry_after) + 1)})

    @app.exception_handler(HashingBusy)
    async def _hashing_busy(_request: Request, exc: HashingBusy) -> JSONResponse:
        return error_response(429, str(exc), headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(AuthError)
    async def _auth_failed(_request: Request, exc: AuthError) -> JSONResponse:
        return error_response(401, str(exc), headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(NotFoundError)
    async def _not_found(_request: Request, exc: NotFoundError) -> JSONResponse:
        return error_response(404, str(exc.args[0]) if exc.args else "not found")

    @app.exception_handler(ConflictError)
    async def _conflict(_request: Request, exc: ConflictError) -> JSONResponse:
        return error_response(409, str(exc))

    @app.exception_handler(ConfigError)
    async def _config(_request: Request, exc: ConfigError) -> JSONResponse:
        details = [{"key": p.key, "value": p.value, "rule": p.rule} for p in exc.problems]
        return error_response(422, str(exc), code="invalid_config", details=details)

    @app.exception_handler(ValueError)
    async def _value(_request: Request, exc: ValueError) -> JSONResponse:
        return error_response(422, str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = request.scope.get("state", {}).get("request_id", "")
        log.error("unhandled_error", path=request.url.path, exc_info=exc)
        return error_response(500, f"internal error (request id {request_id})")
