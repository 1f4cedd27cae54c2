"""Dedup window, rate limits, digests and quiet hours, timed with a ManualClock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.notify.conftest import DeliveryRig, make_delivery_rig
from tests.receivers import HttpReceiver
from watchkeeper.notify.antispam import quiet_until, set_quiet_hours

pytestmark = pytest.mark.anyio


@pytest.fixture
def spam_rig(database_url: str) -> Iterator[DeliveryRig]:
    made, engine = make_delivery_rig(
        database_url,
        dedup_window_seconds=300,
        rate_limit_per_recipient=3,
        rate_window_seconds=3600,
    )
    yield made
    engine.dispose()


def _alert(name: str) -> dict[str, object]:
    return {"alert": {"name": name, "status": "firing", "summary": name}}


def _subjects(receiver: HttpReceiver) -> list[str]:
    return [json.loads(r.body)["subject"] for r in receiver.requests]


async def test_duplicates_within_the_window_are_suppressed_then_digested(
    spam_rig: DeliveryRig, receiver: HttpReceiver
) -> None:
    rig = spam_rig
    rig.add_receiver("default", [{"type": "webhook", "config": {"url": receiver.url()}}])
    worker = rig.worker()
    for n in range(3):
        rig.enqueue(f"d-{n}", channel="webhook", payload=_alert("DiskFull"))
        await worker.drain_once()
        rig.clock.advance(60)
    assert [r.status for r in rig.rows()] == ["sent", "suppressed", "suppressed"]
    assert await worker.flush_digests() == 0  # the window is still open
    rig.clock.advance(200)  # 380 s after the first: the window closed
    assert await worker.flush_digests() == 1
    await worker.drain_once()
    digest = json.loads(receiver.requests[-1].body)
    assert len(receiver.requests) == 2
    assert "2 notification(s) suppressed (duplicates)" in digest["text"]
    assert digest["variables"]["digest"]["items"] == ["[FIRING] DiskFull"] * 2
    rig.enqueue("d-9", channel="webhook", payload=_alert("DiskFull"))
    await worker.drain_once()
    assert rig.row("d-9").status == "sent"  # a new window


async def test_rate_limit_per_recipient_refills_over_time_and_spares_critical(
    spam_rig: DeliveryRig, receiver: HttpReceiver
) -> None:
    rig = spam_rig
    rig.add_receiver("default", [{"type": "webhook", "config": {"url": receiver.url()}}])
    worker = rig.worker()
    for n in range(5):
        rig.enqueue(f"r-{n}", channel="webhook", payload=_alert(f"A{n}"))
    rig.enqueue("r-crit", channel="webhook", payload=_alert("Page"), priority="critical")
    await worker.drain_once()
    statuses = {r.idempotency_key: r.status for r in rig.rows()}
    assert [statuses[f"r-{n}"] for n in range(5)] == ["sent"] * 3 + ["suppressed"] * 2
    assert statuses["r-crit"] == "sent"
    rig.clock.advance(1199)  # one token takes 1200 s to come back (3 per hour)
    assert await worker.flush_digests() == 0
    rig.clock.advance(2)
    assert await worker.flush_digests() == 1
    await worker.drain_once()
    assert (
        "2 notification(s) suppressed (rate limit)"
        in json.loads(receiver.requests[-1].body)["text"]
    )
    rig.enqueue("r-late", channel="webhook", payload=_alert("Later"))
    rig.enqueue("r-later", channel="webhook", payload=_alert("Later still"))
    await worker.drain_once()
    assert rig.row("r-late").status == "sent"  # the one token that came back
    assert rig.row("r-later").status == "suppressed"


def test_quiet_hours_wrap_midnight_in_the_recipients_zone() -> None:
    at = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    assert quiet_until(at, "Europe/Berlin", "22:00", "07:00") == datetime(
        2026, 11, 29, 6, 0, tzinfo=UTC
    )
    assert quiet_until(at, "America/New_York", "22:00", "07:00") is None  # 17:30 there
    assert quiet_until(at, "UTC", "08:00", "08:00") is None


async def test_quiet_hours_defer_non_critical_and_split_recipients(
    spam_rig: DeliveryRig, smtp_plain: object, receiver: HttpReceiver
) -> None:
    rig = spam_rig
    rig.clock.set(datetime(2026, 11, 28, 23, 0, tzinfo=UTC).timestamp())
    with rig.sessions.tenant(rig.tenant_id) as db:
        set_quiet_hours(
            db,
            "sleepy@example.com",
            timezone="UTC",
            start="22:00",
            end="07:00",
            now=rig.clock.now(),
        )
    port = smtp_plain.port  # type: ignore[attr-defined]
    rig.add_receiver(
        "default",
        [{"type": "email", "config": {"host": "127.0.0.1", "port": port, "security": "none"}}],
    )
    worker = rig.worker()
    rig.enqueue("q-1", channel="email", recipients=("sleepy@example.com", "awake@example.com"))
    rig.enqueue(
        "q-2",
        channel="email",
        recipients=("sleepy@example.com",),
        priority="critical",
        payload=_alert("Page"),
    )
    await worker.drain_once()
    await worker.drain_once()
    mails = smtp_plain.mails  # type: ignore[attr-defined]
    assert sorted(e.rcpt_tos[0] for e, _ in mails) == ["awake@example.com", "sleepy@example.com"]
    waiting = rig.row("q-1~quiet")
    assert waiting.status == "pending" and waiting.recipients == ["sleepy@example.com"]
    assert waiting.next_attempt_at == datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
    rig.clock.set(datetime(2026, 11, 29, 7, 0, 1, tzinfo=UTC).timestamp())
    await worker.drain_once()
    assert rig.row("q-1~quiet").status == "sent" and len(mails) == 3
