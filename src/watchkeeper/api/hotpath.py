"""The hottest read endpoints answered before FastAPI's routing and dependency machinery.

`GET /health/live` and `GET /system/status` are polled by probes, dashboards and load
balancers. Routing plus dependency resolution cost more than their whole answer, so when the
answer can come from memory (a credential already verified, a fresh status cache) this layer
sends it directly; anything else — a new token, a missing permission, a stale cache, an error —
falls through to the FastAPI route, which stays the one documented implementation.
Both paths build the body with `status_body`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

import watchkeeper
from watchkeeper.app_context import AppContext
from watchkeeper.auth.principal import Principal
from watchkeeper.observability.health import CheckResult
from watchkeeper.observability.status import TenantCounts
from watchkeeper.ratelimit.limiter import READS, RateLimited, RateLimiter

_JSON = [(b"content-type", b"application/json")]
_LIVE = b'{"status":"ok"}'
_UPTIME = "\x00uptime\x00"  # a placeholder no real status value can contain
_UPTIME_JSON = json.dumps(_UPTIME).encode()


def status_body(
    context: AppContext, components: list[CheckResult], counts: TenantCounts
) -> dict[str, Any]:
    return {
        "version": watchkeeper.__version__,
        "profile": context.settings.profile,
        "uptime_seconds": round(context.clock.time() - context.started_at, 3),
        "tenant": counts.tenant_name,
        "components": [{"name": c.name, "healthy": c.ok, "detail": c.detail} for c in components],
        "counts": counts.counts,
    }


class _Route:
    """What the request middleware reads for its per-route metrics."""

    def __init__(self, path: str) -> None:
        self.path = path


class HotPaths:
    def __init__(
        self, app: ASGIApp, context: AppContext, limiter: RateLimiter | None = None
    ) -> None:
        self.app = app
        self.context = context
        self.limiter = limiter
        self._live_route = _Route("/health/live")
        self._status_route = _Route("/system/status")
        # tenant -> (components, counts, body before the uptime, body after it)
        self._bodies: dict[str, tuple[object, object, bytes, bytes]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = scope["path"]
            if path == "/health/live":
                scope["route"] = self._live_route
                await _send(send, _LIVE)
                return
            if path == "/system/status":
                body = self._status(scope)
                if body is not None and await self._within_limits(scope):
                    scope["route"] = self._status_route
                    await _send(send, body)
                    return
        await self.app(scope, receive, send)

    async def _within_limits(self, scope: Scope) -> bool:
        """Over a rate limit: the route answers (with the 429)."""
        if self.limiter is None:
            return True
        try:
            await self.limiter.check(scope["state"]["principal"], READS)
        except RateLimited:
            return False
        return True

    def _status(self, scope: Scope) -> bytes | None:
        principal = self._principal(scope)
        if principal is None or principal.restriction or not principal.can("system:read"):
            return None
        components = self.context.status.fresh_components()
        counts = self.context.status.fresh_counts(principal.tenant_id)
        if components is None or counts is None:
            return None
        scope.setdefault("state", {})["principal"] = principal
        cached = self._bodies.get(principal.tenant_id)
        if cached is None or cached[0] is not components or cached[1] is not counts:
            # Encode once per cache refresh; only the uptime changes between requests.
            body = status_body(self.context, components, counts)
            body["uptime_seconds"] = _UPTIME
            head, _, tail = json.dumps(body, separators=(",", ":")).encode().partition(_UPTIME_JSON)
            cached = (components, counts, head, tail)
            if len(self._bodies) >= 10_000:
                self._bodies.clear()
            self._bodies[principal.tenant_id] = cached
        uptime = round(self.context.clock.time() - self.context.started_at, 3)
        return b"%s%s%s" % (cached[2], repr(uptime).encode(), cached[3])

    def _principal(self, scope: Scope) -> Principal | None:
        credential = ""
        for name, value in scope.get("headers") or ():
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    credential = token.strip()
            elif name == b"x-api-key" and not credential:
                credential = value.decode("latin-1").strip()
        if not credential:
            return None
        try:
            return self.context.auth.cached(credential)
        except Exception:  # any doubt about the credential: let the real route answer
            return None


async def _send(send: Send, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [*_JSON, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
