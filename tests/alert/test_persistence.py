"""Alert state survives a restart (a new evaluator over the same database), on SQLite and
PostgreSQL; the outbox lists what is to be sent and marks it sent, per tenant."""

from __future__ import annotations

from tests.alert.conftest import Rig, compile_yaml
from watchkeeper.alert.state import mark_consumed, pending_events
from watchkeeper.tenancy.service import create_tenant

GROUP = compile_yaml("{name: g, rules: [{alert: Hot, expr: cpu > 90, for: 1m}]}")


def test_restart_keeps_a_firing_alert_its_start_and_notifies_nothing_twice(db_rig: Rig) -> None:
    db_rig.put("cpu", 95, host="db-1")
    db_rig.evaluator().evaluate(db_rig.tenant, GROUP)
    db_rig.clock.advance(60)
    db_rig.put("cpu", 95, host="db-1")
    db_rig.evaluator().evaluate(db_rig.tenant, GROUP)
    before = db_rig.alert("Hot")
    assert before.state == "firing"

    restarted = db_rig.evaluator()  # a new process: nothing in memory
    for _ in range(3):
        db_rig.clock.advance(60)
        db_rig.put("cpu", 96, host="db-1")
        restarted.evaluate(db_rig.tenant, GROUP)
    after = db_rig.alert("Hot")
    assert (after.state, after.fired_at, after.active_at) == (
        "firing",
        before.fired_at,
        before.active_at,
    )
    assert db_rig.kinds() == ["firing"]


def test_resolution_after_a_restart_is_notified_exactly_once(db_rig: Rig) -> None:
    db_rig.put("cpu", 95, host="db-1")
    db_rig.evaluate(GROUP)
    db_rig.clock.advance(60)
    db_rig.put("cpu", 95, host="db-1")
    db_rig.evaluate(GROUP)
    for _ in range(3):  # each evaluation by a fresh evaluator, as after repeated restarts
        db_rig.clock.advance(60)
        db_rig.put("cpu", 10, host="db-1")
        db_rig.evaluate(GROUP)
    assert db_rig.alert("Hot").state == "resolved"
    assert db_rig.kinds() == ["firing", "resolved"]


def test_pending_alert_keeps_its_for_timer_across_a_restart(db_rig: Rig) -> None:
    db_rig.put("cpu", 95, host="db-1")
    db_rig.evaluate(GROUP)
    db_rig.clock.advance(60)  # for: 1m counts from the first evaluation, not from the restart
    db_rig.put("cpu", 95, host="db-1")
    db_rig.evaluate(GROUP)
    assert db_rig.alert("Hot").state == "firing"


def test_outbox_lists_pending_notifications_and_marks_them_sent(db_rig: Rig) -> None:
    db_rig.put("cpu", 95, host="db-1")
    db_rig.evaluate(GROUP)
    db_rig.clock.advance(60)
    db_rig.put("cpu", 95, host="db-1")
    db_rig.evaluate(GROUP)
    (queued,) = db_rig.pending()
    assert queued.payload["labels"] == {"alertname": "Hot", "host": "db-1"}
    assert queued.payload["status"] == "firing"
    assert queued.payload["endsAt"] == "0001-01-01T00:00:00Z"
    with db_rig.sessions.tenant(db_rig.tenant) as db:
        assert mark_consumed(db, [queued.id], db_rig.clock.now()) == 1
        assert mark_consumed(db, [queued.id], db_rig.clock.now()) == 0  # already sent
    assert db_rig.pending() == []
    (sent,) = db_rig.notifications()
    assert (sent.status, sent.sent_at) == ("sent", db_rig.clock.now())


def test_another_tenant_neither_sees_nor_marks_the_notifications(db_rig: Rig) -> None:
    db_rig.put("cpu", 95, host="db-1")
    db_rig.evaluate("{name: g, rules: [{alert: Hot, expr: cpu > 90}]}")
    (queued,) = db_rig.pending()
    with db_rig.sessions.system("test") as db:
        other = create_tenant(db, name="globex", now=db_rig.clock.now()).id
    with db_rig.sessions.tenant(other) as db:
        assert pending_events(db) == []
        assert mark_consumed(db, [queued.id], db_rig.clock.now()) == 0
    assert [n.id for n in db_rig.pending()] == [queued.id]
