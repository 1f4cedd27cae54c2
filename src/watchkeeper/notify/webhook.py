"""Generic JSON webhook, signed with HMAC-SHA256, optionally in Alertmanager's format.

Headers on every request:
  Idempotency-Key: <key>              stable across retries of one notification
  X-Watchkeeper-Timestamp: <unix s>   when this attempt was signed
  X-Watchkeeper-Signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>." + body)>
Signing the timestamp with the body lets a receiver refuse replays older than its tolerance
(`verify_signature` does both checks), as Stripe's and Slack's signing schemes do.

Body: Watchkeeper's own JSON (`native_payload`) or, with `alertmanager_format`, the
Alertmanager webhook_config body, version 4 (`alertmanager_payload`), so any receiver written
for Alertmanager can take Watchkeeper's notifications unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from watchkeeper.clock import Clock
from watchkeeper.domain.alert_group import AlertGroup

from .base import DeliveryResult, RenderedMessage
from .http import HttpChannel, HttpClient
from .outbound import OutboundPolicy

SIGNATURE_HEADER = "X-Watchkeeper-Signature"
TIMESTAMP_HEADER = "X-Watchkeeper-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: bytes,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    now: float,
    tolerance: float = 300.0,
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def native_payload(message: RenderedMessage, sent_at: float) -> dict[str, Any]:
    return {
        "version": "1",
        "id": message.idempotency_key,
        "template_id": message.template_id,
        "priority": message.priority.value,
        "subject": message.subject,
        "text": message.text,
        "link": message.link,
        "facts": dict(message.facts),
        "variables": dict(message.variables),
        "sent_at": sent_at,
    }


def alertmanager_payload(
    message: RenderedMessage, *, receiver: str, max_alerts: int = 0
) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4): the message's alert group, or for a message
    not routed as a group, one built from its `alerts`/`alert` variables."""
    group = message.group or AlertGroup.from_variables(message.variables)
    return group.to_alertmanager(receiver=receiver, max_alerts=max_alerts)


class WebhookChannel(HttpChannel):
    """POSTs signed JSON to one URL."""

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        alertmanager_format: bool = False,
        max_alerts: int = 0,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        client: HttpClient | None = None,
        clock: Clock | None = None,
        name: str = "webhook",
        outbound: OutboundPolicy | None = None,
    ) -> None:
        super().__init__(
            url, name=name, timeout=timeout, client=client, clock=clock, outbound=outbound
        )
        self._secret = secret.encode() if secret else None
        self._alertmanager = alertmanager_format
        self._max_alerts = max_alerts
        self._headers = dict(headers or {})

    def build_request(self, message: RenderedMessage) -> tuple[bytes, dict[str, str]]:
        """The exact body and headers one attempt sends (signed at this attempt's time)."""
        now = self._clock.time()
        payload = (
            alertmanager_payload(message, receiver=self._name, max_alerts=self._max_alerts)
            if self._alertmanager
            else native_payload(message, now)
        )
        body = json.dumps(payload, ensure_ascii=False, default=_json_default).encode()
        headers = {**self._headers, "Content-Type": "application/json; charset=utf-8"}
        if message.idempotency_key:
            headers[IDEMPOTENCY_HEADER] = message.idempotency_key
        if self._secret is not None:
            timestamp = int(now)
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, body)
        return body, headers

    async def send(self, message: RenderedMessage) -> DeliveryResult:
        body, headers = self.build_request(message)
        return await self._post(content=body, headers=headers)
