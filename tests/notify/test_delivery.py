"""The delivery worker against real receivers: retries, idempotency, dead letter, fan-out,
every channel end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from tests.notify.conftest import DeliveryRig, Mailbox
from tests.receivers import HttpReceiver, Reply
from watchkeeper.notify.webhook import verify_signature

pytestmark = pytest.mark.anyio


async def test_failing_endpoint_gets_exactly_one_delivery_per_key(
    rig: DeliveryRig, receiver: HttpReceiver
) -> None:
    receiver.replies = [Reply(500), Reply(500)]
    rig.add_receiver("hook", [{"type": "webhook", "config": {"url": receiver.url()}}])
    rig.enqueue("n-1", receiver="hook")
    before = {
        outcome: _sample("watchkeeper_notification_delivery_attempts_total", outcome=outcome)
        for outcome in ("retry", "delivered")
    }
    failures = _sample("watchkeeper_notification_delivery_failures_total", reason="http_5xx")
    worker = rig.worker(backoff_base_seconds=10, backoff_cap_seconds=60)

    assert await worker.drain_once() == 1  # the receiver row fans out
    for _ in range(3):
        await worker.drain_once()
        rig.clock.advance(61)
    child = rig.row("n-1:0")
    assert child.status == "sent" and child.attempts == 3
    assert rig.row("n-1").status == "expanded"
    keys = [r.headers["idempotency-key"] for r in receiver.requests]
    assert keys == ["n-1:0"] * 3  # same key on every attempt
    assert await worker.drain_once() == 0  # nothing is sent again
    retried = _sample("watchkeeper_notification_delivery_attempts_total", outcome="retry")
    delivered = _sample("watchkeeper_notification_delivery_attempts_total", outcome="delivered")
    assert (retried - before["retry"], delivered - before["delivered"]) == (2, 1)
    assert _sample("watchkeeper_notification_delivery_failures_total", reason="http_5xx") == (
        failures + 2
    )
    assert worker.sample_queue() == {"expanded": 1, "sent": 1}


def _sample(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, {"channel": "webhook", **labels}) or 0.0


async def test_backoff_waits_and_honours_retry_after(
    rig: DeliveryRig, receiver: HttpReceiver
) -> None:
    receiver.replies = [Reply(429, headers={"Retry-After": "120"})]
    rig.add_receiver("default", [{"type": "webhook", "config": {"url": receiver.url()}}])
    rig.enqueue("n-2", channel="webhook")
    worker = rig.worker(backoff_base_seconds=1, backoff_cap_seconds=600)
    await worker.drain_once()
    row = rig.row("n-2")
    assert row.status == "pending" and "429" in row.last_error
    assert (row.next_attempt_at - rig.clock.now()).total_seconds() >= 120
    rig.clock.advance(100)
    assert await worker.drain_once() == 0  # not due yet
    rig.clock.advance(30)
    await worker.drain_once()
    assert rig.row("n-2").status == "sent" and len(receiver.requests) == 2


async def test_dead_after_max_attempts_or_a_permanent_failure(
    rig: DeliveryRig, receiver: HttpReceiver
) -> None:
    receiver.default = Reply(503)
    rig.add_receiver("default", [{"type": "webhook", "config": {"url": receiver.url()}}])
    rig.enqueue("n-3", channel="webhook")
    worker = rig.worker(max_attempts=3, backoff_base_seconds=1, backoff_cap_seconds=1)
    for _ in range(5):
        await worker.drain_once()
        rig.clock.advance(2)
    row = rig.row("n-3")
    assert row.status == "dead" and row.attempts == 3 and "attempts exhausted" in row.last_error

    receiver.default = Reply(404)
    rig.enqueue("n-4", channel="webhook")
    await worker.drain_once()
    assert rig.row("n-4").status == "dead" and rig.row("n-4").attempts == 1


async def test_unknown_receiver_is_dead_with_the_reason(rig: DeliveryRig) -> None:
    rig.enqueue("n-5", receiver="nobody")
    await rig.worker().drain_once()
    row = rig.row("n-5")
    assert row.status == "dead" and "nobody" in row.last_error


async def test_a_lapsed_lease_is_taken_again_and_a_late_answer_is_dropped(
    rig: DeliveryRig, receiver: HttpReceiver
) -> None:
    rig.add_receiver("default", [{"type": "webhook", "config": {"url": receiver.url()}}])
    rig.enqueue("n-6", channel="webhook")
    worker = rig.worker(lease_seconds=30)
    first = worker.pipeline.claim()  # a worker that claims, then dies
    assert [c.idempotency_key for c in first] == ["n-6"]
    assert await worker.drain_once() == 0  # leased: nobody else takes it
    rig.clock.advance(31)
    await worker.drain_once()
    assert rig.row("n-6").status == "sent" and rig.row("n-6").attempts == 2
    from watchkeeper.notify.outbox import OutboxStatus
    from watchkeeper.notify.pipeline import Outcome

    worker.pipeline.record(
        [Outcome(first[0], OutboxStatus.DEAD, "late")]
    )  # the dead worker's answer
    assert rig.row("n-6").status == "sent"


async def test_fan_out_reaches_every_integration_with_its_own_body(
    rig: DeliveryRig, receiver: HttpReceiver, smtp_plain: Mailbox
) -> None:
    rig.add_receiver(
        "team",
        [
            {
                "type": "webhook",
                "config": {"url": receiver.url("/am"), "alertmanager_format": True},
            },
            {"type": "slack", "config": {"webhook_url": receiver.url("/slack")}},
            {"type": "teams", "config": {"webhook_url": receiver.url("/teams")}},
            {
                "type": "email",
                "config": {"host": "127.0.0.1", "port": smtp_plain.port, "security": "none"},
            },
            {
                "type": "sms",
                "config": {
                    "account_sid": "AC1",
                    "auth_token": "tok",
                    "from_number": "+15550000000",
                    "base_url": receiver.url("/twilio"),
                },
            },
        ],
    )
    payload = {
        "version": "4",
        "groupKey": '{}:{alertname="DiskFull"}',
        "status": "firing",
        "receiver": "team",
        "groupLabels": {"alertname": "DiskFull"},
        "commonLabels": {"alertname": "DiskFull", "severity": "critical"},
        "commonAnnotations": {},
        "externalURL": "http://wk.example",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DiskFull", "severity": "critical", "host": "db-1"},
                "annotations": {"summary": "disk full on db-1"},
                "startsAt": "2026-11-28T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://wk.example/g",
                "fingerprint": "abc",
            }
        ],
        "changes": {"new": ["abc"], "resolved": [], "unchanged": 0},
    }
    rig.enqueue(
        "ag:1",
        receiver="team",
        recipients=("oncall@example.com", "+15551234567"),
        payload=payload,
        priority="critical",
        source="alert_group",
    )
    worker = rig.worker()
    await worker.drain_once()
    await worker.drain_once()
    assert [r.status for r in rig.rows()] == ["expanded"] + ["sent"] * 5
    by_path = {r.path: r for r in receiver.requests}
    am = json.loads(by_path["/am"].body)
    assert am["version"] == "4" and am["alerts"][0]["labels"]["host"] == "db-1"
    assert am["groupKey"] == '{}:{alertname="DiskFull"}'
    assert "disk full on db-1" in by_path["/slack"].body.decode()
    assert "disk full on db-1" in by_path["/teams"].body.decode()
    sms = [r for r in receiver.requests if r.path.startswith("/twilio")]
    assert len(sms) == 1 and b"To=%2B15551234567" in sms[0].body
    envelope, mail = smtp_plain.mails[0]
    assert envelope.rcpt_tos == ["oncall@example.com"] and "DiskFull" in str(mail["Subject"])


async def test_webhook_signature_verifies_and_secrets_are_encrypted_at_rest(
    rig: DeliveryRig, receiver: HttpReceiver
) -> None:
    rig.add_receiver(
        "signed", [{"type": "webhook", "config": {"url": receiver.url(), "secret": "s3cr3t"}}]
    )
    from sqlalchemy import select

    from watchkeeper.db.tables import NotificationReceiver

    with rig.sessions.tenant(rig.tenant_id) as db:
        stored = db.scalar(select(NotificationReceiver))
        assert stored is not None
        assert "s3cr3t" not in json.dumps(stored.integrations)
    rig.enqueue("n-7", receiver="signed")
    worker = rig.worker()
    await worker.drain_once()
    await worker.drain_once()
    request = receiver.requests[0]
    assert verify_signature(
        b"s3cr3t",
        request.body,
        request.headers["x-watchkeeper-timestamp"],
        request.headers["x-watchkeeper-signature"],
        now=rig.clock.time(),
    )


async def test_python_api_sends_through_the_outbox_and_waits(
    rig: DeliveryRig, receiver: HttpReceiver
) -> None:
    from watchkeeper.notify import (
        NotificationChannel,
        NotificationRequest,
        NotificationTemplate,
        OutboxTarget,
        initialize_notification_service,
    )

    rig.add_receiver("default", [{"type": "webhook", "config": {"url": receiver.url()}}])
    service = initialize_notification_service(
        {}, outbox=OutboxTarget(rig.sessions, rig.tenant_id, rig.clock, worker=rig.worker())
    )
    service.add_template(
        NotificationTemplate("deploy", "Deploy", "Deployed {{ version }}", "Version {{ version }}")
    )
    request = NotificationRequest(
        template_id="deploy",
        channels=[NotificationChannel.WEBHOOK, NotificationChannel.SLACK],
        variables={"version": "1.2.3"},
        idempotency_key="deploy-1",
    )
    results = await service.send_notification(request)
    assert [r.delivered for r in results] == [True, False]
    assert "no default slack configuration" in results[1].reason
    assert json.loads(receiver.requests[0].body)["subject"] == "Deployed 1.2.3"
    assert rig.row("deploy-1.webhook").source == "python_api"
    again = await service.send_notification(request)  # same key: queued once, sent once
    assert again[0].delivered and len(receiver.requests) == 1
    await service.aclose()


async def test_implicit_default_receiver_comes_from_the_settings(
    database_url: str, receiver: HttpReceiver
) -> None:
    from tests.notify.conftest import make_delivery_rig
    from tests.support import LOCAL_OUTBOUND_ALLOW

    # Opt-in: the rig's tenant is the operator's (security.global_channels_tenant).
    security = {"outbound_allow": LOCAL_OUTBOUND_ALLOW, "global_channels_tenant": "acme"}
    rig, engine = make_delivery_rig(
        database_url,
        overrides={"slack_webhook_url": receiver.url("/slack"), "security": security},
    )
    try:
        rig.enqueue("ag:default", receiver="default")
        worker = rig.worker()
        await worker.drain_once()
        await worker.drain_once()
        assert rig.row("ag:default:0").channel == "slack"
        assert rig.row("ag:default:0").status == "sent"
        assert [r.path for r in receiver.requests] == ["/slack"]
    finally:
        engine.dispose()
