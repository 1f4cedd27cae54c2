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
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from watchkeeper.alert.model import fingerprint
from watchkeeper.clock import Clock, SystemClock

from .base import DeliveryResult, RenderedMessage
from .http import HttpClient, OwnedClient, post
from .outbound import OutboundPolicy

SIGNATURE_HEADER = "X-Watchkeeper-Signature"
TIMESTAMP_HEADER = "X-Watchkeeper-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt for an alert still firing


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


def _as_str_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def _time(value: object, default: str) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value) if value else default


def _am_alert(alert: Mapping[str, Any]) -> dict[str, Any]:
    labels = _as_str_map(alert.get("labels"))
    if alert.get("name"):
        labels.setdefault("alertname", str(alert["name"]))
    annotations = _as_str_map(alert.get("annotations"))
    for key in ("summary", "description"):
        if alert.get(key):
            annotations.setdefault(key, str(alert[key]))
    return {
        "status": "resolved" if alert.get("status") == "resolved" else "firing",
        "labels": labels,
        "annotations": annotations,
        "startsAt": _time(alert.get("starts_at"), ZERO_TIME),
        "endsAt": _time(alert.get("ends_at"), ZERO_TIME),
        "generatorURL": str(alert.get("generator_url") or alert.get("url") or ""),
        "fingerprint": str(alert.get("fingerprint") or fingerprint(labels)),
    }


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def alertmanager_payload(
    message: RenderedMessage, *, receiver: str, max_alerts: int = 0
) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) from the message's `alerts`/`alert` variables."""
    variables = message.variables
    raw = variables.get("alerts") or ([variables["alert"]] if "alert" in variables else [])
    alerts = [_am_alert(a) for a in raw if isinstance(a, Mapping)]
    common_labels = _common([a["labels"] for a in alerts])
    group_labels = _as_str_map(variables.get("group_labels")) or {
        k: v for k, v in common_labels.items() if k == "alertname"
    }
    pairs = ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(group_labels.items()))
    group_key = variables.get("group_key") or f"{{}}:{{{pairs}}}"
    kept = alerts[:max_alerts] if max_alerts > 0 else alerts
    return {
        "version": "4",
        "groupKey": str(group_key),
        "truncatedAlerts": len(alerts) - len(kept),
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": common_labels,
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": str(variables.get("external_url") or ""),
        "alerts": kept,
    }


class WebhookChannel:
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
        self._url = url
        self._secret = secret.encode() if secret else None
        self._alertmanager = alertmanager_format
        self._max_alerts = max_alerts
        self._headers = dict(headers or {})
        self._timeout = timeout
        self._client = OwnedClient(client, outbound)
        self._clock = clock or SystemClock()
        self._name = name

    @property
    def name(self) -> str:
        return self._name

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
        return await post(
            self._client.get(),
            self._name,
            self._url,
            clock=self._clock,
            timeout=self._timeout,
            content=body,
            headers=headers,
        )

    async def aclose(self) -> None:
        await self._client.aclose()
