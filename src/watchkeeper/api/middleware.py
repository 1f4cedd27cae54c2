"""One pure-ASGI middleware for every request: request id, body limit, security headers, a
cap on error bodies, metrics, log, audit.

A state-changing request's audit entry is queued when its response starts (waiting there if
the audit queue is full, which slows whoever fills it) and the request's cycle ends once the
entry is committed by the audit writer's own thread (`audit_writer.py`): no request thread is
held by an audit write.

Pure ASGI rather than BaseHTTPMiddleware: it adds no task or stream copies per request,
which matters for the hot read and ingest paths.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watchkeeper.api.errors import MAX_ERROR_BODY_BYTES, send_error
from watchkeeper.api.security_headers import SecurityHeaders
from watchkeeper.audit import AuditEntry
from watchkeeper.auth.principal import Principal
from watchkeeper.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger("watchkeeper.http")

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(Exception):
    pass


class AuditSink(Protocol):
    """Where audit entries go (`audit_writer.AuditWriter`)."""

    async def submit(self, entry: AuditEntry) -> int: ...

    async def written(self, seq: int) -> None: ...


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: Callable[[str], int],
        access_log: Callable[[], bool],
        audit: AuditSink,
        now: Callable[[], Any],
        audit_exempt: Callable[[str], bool],
        client_ip: Callable[[Scope], str | None] | None = None,
        security_headers: SecurityHeaders | None = None,
    ) -> None:
        self.app = app
        self.security_headers = security_headers
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        self.audit = audit
        self.now = now
        self.audit_exempt = audit_exempt
        self.client_ip = client_ip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or ())
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        # An id to correlate logs, not a secret: no urandom syscall (12 µs) per request.
        request_id = given if _REQUEST_ID_RE.match(given) else f"{random.getrandbits(128):032x}"
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        # The client as a trusted proxy reports it (api/client_address.py); routes, the
        # rate limiter and the audit trail read it from here.
        client = scope.get("client")
        state["client_ip"] = (
            self.client_ip(scope) if self.client_ip else (client[0] if client else None)
        )
        structlog.contextvars.bind_contextvars(request_id=request_id)
        method: str = scope["method"]
        path: str = scope["path"]
        limit = self.max_body_bytes(path)
        status = 500
        response_started = False
        extra = [(b"x-request-id", request_id.encode())]
        if self.security_headers is not None:
            extra += self.security_headers.for_scope(scope)
        cut = False
        audited = method in STATE_CHANGING and not self.audit_exempt(path)
        audit_seq: int | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started, cut, audit_seq
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                if audited and audit_seq is None:
                    audit_seq = await self._audit(scope, state, method, path, status, request_id)
                headers = [*message.get("headers", ()), *extra]
                if status >= 400 and _declared_length(headers) > MAX_ERROR_BODY_BYTES:
                    # Every error body is bounded, whichever handler built it.
                    cut = True
                    await _send_cut_error(send, status, headers)
                    return
                message["headers"] = headers
            elif cut:
                return
            await send(message)

        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        try:
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await _too_large(send_wrapper, limit)
            else:
                try:
                    await self.app(scope, receive_wrapper, send_wrapper)
                except BodyTooLarge:
                    if not response_started:
                        await _too_large(send_wrapper, limit)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_LATENCY.labels(method, template).observe(elapsed)
            if self.access_log():
                log.info(
                    "request",
                    method=method,
                    path=path,
                    route=template,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            if audited:
                if audit_seq is None:  # no response was started (the app raised)
                    audit_seq = await self._audit(scope, state, method, path, status, request_id)
                await self.audit.written(audit_seq)
            structlog.contextvars.unbind_contextvars("request_id")

    async def _audit(
        self,
        scope: Scope,
        state: dict[str, Any],
        method: str,
        path: str,
        status: int,
        request_id: str,
    ) -> int:
        """Queue the request's audit entry; returns its number for `AuditSink.written`."""
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        principal: Principal | None = state.get("principal")
        entry = AuditEntry(
            at=self.now(),
            tenant_id=principal.tenant_id if principal else state.get("audit_tenant_id"),
            actor_type=principal.kind if principal else "anonymous",
            actor_id=principal.id if principal else None,
            actor_name=(principal.name if principal else state.get("audit_actor_name")),
            action=f"{method} {template}",
            method=method,
            path=path,
            status_code=status,
            request_id=request_id,
            client_ip=state.get("client_ip"),
            details={"path_params": scope.get("path_params", {}), **state.get("audit_details", {})},
        )
        try:
            return await self.audit.submit(entry)
        except Exception as exc:  # an audit failure must be loud, but must not break the answer
            log.error("audit_write_failed", error=str(exc), request_id=request_id)
            return 0


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int:
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


async def _send_cut_error(
    send: Callable[[Message], Awaitable[None]], status: int, headers: list[tuple[bytes, bytes]]
) -> None:
    body = {
        "error": {
            "code": "error_body_too_large",
            "message": f"the error answer was longer than {MAX_ERROR_BODY_BYTES} bytes and "
            "was left out",
            "details": {"limit_bytes": MAX_ERROR_BODY_BYTES},
        }
    }
    kept = [(n, v) for n, v in headers if n not in (b"content-length", b"content-type")]
    await send_error(send, status, body, kept)


async def _too_large(send: Callable[[Message], Awaitable[None]], limit: int) -> None:
    body = {
        "error": {
            "code": "payload_too_large",
            "message": f"request body exceeds the limit of {limit} bytes",
            "details": {"limit_bytes": limit},
        }
    }
    await send_error(send, 413, body)
