"""One HTTP POST for the webhook-style channels, with its outcome classified for retry.

5xx, 408, 429, timeouts and connection errors are retryable; every other 4xx is permanent
(the same request will be refused again), and so is a destination the outbound guard refuses.
The reason keeps the status line and a short printable excerpt of the reply (a tenant reads
it back), and the target URL is never echoed: for Slack and Teams the URL itself is the secret.
Every session here is the guarded one of `outbound.new_session`.
"""

from __future__ import annotations

import abc
import base64
import json
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from yarl import URL

from watchkeeper.clock import Clock, SystemClock

from . import outbound
from .base import DeliveryResult, RenderedMessage
from .outbound import OutboundPolicy, OutboundRefused, excerpt

RETRYABLE_STATUS = frozenset({408, 425, 429})
BODY_READ_LIMIT = 4096  # bytes of a reply read for its excerpt; a longer one is cut off
CONNECTION_LIMIT = 100  # aiohttp's own default, stated: one process's outgoing connections


def new_session(
    policy: OutboundPolicy | None = None, limit: int = CONNECTION_LIMIT
) -> aiohttp.ClientSession:
    """A guarded session for notification POSTs (`outbound.new_session`); must be called
    inside the running event loop. Without a policy only public addresses are reached."""
    return outbound.new_session(policy or OutboundPolicy(), limit=limit)


class OwnedClient:
    """An aiohttp.ClientSession given by the caller (shared, not closed here), or made on first
    use and closed by `aclose`. Made lazily because a session binds to the running event loop,
    and channels are often built before one runs (`initialize_notification_service` is sync).

    Given another OwnedClient, this one shares that one's session and leaves closing it to its
    owner: that is how the channels of one service share a session made on first use.
    """

    def __init__(self, client: HttpClient | None, policy: OutboundPolicy | None = None) -> None:
        self._client = client
        self._policy = policy
        self._owned: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if isinstance(self._client, OwnedClient):
            return self._client.get()
        if self._client is not None:
            return self._client
        if self._owned is None or self._owned.closed:
            self._owned = new_session(self._policy)
        return self._owned

    async def aclose(self) -> None:
        if self._owned is not None:
            await self._owned.close()
            self._owned = None


HttpClient = aiohttp.ClientSession | OwnedClient
"""What a channel takes as `client`: a session, or a lazily made one shared with others."""


def basic_auth(username: str, password: str) -> str:
    """The Basic Authorization header value, UTF-8 (RFC 7617), as httpx sent it: written out
    because aiohttp 3.14 deprecates `BasicAuth` and its replacement is not in older releases."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def is_retryable_status(status: int) -> bool:
    return status >= 500 or status in RETRYABLE_STATUS


def retry_after_seconds(value: str | None, clock: Clock) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - clock.time())


async def post(
    client: aiohttp.ClientSession,
    channel: str,
    url: str,
    *,
    clock: Clock,
    timeout: float,
    content: bytes | None = None,
    data: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    recipient: str | None = None,
) -> DeliveryResult:
    """POST once and classify: 2xx delivered, retryable or permanent failure otherwise.

    Redirects are not followed: a 3xx is a permanent failure, as a webhook that moved must be
    reconfigured (and following it would resend the body, and any auth, somewhere else).
    `client` must be a guarded session (`outbound.new_session`): a tenant chose the URL.
    """
    if not outbound.is_guarded(client):
        raise TypeError("tenant destinations are reached only through outbound.new_session")
    undelivered = (recipient,) if recipient else ()
    kwargs: dict[str, Any] = {
        "headers": dict(headers or {}),
        "timeout": aiohttp.ClientTimeout(total=timeout),
        "allow_redirects": False,
    }
    if content is not None:
        kwargs["data"] = content
    if data is not None:
        kwargs["data"] = dict(data)
    if auth is not None:
        kwargs["headers"]["Authorization"] = basic_auth(*auth)
    try:
        async with client.post(url, **kwargs) as response:
            status = response.status
            body = await _read_some(response)
            retry_after = response.headers.get("Retry-After")
            charset = response.charset or "utf-8"
    except OutboundRefused as exc:
        return DeliveryResult.fail(channel, str(exc), undelivered=undelivered)
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
        return DeliveryResult.fail(channel, f"invalid URL: {type(exc).__name__}")
    except TimeoutError as exc:  # asyncio.TimeoutError and aiohttp's ServerTimeoutError
        reason = f"timed out after {timeout:g} s ({type(exc).__name__})"
        return DeliveryResult.retry(channel, reason, undelivered=undelivered)
    except aiohttp.ClientResponseError as exc:  # a malformed response; its str names the URL
        reason = excerpt(_redact(f"{type(exc).__name__}: {exc.message}", url))
        return DeliveryResult.retry(channel, reason, undelivered=undelivered)
    except (aiohttp.ClientError, OSError) as exc:  # connection refused, reset, DNS, TLS
        reason = excerpt(_redact(f"{type(exc).__name__}: {exc}", url))
        return DeliveryResult.retry(channel, reason, undelivered=undelivered)
    if 200 <= status < 300:
        return DeliveryResult.ok(channel, status)
    text = excerpt(_redact(_decode(body, charset), url))
    reason = f"HTTP {status}: {text}" if text else f"HTTP {status}"
    if is_retryable_status(status):
        return DeliveryResult.retry(
            channel,
            reason,
            status_code=status,
            retry_after=retry_after_seconds(retry_after, clock),
            undelivered=undelivered,
        )
    return DeliveryResult.fail(channel, reason, status_code=status, undelivered=undelivered)


async def _read_some(response: aiohttp.ClientResponse) -> bytes:
    """The reply's first `BODY_READ_LIMIT` bytes; a short reply is read to its end, so the
    connection goes back to the pool, a longer one's connection is closed instead."""
    body = b""
    while len(body) < BODY_READ_LIMIT:
        chunk = await response.content.read(BODY_READ_LIMIT - len(body))
        if not chunk:
            return body
        body += chunk
    if not response.content.at_eof():
        response.close()
    return body


def _decode(body: bytes, charset: str) -> str:
    try:
        return body.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


def _redact(text: str, url: str) -> str:
    """The text with the URL (as given, and as aiohttp normalises it) replaced by `<url>`."""
    try:
        forms = {url, str(URL(url))}
    except (TypeError, ValueError):
        forms = {url}
    for form in sorted(forms, key=len, reverse=True):
        if form:
            text = text.replace(form, "<url>")
    return text


class HttpChannel:
    """What every channel that POSTs to one URL holds: the guarded client (owned unless one is
    passed in), its clock and timeout, and its name; `_post` sends and classifies once."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        timeout: float,
        client: HttpClient | None,
        clock: Clock | None,
        outbound: OutboundPolicy | None,
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._client = OwnedClient(client, outbound)
        self._clock = clock or SystemClock()
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def _post(
        self,
        *,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        recipient: str | None = None,
    ) -> DeliveryResult:
        return await post(
            self._client.get(),
            self._name,
            self._url,
            clock=self._clock,
            timeout=self._timeout,
            content=content,
            data=data,
            headers=headers,
            auth=auth,
            recipient=recipient,
        )

    async def aclose(self) -> None:
        await self._client.aclose()


class JsonPostChannel(HttpChannel, abc.ABC):
    """A channel that POSTs one JSON document per message to a URL that is itself the secret
    (Slack incoming webhooks, Teams Workflows); subclasses only shape the document."""

    default_name = "json"

    def __init__(
        self,
        webhook_url: str,
        *,
        timeout: float = 10.0,
        client: HttpClient | None = None,
        clock: Clock | None = None,
        name: str | None = None,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        super().__init__(
            webhook_url,
            name=name or self.default_name,
            timeout=timeout,
            client=client,
            clock=clock,
            outbound=outbound,
        )

    @abc.abstractmethod
    def payload(self, message: RenderedMessage) -> dict[str, Any]: ...

    async def send(self, message: RenderedMessage) -> DeliveryResult:
        body = json.dumps(self.payload(message), ensure_ascii=False).encode()
        return await self._post(
            content=body, headers={"Content-Type": "application/json; charset=utf-8"}
        )
