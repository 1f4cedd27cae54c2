"""One HTTP POST for the webhook-style channels, with its outcome classified for retry.

5xx, 408, 429, timeouts and connection errors are retryable; every other 4xx is permanent
(the same request will be refused again). The response text goes into the reason, cut short,
and the target URL is never echoed: for Slack and Teams the URL itself is the secret.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from watchkeeper.clock import Clock, SystemClock

from .base import DeliveryResult, RenderedMessage

RETRYABLE_STATUS = frozenset({408, 425, 429})
REASON_LIMIT = 300


class OwnedClient:
    """An httpx.AsyncClient given by the caller (shared, not closed here) or made on first use."""

    def __init__(self, client: httpx.AsyncClient | None) -> None:
        self._client = client
        self._owned: httpx.AsyncClient | None = None

    def get(self) -> httpx.AsyncClient:
        if self._client is not None:
            return self._client
        if self._owned is None:
            self._owned = httpx.AsyncClient()
        return self._owned

    async def aclose(self) -> None:
        if self._owned is not None:
            await self._owned.aclose()
            self._owned = None


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
    client: httpx.AsyncClient,
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
    """POST once and classify: 2xx delivered, retryable or permanent failure otherwise."""
    undelivered = (recipient,) if recipient else ()
    kwargs: dict[str, Any] = {"headers": dict(headers or {}), "timeout": httpx.Timeout(timeout)}
    if content is not None:
        kwargs["content"] = content
    if data is not None:
        kwargs["data"] = dict(data)
    if auth is not None:
        kwargs["auth"] = httpx.BasicAuth(*auth)
    try:
        response = await client.post(url, **kwargs)
    except httpx.TimeoutException as exc:
        reason = f"timed out after {timeout:g} s ({type(exc).__name__})"
        return DeliveryResult.retry(channel, reason, undelivered=undelivered)
    except httpx.TransportError as exc:
        reason = _redact(f"{type(exc).__name__}: {exc}", url)
        return DeliveryResult.retry(channel, reason, undelivered=undelivered)
    except httpx.InvalidURL as exc:
        return DeliveryResult.fail(channel, f"invalid URL: {type(exc).__name__}")
    status = response.status_code
    if 200 <= status < 300:
        return DeliveryResult.ok(channel, status)
    reason = _redact(f"HTTP {status}: {response.text[:REASON_LIMIT]}", url)
    if is_retryable_status(status):
        return DeliveryResult.retry(
            channel,
            reason,
            status_code=status,
            retry_after=retry_after_seconds(response.headers.get("retry-after"), clock),
            undelivered=undelivered,
        )
    return DeliveryResult.fail(channel, reason, status_code=status, undelivered=undelivered)


def _redact(text: str, url: str) -> str:
    return text.replace(url, "<url>")


class JsonPostChannel(abc.ABC):
    """A channel that POSTs one JSON document per message to a URL that is itself the secret
    (Slack incoming webhooks, Teams Workflows); subclasses only shape the document."""

    default_name = "json"

    def __init__(
        self,
        webhook_url: str,
        *,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        name: str | None = None,
    ) -> None:
        self._url = webhook_url
        self._timeout = timeout
        self._client = OwnedClient(client)
        self._clock = clock or SystemClock()
        self._name = name or self.default_name

    @property
    def name(self) -> str:
        return self._name

    @abc.abstractmethod
    def payload(self, message: RenderedMessage) -> dict[str, Any]: ...

    async def send(self, message: RenderedMessage) -> DeliveryResult:
        body = json.dumps(self.payload(message), ensure_ascii=False).encode()
        return await post(
            self._client.get(),
            self._name,
            self._url,
            clock=self._clock,
            timeout=self._timeout,
            content=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()
