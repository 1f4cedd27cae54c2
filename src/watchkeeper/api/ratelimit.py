"""The rate limiter at the HTTP edge: refusals as 429 with Retry-After, failures counted.

The per-principal check runs where the principal becomes known (`deps.get_principal` and the
status hot path); this middleware refuses addresses with many recent failures before any
authentication work, and counts every 4xx answer (except 429) against the principal, or the
address when there is none (bad credentials).
"""

from __future__ import annotations

import math

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watchkeeper.api.errors import send_error
from watchkeeper.ratelimit.limiter import RateLimited, RateLimiter, kind_of


def retry_after(exc: RateLimited) -> str:
    return str(max(1, math.ceil(exc.retry_after)))


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = kind_of(scope["method"], scope["path"])
        if kind is None:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        address: str | None = state.get("client_ip")
        if address is not None:
            try:
                await self.limiter.check_address(address, kind)
            except RateLimited as exc:
                await _too_many(send, exc)
                return
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, send_status)
        if 400 <= status < 500 and status != 429:
            await self.limiter.failed(state.get("principal"), address)


async def _too_many(send: Send, exc: RateLimited) -> None:
    body = {
        "error": {
            "code": "rate_limited",
            "message": str(exc),
            "details": {"kind": exc.kind, "retry_after_seconds": exc.retry_after},
        }
    }
    await send_error(send, 429, body, [(b"retry-after", retry_after(exc).encode())])
