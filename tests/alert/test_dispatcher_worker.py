"""The dispatcher worker over the database: alert events become outbox rows after silences,
inhibition, routing and group timers, on the manual clock; a restart or a crash mid-tick
neither loses nor duplicates a notification."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from tests.alert.conftest import Rig, compile_yaml
from watchkeeper.alert import handling, silence_store
from watchkeeper.alert.dispatcher_worker import DispatchWorker
from watchkeeper.alert.matchers import parse_matchers
from watchkeeper.db.tables import AlertEvent, NotificationOutbox

RULES = compile_yaml(
    """
name: node
rules:
  - alert: Hot
    expr: cpu > 90
    labels: {severity: critical}
  - alert: Slow
    expr: latency > 1
    labels: {severity: warning}
"""
)

CONFIG = """
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  routes:
    - matchers: ['team="db"']
      receiver: dba
      send_resolved_for_silenced: true
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [host]
receivers: [{name: ops}, {name: dba}]
"""


def worker(rig: Rig) -> DispatchWorker:
    """A new worker each call: only the database carries state between them."""
    return DispatchWorker(
        sessions=rig.sessions,
        clock=rig.clock,
        defaults=handling.HandlingDefaults(None),
        external_url="http://wk.example",
    )


def configure(rig: Rig, text: str = CONFIG) -> None:
    with rig.sessions.tenant(rig.tenant) as db:
        handling.save(db, text, now=rig.clock.now(), actor="test")


def outbox(rig: Rig) -> list[NotificationOutbox]:
    with rig.sessions.tenant(rig.tenant) as db:
        return list(db.scalars(select(NotificationOutbox).order_by(NotificationOutbox.id)))


def changes(row: NotificationOutbox) -> dict[str, Any]:
    result: dict[str, Any] = row.payload["changes"]
    return result


def silence(rig: Rig, matchers: str, hours: float = 2) -> str:
    now = rig.clock.time()
    with rig.sessions.tenant(rig.tenant) as db:
        spec = silence_store.SilenceSpec(
            tuple(parse_matchers(matchers)), now, now + hours * 3600, "me", "maintenance"
        )
        return silence_store.create_or_update(db, spec, now=now).id


def fire(rig: Rig, seconds: float = 0, **values: float) -> None:
    rig.clock.advance(seconds)
    for name, value in values.items():
        metric, _, host = name.partition("_")
        rig.put(metric, value, host=host)
    rig.evaluate(RULES)


def test_group_wait_then_one_row_with_the_webhook_body_and_what_changed(rig: Rig) -> None:
    configure(rig)
    fire(rig, cpu_a=95)
    assert worker(rig).dispatch(rig.tenant) is not None
    assert outbox(rig) == []  # group_wait
    with rig.sessions.tenant(rig.tenant) as db:  # the event was consumed
        assert db.scalars(select(AlertEvent.status)).all() == ["sent"]
    rig.clock.advance(30)
    worker(rig).run_once()
    (row,) = outbox(rig)
    assert (row.receiver, row.channel, row.priority, row.source) == (
        "ops",
        "",
        "critical",
        "alert_group",
    )
    body = row.payload
    assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "ops"
    assert body["groupLabels"] == {"alertname": "Hot"}
    assert [a["labels"]["host"] for a in body["alerts"]] == ["a"]
    assert changes(row)["new"] == [body["alerts"][0]["fingerprint"]]
    assert row.idempotency_key.startswith("ag:") and row.idempotency_key.endswith(":1:ops")
    assert REGISTRY.get_sample_value(
        "watchkeeper_dispatcher_notifications_queued_total", {"receiver": "ops"}
    )


def test_group_interval_sends_only_the_new_alert_and_repeat_interval_reminds(rig: Rig) -> None:
    configure(rig)
    fire(rig, cpu_a=95)
    rig.clock.advance(30)
    worker(rig).run_once()
    fire(rig, 60, cpu_a=95, cpu_b=96)
    worker(rig).run_once()
    assert len(outbox(rig)) == 1  # next flush at group_interval after the first
    rig.clock.advance(240)
    worker(rig).run_once()
    _, second = outbox(rig)
    assert [a["labels"]["host"] for a in second.payload["alerts"]] == ["b"]
    assert changes(second)["unchanged"] == 1
    rig.clock.advance(3600)
    fire(rig, 0, cpu_a=95, cpu_b=96)
    worker(rig).run_once()
    reminder = outbox(rig)[-1]
    assert changes(reminder)["reason"] == "repeat"
    assert sorted(a["labels"]["host"] for a in reminder.payload["alerts"]) == ["a", "b"]


def test_silenced_alert_is_not_notified(rig: Rig) -> None:
    configure(rig)
    silence(rig, 'alertname="Hot"')
    fire(rig, cpu_a=95)
    rig.clock.advance(30)
    worker(rig).run_once()
    assert outbox(rig) == []


@pytest.mark.parametrize(("team", "resolution_sent"), [("db", True), ("web", False)])
def test_resolution_of_an_alert_silenced_while_firing_follows_the_route(
    rig: Rig, team: str, resolution_sent: bool
) -> None:
    configure(rig)
    rules = compile_yaml(
        f"""
name: node
rules:
  - alert: Hot
    expr: cpu > 90
    labels: {{team: {team}}}
"""
    )
    rig.put("cpu", 95, host="a")
    rig.evaluate(rules)
    rig.clock.advance(30)
    worker(rig).run_once()
    assert len(outbox(rig)) == 1
    silence(rig, 'alertname="Hot"')
    rig.clock.advance(60)
    rig.put("cpu", 10, host="a")
    rig.evaluate(rules)
    rig.clock.advance(300)
    worker(rig).run_once()
    rows = outbox(rig)
    assert (len(rows) == 2) is resolution_sent
    if resolution_sent:
        assert rows[1].payload["status"] == "resolved"
        assert changes(rows[1])["resolved"] == changes(rows[0])["new"]


def test_a_critical_alert_inhibits_warnings_of_the_same_host(rig: Rig) -> None:
    configure(rig)
    fire(rig, cpu_a=95, latency_a=5, latency_b=5)
    rig.clock.advance(30)
    worker(rig).run_once()
    alerts = sorted(
        (a["labels"]["alertname"], a["labels"]["host"])
        for row in outbox(rig)
        for a in row.payload["alerts"]
    )
    assert alerts == [("Hot", "a"), ("Slow", "b")]


def test_a_new_worker_over_the_same_database_neither_repeats_nor_forgets(rig: Rig) -> None:
    configure(rig)
    fire(rig, cpu_a=95)
    rig.clock.advance(30)
    worker(rig).run_once()
    worker(rig).run_once()
    assert len(outbox(rig)) == 1
    rig.clock.advance(60)
    rig.put("cpu", 10, host="a")
    rig.evaluate(RULES)
    rig.clock.advance(240)
    worker(rig).run_once()
    _, resolved = outbox(rig)
    assert resolved.payload["status"] == "resolved"


def test_a_crash_before_commit_replays_the_tick_with_the_same_keys(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(rig)
    fire(rig, cpu_a=95, latency_b=5)
    rig.clock.advance(30)
    from watchkeeper.alert import dispatcher_worker
    from watchkeeper.notify.outbox import enqueue as real

    calls = 0

    def dying_enqueue(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("kill -9")
        return real(*args, **kwargs)

    monkeypatch.setattr(dispatcher_worker, "enqueue", dying_enqueue)
    with pytest.raises(RuntimeError):
        worker(rig).run_once()
    assert outbox(rig) == []  # nothing committed, events still pending
    monkeypatch.setattr(dispatcher_worker, "enqueue", real)
    worker(rig).run_once()
    worker(rig).run_once()
    rows = outbox(rig)
    assert [r.idempotency_key.split(":")[2] for r in rows] == ["1", "2"]
    assert sorted(r.payload["groupLabels"]["alertname"] for r in rows) == ["Hot", "Slow"]


def test_idle_tenants_are_skipped_and_the_default_route_is_used_without_config(rig: Rig) -> None:
    assert worker(rig).dispatch(rig.tenant) is None
    fire(rig, cpu_a=95)
    rig.clock.advance(30)
    worker(rig).run_once()
    (row,) = outbox(rig)
    assert row.receiver == "default"
