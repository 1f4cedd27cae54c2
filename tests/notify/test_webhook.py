"""Generic webhook end to end: signature, replay window, idempotency key, Alertmanager body."""

from __future__ import annotations

import json

import pytest

from tests.receivers import HttpReceiver
from tests.support import local_outbound
from watchkeeper.alert.model import fingerprint as label_fingerprint
from watchkeeper.clock import ManualClock
from watchkeeper.notify.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookChannel,
    verify_signature,
)

from .conftest import rendered

LOCAL = local_outbound()

pytestmark = pytest.mark.anyio

SECRET = "whsec-0123456789"
NOW = 1_700_000_000.0


async def test_signed_json_reaches_the_receiver(receiver: HttpReceiver) -> None:
    clock = ManualClock(NOW)
    hook = WebhookChannel(
        receiver.url(),
        secret=SECRET,
        headers={"Authorization": "Bearer t0k"},
        clock=clock,
        outbound=LOCAL,
    )

    result = await hook.send(rendered("webhook"))
    await hook.aclose()

    assert result.delivered
    request = receiver.requests[0]
    headers = request.headers
    assert headers[IDEMPOTENCY_HEADER.lower()] == "n-1.webhook"
    assert headers[TIMESTAMP_HEADER.lower()] == str(int(NOW))
    assert headers["authorization"] == "Bearer t0k"
    assert verify_signature(
        SECRET.encode(),
        request.body,
        headers[TIMESTAMP_HEADER.lower()],
        headers[SIGNATURE_HEADER.lower()],
        now=NOW + 10,
    )
    body = json.loads(request.body)
    assert body["id"] == "n-1.webhook"
    assert body["subject"] == "[FIRING] HighCPUUsage (critical)"
    assert body["priority"] == "normal"
    assert body["variables"]["alert"]["labels"]["service"] == "checkout"


async def test_signature_rejects_tampering_wrong_secret_and_replay(
    receiver: HttpReceiver,
) -> None:
    hook = WebhookChannel(receiver.url(), secret=SECRET, clock=ManualClock(NOW), outbound=LOCAL)
    await hook.send(rendered("webhook"))
    await hook.aclose()
    request = receiver.requests[0]
    ts = request.headers[TIMESTAMP_HEADER.lower()]
    signature = request.headers[SIGNATURE_HEADER.lower()]
    key = SECRET.encode()

    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert not verify_signature(key, request.body + b" ", ts, signature, now=NOW)
    assert not verify_signature(b"other-secret", request.body, ts, signature, now=NOW)
    assert not verify_signature(key, request.body, str(int(NOW) + 1), signature, now=NOW)
    assert not verify_signature(key, request.body, ts, signature, now=NOW + 301)


async def test_unsigned_when_no_secret(receiver: HttpReceiver) -> None:
    hook = WebhookChannel(receiver.url(), outbound=LOCAL)

    await hook.send(rendered("webhook"))
    await hook.aclose()

    assert SIGNATURE_HEADER.lower() not in receiver.requests[0].headers


async def test_alertmanager_compatible_body(receiver: HttpReceiver) -> None:
    resolved = {
        "name": "DiskFull",
        "status": "resolved",
        "labels": {"alertname": "DiskFull", "service": "checkout", "instance": "db-1"},
        "annotations": {"summary": "disk full"},
        "starts_at": "2024-05-01T11:00:00Z",
        "ends_at": "2024-05-01T11:30:00Z",
        "url": "http://localhost:8000/alerts/DiskFull",
    }
    firing = {
        **resolved,
        "status": "firing",
        "ends_at": None,
        "labels": {"alertname": "DiskFull", "service": "checkout", "instance": "db-2"},
    }
    message = rendered(
        "webhook", variables={"alerts": [firing, resolved], "external_url": "http://wk:8000"}
    )
    hook = WebhookChannel(receiver.url(), alertmanager_format=True, name="ops-hook", outbound=LOCAL)

    await hook.send(message)
    await hook.aclose()

    body = json.loads(receiver.requests[0].body)
    assert body["version"] == "4"
    assert body["status"] == "firing"
    assert body["receiver"] == "ops-hook"
    assert body["groupKey"] == '{}:{alertname="DiskFull"}'
    assert body["groupLabels"] == {"alertname": "DiskFull"}
    assert body["commonLabels"] == {"alertname": "DiskFull", "service": "checkout"}
    assert body["commonAnnotations"] == {"summary": "disk full"}
    assert body["externalURL"] == "http://wk:8000"
    assert body["truncatedAlerts"] == 0
    first, second = body["alerts"]
    assert first["endsAt"] == "0001-01-01T00:00:00Z"
    assert second["status"] == "resolved" and second["endsAt"] == "2024-05-01T11:30:00Z"
    assert first["generatorURL"] == "http://localhost:8000/alerts/DiskFull"
    assert first["fingerprint"] == label_fingerprint(firing["labels"])  # type: ignore[arg-type]
    assert first["fingerprint"] != second["fingerprint"]


async def test_alertmanager_max_alerts_truncates(receiver: HttpReceiver) -> None:
    alerts = [{"name": "A", "labels": {"i": str(i)}} for i in range(5)]
    hook = WebhookChannel(receiver.url(), alertmanager_format=True, max_alerts=2, outbound=LOCAL)

    await hook.send(rendered("webhook", variables={"alerts": alerts}))
    await hook.aclose()

    body = json.loads(receiver.requests[0].body)
    assert (len(body["alerts"]), body["truncatedAlerts"]) == (2, 3)


def test_fingerprint_matches_prometheus_for_the_empty_label_set() -> None:
    # prometheus/common model: the empty LabelSet's fingerprint is the FNV-1a 64 offset basis.
    assert label_fingerprint({}) == "cbf29ce484222325"
