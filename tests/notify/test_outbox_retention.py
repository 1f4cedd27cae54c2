"""Outbox retention with a ManualClock: settled rows go after their retention, dead rows after
theirs, rows still in flight never; pruning does not reopen the dedup window."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from tests.notify.conftest import DeliveryRig, make_delivery_rig
from tests.receivers import HttpReceiver
from watchkeeper.db.tables import NotificationOutbox
from watchkeeper.notify.outbox import OutboxPruner

DAY = 86_400
STATUSES = ("pending", "sending", "sent", "dead", "expanded", "suppressed")


def _insert(rig: DeliveryRig, key: str, status: str, at: datetime) -> None:
    """A row in `status` whose last attempt was due at `at` (and, if sent, sent then)."""
    with rig.sessions.tenant(rig.tenant_id) as db:
        db.add(
            NotificationOutbox(
                idempotency_key=key,
                channel="webhook",
                receiver="",
                recipients=[],
                template_id="",
                priority="normal",
                payload={},
                source="test",
                source_ref="",
                status=status,
                attempts=1,
                next_attempt_at=at,
                claimed_until=at + timedelta(minutes=5) if status == "sending" else None,
                last_error="",
                created_at=at,
                sent_at=at if status == "sent" else None,
            )
        )


def _keys(rig: DeliveryRig) -> set[str]:
    return {r.idempotency_key for r in rig.rows()}


def _pruner(rig: DeliveryRig, **overrides: int) -> OutboxPruner:
    return OutboxPruner(
        rig.clock,
        rig.sessions,
        retention_days=overrides.pop("retention_days", 7),
        dead_retention_days=overrides.pop("dead_retention_days", 30),
        **overrides,
    )


def _pruned(status: str) -> float:
    value = REGISTRY.get_sample_value(
        "watchkeeper_notification_outbox_pruned_total", {"status": status}
    )
    return value or 0.0


def test_settled_rows_go_after_their_retention_and_dead_rows_after_theirs(
    rig: DeliveryRig,
) -> None:
    start = rig.clock.now()
    for status in STATUSES:
        _insert(rig, f"old-{status}", status, start)
    before = {status: _pruned(status) for status in STATUSES}
    rig.clock.advance(7 * DAY - 60)
    _insert(rig, "recent-sent", "sent", rig.clock.now())
    pruner = _pruner(rig)
    assert pruner.prune() == {}  # a minute short of 7 days: everything stays

    rig.clock.advance(2 * DAY)
    assert pruner.prune() == {"sent": 1, "expanded": 1, "suppressed": 1}
    assert _keys(rig) == {"old-pending", "old-sending", "old-dead", "recent-sent"}

    rig.clock.advance(22 * DAY)  # 31 days after the first rows
    assert pruner.prune() == {"sent": 1, "dead": 1}
    assert _keys(rig) == {"old-pending", "old-sending"}  # never deleted, however old
    assert {s: _pruned(s) - before[s] for s in STATUSES} == {
        "pending": 0,
        "sending": 0,
        "sent": 2,
        "dead": 1,
        "expanded": 1,
        "suppressed": 1,
    }


def test_a_dead_row_retried_recently_counts_from_its_retry(rig: DeliveryRig) -> None:
    from watchkeeper.notify.queue import retry_notification

    _insert(rig, "dead-1", "dead", rig.clock.now())
    rig.clock.advance(29 * DAY)
    with rig.sessions.tenant(rig.tenant_id) as db:
        row = retry_notification(db, rig.row("dead-1").id, rig.clock.now())
        row.status = "dead"  # and it died again
    rig.clock.advance(2 * DAY)  # 31 days after the first failure, 2 after the retry
    assert _pruner(rig).prune() == {}
    assert _keys(rig) == {"dead-1"}


def test_a_backlog_is_deleted_in_bounded_batches_over_several_passes(rig: DeliveryRig) -> None:
    for n in range(5):
        _insert(rig, f"sent-{n}", "sent", rig.clock.now())
    rig.clock.advance(8 * DAY)
    pruner = _pruner(rig, batch_size=2, max_batches=2)
    assert pruner.prune() == {"sent": 4}  # two statements of two rows, then the pass ends
    assert len(_keys(rig)) == 1
    assert pruner.prune() == {"sent": 1}
    assert _keys(rig) == set()


def test_retention_keys_are_validated() -> None:
    from pydantic import ValidationError

    from watchkeeper.config import NotificationSettings

    for key in ("outbox_retention_days", "dead_letter_retention_days"):
        with pytest.raises(ValidationError, match=key):
            NotificationSettings.model_validate({key: 0})
    defaults = NotificationSettings()
    assert (defaults.outbox_retention_days, defaults.dead_letter_retention_days) == (7, 30)


@pytest.fixture
def long_dedup_rig(database_url: str) -> Iterator[DeliveryRig]:
    made, engine = make_delivery_rig(database_url, dedup_window_seconds=3 * DAY)
    yield made
    engine.dispose()


@pytest.mark.anyio
async def test_a_duplicate_is_suppressed_even_after_the_first_row_was_pruned(
    long_dedup_rig: DeliveryRig, receiver: HttpReceiver
) -> None:
    rig = long_dedup_rig
    rig.add_receiver("default", [{"type": "webhook", "config": {"url": receiver.url()}}])
    worker = rig.worker()
    alert = {"alert": {"name": "DiskFull", "status": "firing", "summary": "DiskFull"}}
    rig.enqueue("first", channel="webhook", payload=alert)
    await worker.drain_once()
    assert rig.row("first").status == "sent"
    rig.clock.advance(2 * DAY)  # past a 1-day retention, inside the 3-day dedup window

    assert _pruner(rig, retention_days=1).prune() == {"sent": 1}
    rig.enqueue("again", channel="webhook", payload=alert)
    await worker.drain_once()

    assert _keys(rig) == {"again"}
    assert rig.row("again").status == "suppressed"
    assert [json.loads(r.body)["subject"] for r in receiver.requests] == ["[FIRING] DiskFull"]


def test_consumed_alert_events_go_after_the_outbox_retention(rig: DeliveryRig) -> None:
    from sqlalchemy import select

    from watchkeeper.db.tables import AlertEvent

    def event(rule: str, status: str) -> AlertEvent:
        now = rig.clock.now()
        return AlertEvent(
            group_name="g",
            rule_name=rule,
            fingerprint="0" * 16,
            kind="firing",
            payload={},
            status=status,
            created_at=now,
            sent_at=now if status == "sent" else None,
        )

    with rig.sessions.tenant(rig.tenant_id) as db:
        db.add_all([event("old-consumed", "sent"), event("old-pending", "pending")])
    rig.clock.advance(8 * DAY)
    with rig.sessions.tenant(rig.tenant_id) as db:
        db.add(event("recent-consumed", "sent"))
    assert _pruner(rig).prune() == {"alert_events": 1}
    with rig.sessions.tenant(rig.tenant_id) as db:
        left = set(db.scalars(select(AlertEvent.rule_name)))
    # One the dispatcher has not consumed yet stays, however old.
    assert left == {"old-pending", "recent-consumed"}
