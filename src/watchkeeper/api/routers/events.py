"""`/ws/notifications`: the tenant's real-time events over a WebSocket, resumable by id.

Protocol (docs/design/notifications.md):
- authenticate with the subprotocols `bearer, <access token or API key>` (the browser's
  `new WebSocket(url, ["bearer", token])`; the server answers with subprotocol `bearer`, never
  echoing the token — the same trick as Kubernetes' `base64url.bearer.authorization.k8s.io.`),
  an `Authorization: Bearer` header (non-browser clients), or, when neither is sent, a first
  message `{"type": "auth", "token": "..."}`. `?token=` is refused (4400): servers and proxies
  log URLs, so a credential must never be in one;
- optional `?last_event_id=<id>` replays what was logged after it, `?types=alert,anomaly`
  filters;
- the server sends `{"type": "ready", "data": {"last_event_id", "gap"}}` once subscribed,
  then events `{"id", "type", "data", "at"}`; errors are `{"type": "error", "data":
  {"code", "message"}}` followed by a close with code 4400 (bad request), 4401
  (unauthenticated) or 4403 (forbidden);
- a stream whose credential is revoked (logout, logout-all, password change, disable,
  removal from the tenant, key revocation) gets an error with code `revoked` and a close with
  1008 (policy violation). The credential is checked again before each event sent and every
  `RECHECK_SECONDS` on the app's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from watchkeeper.app_context import AppContext
from watchkeeper.auth.principal import Principal
from watchkeeper.auth.service import AuthError, AuthService
from watchkeeper.auth.tokens import InvalidTokenError
from watchkeeper.events import EVENT_TYPES, Event, EventBus, events_after, log_bounds

router = APIRouter(tags=["events"])

PERMISSION = "events:read"
AUTH_TIMEOUT_SECONDS = 10.0
REPLAY_PAGE = 500
BEARER_PROTOCOL = "bearer"
# As long as the auth service may cache a credential check: a revocation made in this
# process ends a quiet stream within this, one made in another process within twice this.
RECHECK_SECONDS = AuthService.CACHE_SECONDS


class _Refused(Exception):
    def __init__(self, close_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.code = code
        self.message = message


def _protocol_credential(ws: WebSocket) -> str | None:
    """The token from `Sec-WebSocket-Protocol: bearer, <token>`, if sent that way."""
    offered = [str(p).strip() for p in ws.scope.get("subprotocols", [])]
    if len(offered) >= 2 and offered[0] == BEARER_PROTOCOL and offered[1]:
        return offered[1]
    return None


async def _credential(ws: WebSocket, from_protocol: str | None) -> str:
    if "token" in ws.query_params:
        raise _Refused(
            4400,
            "bad_request",
            "credentials in the URL are refused (URLs are logged): send subprotocols "
            '"bearer, <token>" or a first message {"type": "auth", "token": "..."}',
        )
    if from_protocol:
        return from_protocol
    scheme, _, value = ws.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    try:
        first = await asyncio.wait_for(ws.receive_json(), AUTH_TIMEOUT_SECONDS)
    except TimeoutError:
        raise _Refused(4401, "unauthorized", "no credentials sent") from None
    except ValueError:
        raise _Refused(4400, "bad_request", "first message must be JSON") from None
    if not isinstance(first, dict) or first.get("type") != "auth" or not first.get("token"):
        raise _Refused(4401, "unauthorized", 'send {"type": "auth", "token": "<token>"} first')
    return str(first["token"])


async def _principal(context: AppContext, credential: str) -> Principal:
    try:
        principal = context.auth.cached(credential)
        if principal is None:
            principal = await run_in_threadpool(context.auth.authenticate, credential)
    except (InvalidTokenError, AuthError) as exc:
        raise _Refused(4401, "unauthorized", str(exc)) from None
    if not principal.can(PERMISSION):
        raise _Refused(4403, "forbidden", f"permission {PERMISSION!r} is required")
    return principal


def _options(ws: WebSocket) -> tuple[int | None, list[str]]:
    raw_id = ws.query_params.get("last_event_id")
    last: int | None = None
    if raw_id:
        if not raw_id.isdigit() or len(raw_id) > 18:
            raise _Refused(4400, "bad_request", f"last_event_id {raw_id!r} is not an event id")
        last = int(raw_id)
    types = [t for t in ws.query_params.get("types", "").split(",") if t]
    unknown = sorted(set(types) - EVENT_TYPES)
    if unknown:
        raise _Refused(
            4400,
            "bad_request",
            f"unknown event types {unknown}; one of {', '.join(sorted(EVENT_TYPES))}",
        )
    return last, types


async def _replay(
    ws: WebSocket, context: AppContext, tenant_id: str, last: int, types: list[str]
) -> tuple[int, set[int]]:
    sent: set[int] = set()
    while True:

        def page(after: int = last) -> list[Event]:
            with context.sessions.tenant(tenant_id) as db:
                return events_after(db, after, limit=REPLAY_PAGE, types=types)

        items = await run_in_threadpool(page)
        for item in items:
            await ws.send_json(item.message())
            sent.add(item.id)
            last = item.id
        if len(items) < REPLAY_PAGE:
            return last, sent


@router.websocket("/ws/notifications")
async def notifications(ws: WebSocket) -> None:
    context: AppContext = ws.app.state.context
    bus: EventBus = context.events
    from_protocol = _protocol_credential(ws)
    await ws.accept(subprotocol=BEARER_PROTOCOL if from_protocol else None)
    try:
        last, types = _options(ws)
        credential = await _credential(ws, from_protocol)
        principal = await _principal(context, credential)
    except _Refused as refused:
        await ws.send_json(
            {"type": "error", "data": {"code": refused.code, "message": refused.message}}
        )
        await ws.close(refused.close_code, refused.message[:120])
        return
    except WebSocketDisconnect:
        return
    tenant_id = principal.tenant_id
    sub = bus.subscribe(tenant_id)  # before the replay, so nothing falls between the two
    # Its first sleep on the clock is registered before `ready`, so a test that advances the
    # clock after `ready` wakes it.
    revoked = asyncio.ensure_future(_revoked(context, principal, credential))
    await asyncio.sleep(0)
    try:

        def bounds() -> tuple[int, int]:
            with context.sessions.tenant(tenant_id) as db:
                return log_bounds(db)

        oldest, newest = await run_in_threadpool(bounds)
        gap = last is not None and oldest > 0 and last < oldest - 1
        position, replayed = newest, set[int]()
        if last is not None:
            position, replayed = await _replay(ws, context, tenant_id, last, types)
        await ws.send_json(
            {"type": "ready", "data": {"last_event_id": str(max(position, newest)), "gap": gap}}
        )
        await _stream(ws, context, sub, types, position, replayed, principal, credential, revoked)
    except _Refused as refused:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await ws.send_json(
                {"type": "error", "data": {"code": refused.code, "message": refused.message}}
            )
            await ws.close(refused.close_code, refused.message[:120])
    except WebSocketDisconnect:
        pass
    finally:
        revoked.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await revoked
        bus.unsubscribe(sub)


async def _check(context: AppContext, principal: Principal, credential: str) -> None:
    """Raises _Refused (1008) once the stream's credential is revoked."""
    try:
        if not context.auth.revalidated_from_cache(principal, credential):
            await run_in_threadpool(context.auth.revalidate, principal, credential)
    except InvalidTokenError as exc:
        raise _Refused(1008, "revoked", f"credential revoked: {exc}") from None


async def _revoked(context: AppContext, principal: Principal, credential: str) -> _Refused:
    """Checks the credential every RECHECK_SECONDS of the app's clock; returns the refusal
    once it is revoked."""
    while True:
        await context.clock.sleep(RECHECK_SECONDS)
        try:
            await _check(context, principal, credential)
        except _Refused as refused:
            return refused


async def _stream(
    ws: WebSocket,
    context: AppContext,
    sub: Any,
    types: list[str],
    position: int,
    replayed: set[int],
    principal: Principal,
    credential: str,
    revoked: asyncio.Future[_Refused],
) -> None:
    """Live events until the client goes or the credential is revoked; a client that fell
    behind re-reads the log."""
    tenant_id = principal.tenant_id
    closed = asyncio.ensure_future(_drain_client(ws))
    try:
        while not closed.done():
            getter = asyncio.ensure_future(sub.queue.get())
            done, _ = await asyncio.wait(
                {getter, closed, revoked}, return_when=asyncio.FIRST_COMPLETED
            )
            if revoked in done:
                getter.cancel()
                raise revoked.result()
            if getter not in done:
                getter.cancel()
                return
            item: Event = getter.result()
            await _check(context, principal, credential)
            if sub.overflowed:
                sub.overflowed = False
                while not sub.queue.empty():
                    sub.queue.get_nowait()
                position, more = await _replay(ws, context, tenant_id, position, types)
                replayed |= more
                continue
            if item.id in replayed or (types and item.type not in types):
                continue
            await ws.send_json(item.message())
            position = max(position, item.id)
    finally:
        closed.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await closed


async def _drain_client(ws: WebSocket) -> None:
    """Reads (and ignores) client messages; returns when the client disconnects."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
