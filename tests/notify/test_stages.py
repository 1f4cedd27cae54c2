"""Each delivery stage on its own, on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.notify.conftest import DeliveryRig, make_delivery_rig
from watchkeeper.domain.alert_group import AlertGroup
from watchkeeper.notify import queue
from watchkeeper.notify.antispam import Gate
from watchkeeper.notify.base import NotificationChannel
from watchkeeper.notify.http import new_session
from watchkeeper.notify.outbound import OutboundPolicy
from watchkeeper.notify.outbox import OutboxStatus
from watchkeeper.notify.pipeline import Claim, Outcome, Work
from watchkeeper.notify.stages.channel import ResolveChannel
from watchkeeper.notify.stages.claim import ClaimDue
from watchkeeper.notify.stages.expand import ExpandReceivers
from watchkeeper.notify.stages.gate import GateFirstAttempt
from watchkeeper.notify.stages.record import RecordOutcomes
from watchkeeper.notify.stages.render import Render
from watchkeeper.notify.template_store import load_template

pytestmark = pytest.mark.anyio

GROUP = {
    "version": "4",
    "groupKey": '{}:{alertname="DiskFull"}',
    "status": "firing",
    "receiver": "team",
    "groupLabels": {"alertname": "DiskFull"},
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "DiskFull", "host": "db-1"},
            "annotations": {"summary": "disk full on db-1"},
            "startsAt": "2026-11-28T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "abc",
        }
    ],
    "changes": {"new": ["abc"]},
}


@pytest.fixture
def spam_rig(database_url: str) -> Iterator[DeliveryRig]:
    made, engine = make_delivery_rig(database_url, dedup_window_seconds=300)
    yield made
    engine.dispose()


def _claim(rig: DeliveryRig) -> list[Claim]:
    return ClaimDue(rig.sessions, rig.clock, rig.settings.notifications)()


def test_claim_takes_due_rows_under_a_lease_and_counts_the_attempt(rig: DeliveryRig) -> None:
    rig.enqueue("due", channel="webhook")
    rig.enqueue("later", channel="webhook", not_before=rig.clock.now().replace(year=2100))
    [claim] = _claim(rig)
    assert claim.idempotency_key == "due" and claim.attempts == 1 and not claim.retried
    assert rig.row("due").status == "sending" and rig.row("due").claimed_until is not None
    assert _claim(rig) == []  # leased: not taken twice


def test_an_operator_retry_is_a_field_the_claim_reads(rig: DeliveryRig) -> None:
    rig.enqueue("k", channel="webhook")
    [claim] = _claim(rig)
    RecordOutcomes(rig.sessions, rig.clock)([Outcome(claim, OutboxStatus.DEAD, "HTTP 404")])
    with rig.sessions.tenant(rig.tenant_id) as db:
        queue.retry_notification(db, rig.row("k").id, rig.clock.now())
    [again] = _claim(rig)
    assert again.retried and again.attempts == 1 and not again.gated
    assert rig.row("k").retried_at is not None


def test_expand_fans_a_receiver_row_out_and_kills_one_for_an_unknown_receiver(
    rig: DeliveryRig,
) -> None:
    hook = {"type": "webhook", "config": {"url": "https://hooks.example/a"}}
    rig.add_receiver("team", [hook, hook])
    rig.enqueue("r", receiver="team")
    rig.enqueue("x", receiver="nobody")
    expand = ExpandReceivers(rig.receivers)
    with rig.sessions.tenant(rig.tenant_id) as db:
        steps = [expand(db, Work(c), rig.clock.now()) for c in _claim(rig)]
    assert [(s.status, s.error[:9]) for s in steps if isinstance(s, Outcome)] == [
        (OutboxStatus.EXPANDED, ""),
        (OutboxStatus.DEAD, "receiver:"),
    ]
    assert [(r.idempotency_key, r.channel) for r in rig.rows()][2:] == [
        ("r:0", "webhook"),
        ("r:1", "webhook"),
    ]


async def test_channel_is_built_once_per_destination_and_a_missing_one_is_dead(
    rig: DeliveryRig,
) -> None:
    rig.add_receiver("team", [{"type": "webhook", "config": {"url": "https://hooks.example/a"}}])
    rig.enqueue("a:0", channel="webhook", receiver="team")
    rig.enqueue("b:0", channel="webhook", receiver="team")
    rig.enqueue("direct", channel="slack")
    rig.enqueue("odd", channel="pigeon")
    client = new_session(OutboundPolicy.everywhere())
    stage = ResolveChannel(
        sessions=rig.sessions,
        clock=rig.clock,
        receivers=rig.receivers,
        client=client,
        outbound=OutboundPolicy.everywhere(),
        extra_channels={},
    )
    with rig.sessions.tenant(rig.tenant_id) as db:
        a, b, direct, odd = (stage(db, Work(c), rig.clock.now()) for c in _claim(rig))
    await client.close()
    assert isinstance(a, Work) and isinstance(b, Work) and a.channel is b.channel
    assert isinstance(direct, Outcome) and direct.status is OutboxStatus.DEAD
    assert direct.error == "config: no default slack configuration for direct messages"
    assert isinstance(odd, Outcome) and odd.error == "unknown channel 'pigeon'"


def test_render_carries_the_typed_group_on_to_the_channel(rig: DeliveryRig) -> None:
    rig.enqueue("g", channel="webhook", payload=GROUP)
    rig.enqueue("p", channel="webhook", payload={"alert": {"name": "Plain"}})
    render = Render(load_template)
    with rig.sessions.tenant(rig.tenant_id) as db:
        grouped, plain = (
            render(db, Work(c, kind=NotificationChannel(c.channel)), rig.clock.now())
            for c in _claim(rig)
        )
    assert isinstance(grouped, Work) and grouped.message is not None
    assert grouped.message.group == AlertGroup.from_payload(GROUP)
    assert "DiskFull" in grouped.message.subject
    assert isinstance(plain, Work) and plain.message is not None
    assert plain.message.group is None and "Plain" in plain.message.subject


def test_gate_suppresses_a_duplicate_first_attempt_but_not_a_retry(spam_rig: DeliveryRig) -> None:
    rig = spam_rig
    for key in ("one", "two"):
        rig.enqueue(key, channel="webhook", payload={"alert": {"name": "Same"}})
    render = Render(load_template)
    gate = GateFirstAttempt(Gate(rig.settings.notifications))
    now = rig.clock.now()
    with rig.sessions.tenant(rig.tenant_id) as db:
        first, second = (
            render(db, Work(c, kind=NotificationChannel(c.channel)), now) for c in _claim(rig)
        )
        assert isinstance(first, Work) and isinstance(second, Work)
        assert gate(db, first, now) is first
        held = gate(db, second, now)
        retried = replace(second, claim=replace(second.claim, retried=True))
        assert gate(db, retried, now) is retried
    assert isinstance(held, Outcome) and held.status is OutboxStatus.SUPPRESSED


def test_record_gives_back_an_attempt_that_did_not_count(rig: DeliveryRig) -> None:
    rig.enqueue("q", channel="webhook")
    [claim] = _claim(rig)
    later = rig.clock.now().replace(year=2030)
    outcome = Outcome(claim, OutboxStatus.PENDING, "quiet hours", later, attempt_counted=False)
    RecordOutcomes(rig.sessions, rig.clock)([outcome])
    row = rig.row("q")
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, "quiet hours")
    assert row.next_attempt_at == later and row.claimed_until is None


def test_incident_messages_link_to_the_incident_page_in_the_console() -> None:
    from watchkeeper.notify.stages.render import incident_links

    variables = {"incident": {"id": "in/1", "title": "DB down"}, "alert": {"name": "DB down"}}
    linked = incident_links(variables, "https://wk.example.com")

    assert linked["incident"]["url"] == "https://wk.example.com/ui/incidents?id=in%2F1"
    assert linked["alert"]["url"] == linked["incident"]["url"]
    kept = incident_links({"incident": {"id": "1"}, "alert": {"url": "u"}}, "https://x")
    assert kept["alert"]["url"] == "u"  # a link the message already has is kept
    assert incident_links({"alert": {"name": "a"}}, "https://x") == {"alert": {"name": "a"}}
