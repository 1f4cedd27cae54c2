"""The alert state machine, one transition or timing parameter per test, on a manual clock."""

from __future__ import annotations

from tests.alert.conftest import Rig, compile_yaml

HIGH_CPU = compile_yaml(
    """
name: node
rules:
  - alert: HighCpu
    expr: cpu > 90
    for: 5m
    labels: {severity: page}
    annotations:
      summary: "{{ $labels.host }} CPU at {{ $value }}%"
"""
)


def test_condition_makes_a_pending_alert_with_labels_and_rendered_annotations(rig: Rig) -> None:
    rig.put("cpu", 95, host="db-1")
    result = rig.evaluate(HIGH_CPU)
    alert = rig.alert("HighCpu")
    assert (alert.state, result.states) == ("pending", {"pending": 1, "firing": 0})
    assert alert.labels == {"alertname": "HighCpu", "host": "db-1", "severity": "page"}
    assert alert.annotations == {"summary": "db-1 CPU at 95.0%"}
    assert alert.generator_url == "http://wk.example/graph?g0.expr=cpu%20%3E%2090&g0.tab=1"
    assert rig.notifications() == []


def test_pending_fires_once_for_has_passed_and_starts_at_that_time(rig: Rig) -> None:
    rig.put("cpu", 95, host="db-1")
    rig.evaluate(HIGH_CPU)
    active_at = rig.clock.time()
    rig.step(HIGH_CPU, 240, "cpu", 96, host="db-1")
    assert rig.alert("HighCpu").state == "pending"  # 4 of 5 minutes
    rig.step(HIGH_CPU, 60, "cpu", 97, host="db-1")
    alert = rig.alert("HighCpu")
    assert alert.state == "firing"
    assert alert.active_at.timestamp() == active_at
    assert alert.fired_at is not None and alert.fired_at.timestamp() == active_at + 300
    assert alert.value == 97
    assert rig.kinds() == ["firing"]
    assert rig.notifications()[0].payload["startsAt"] == alert.fired_at.isoformat().replace(
        "+00:00", "Z"
    )


def test_pending_that_stops_before_for_goes_inactive_without_notification(rig: Rig) -> None:
    rig.put("cpu", 95, host="db-1")
    rig.evaluate(HIGH_CPU)
    rig.step(HIGH_CPU, 60, "cpu", 50, host="db-1")
    assert rig.alert("HighCpu").state == "inactive"
    rig.step(HIGH_CPU, 60, "cpu", 95, host="db-1")
    assert rig.alert("HighCpu").active_at.timestamp() == rig.clock.time()  # starts over
    assert rig.notifications() == []


def test_for_zero_fires_on_the_first_evaluation(rig: Rig) -> None:
    rig.put("cpu", 95, host="db-1")
    rig.evaluate("{name: g, rules: [{alert: Hot, expr: cpu > 90}]}")
    assert rig.alert("Hot").state == "firing"
    assert rig.kinds() == ["firing"]


def test_firing_resolves_when_the_condition_stops_with_ends_at(rig: Rig) -> None:
    group = "{name: g, rules: [{alert: Hot, expr: cpu > 90}]}"
    rig.put("cpu", 95, host="db-1")
    rig.evaluate(group)
    rig.step(group, 30, "cpu", 40, host="db-1")
    alert = rig.alert("Hot")
    assert alert.state == "resolved"
    assert alert.ends_at is not None and alert.ends_at.timestamp() == rig.clock.time()
    assert rig.kinds() == ["firing", "resolved"]
    assert rig.notifications()[1].payload["status"] == "resolved"


def test_keep_firing_for_holds_a_firing_alert_then_resolves(rig: Rig) -> None:
    group = "{name: g, rules: [{alert: Hot, expr: cpu > 90, keep_firing_for: 2m}]}"
    rig.put("cpu", 95, host="db-1")
    rig.evaluate(group)
    rig.step(group, 60, "cpu", 40, host="db-1")
    assert rig.alert("Hot").state == "firing"  # 0 s of 120 since the condition stopped
    rig.step(group, 60, "cpu", 40, host="db-1")
    assert rig.alert("Hot").state == "firing"  # 60 s
    rig.step(group, 60, "cpu", 40, host="db-1")
    assert rig.alert("Hot").state == "resolved"  # 120 s
    assert rig.kinds() == ["firing", "resolved"]


def test_keep_firing_for_restarts_when_the_condition_returns(rig: Rig) -> None:
    group = "{name: g, rules: [{alert: Hot, expr: cpu > 90, keep_firing_for: 2m}]}"
    rig.put("cpu", 95, host="db-1")
    rig.evaluate(group)
    rig.step(group, 60, "cpu", 40, host="db-1")
    rig.step(group, 60, "cpu", 95, host="db-1")  # back: the hold is reset
    rig.step(group, 60, "cpu", 40, host="db-1")
    rig.step(group, 60, "cpu", 40, host="db-1")
    assert rig.alert("Hot").state == "firing"
    assert rig.kinds() == ["firing"]


def test_hysteresis_keeps_firing_until_the_resolve_expression_clears(rig: Rig) -> None:
    group = "{name: g, rules: [{alert: Hot, expr: cpu > 90, resolve_expr: cpu > 80}]}"
    rig.put("cpu", 95, host="db-1")
    rig.evaluate(group)
    rig.step(group, 60, "cpu", 85, host="db-1")  # below 90, above 80: still firing
    assert rig.alert("Hot").state == "firing"
    assert rig.alert("Hot").value == 95  # the value of the last time the condition held
    rig.step(group, 60, "cpu", 79, host="db-1")
    assert rig.alert("Hot").state == "resolved"
    assert rig.kinds() == ["firing", "resolved"]


def test_hysteresis_does_not_hold_a_pending_alert(rig: Rig) -> None:
    group = "{name: g, rules: [{alert: Hot, expr: cpu > 90, for: 5m, resolve_expr: cpu > 80}]}"
    rig.put("cpu", 95, host="db-1")
    rig.evaluate(group)
    rig.step(group, 60, "cpu", 85, host="db-1")
    assert rig.alert("Hot").state == "inactive"


def test_flapping_alert_is_notified_once_then_quiet_then_its_final_state(rig: Rig) -> None:
    """max 4 changes in 10 minutes (the rig's policy): the 5th change marks it flapping."""
    group = "{name: g, rules: [{alert: Hot, expr: cpu > 90}]}"
    rig.put("cpu", 95, host="db-1")
    rig.evaluate(group)  # change 1: firing
    for value in (40, 95, 40, 95, 40, 95, 40):  # changes 2..8 within 7 minutes
        rig.step(group, 60, "cpu", value, host="db-1")
    assert rig.alert("Hot").flapping
    assert rig.kinds() == ["firing", "resolved", "firing", "resolved", "flapping"]
    for _ in range(10):  # quiet (resolved) for 10 minutes: the changes leave the window
        rig.step(group, 60, "cpu", 40, host="db-1")
    alert = rig.alert("Hot")
    assert (alert.state, alert.flapping) == ("resolved", False)
    # The last notified state was "resolved" (before flapping), so nothing more is sent.
    assert rig.kinds() == ["firing", "resolved", "firing", "resolved", "flapping"]


def test_flapping_that_ends_firing_sends_the_firing_state(rig: Rig) -> None:
    group = "{name: g, rules: [{alert: Hot, expr: cpu > 90}]}"
    rig.put("cpu", 95, host="db-1")
    rig.evaluate(group)
    for value in (40, 95, 40, 95):  # the 5th change (firing) marks it flapping
        rig.step(group, 60, "cpu", value, host="db-1")
    assert rig.kinds() == ["firing", "resolved", "firing", "resolved", "flapping"]
    for _ in range(10):
        rig.step(group, 60, "cpu", 95, host="db-1")
    assert rig.kinds()[-1] == "firing"
    assert rig.notifications()[-1].payload["flapping"] is False


def test_each_label_set_is_its_own_alert(rig: Rig) -> None:
    group = "{name: g, rules: [{alert: Hot, expr: cpu > 90}]}"
    rig.put("cpu", 95, host="db-1")
    rig.put("cpu", 99, host="db-2")
    rig.evaluate(group)
    rig.step(group, 30, "cpu", 40, host="db-1")
    rig.put("cpu", 99, host="db-2")
    rig.evaluate(group)
    states = {a.labels["host"]: a.state for a in rig.alerts()}
    assert states == {"db-1": "resolved", "db-2": "firing"}
    assert len({a.fingerprint for a in rig.alerts()}) == 2


def test_resolved_alert_that_returns_is_a_new_alert_with_a_new_start(rig: Rig) -> None:
    group = "{name: g, rules: [{alert: Hot, expr: cpu > 90}]}"
    rig.put("cpu", 95, host="db-1")
    rig.evaluate(group)
    rig.step(group, 60, "cpu", 40, host="db-1")
    rig.step(group, 60, "cpu", 95, host="db-1")
    alert = rig.alert("Hot")
    assert alert.state == "firing"
    assert alert.fired_at is not None and alert.fired_at.timestamp() == rig.clock.time()
    assert alert.ends_at is None
    assert rig.kinds() == ["firing", "resolved", "firing"]


def test_failed_query_changes_no_alert_and_is_reported(rig: Rig) -> None:
    rig.put("cpu", 95, host="db-1")
    rig.evaluate("{name: g, rules: [{alert: Hot, expr: cpu > 90}]}")
    # Same group, now a rule whose result is a range vector: an evaluation error.
    result = rig.evaluate("{name: g, rules: [{alert: Hot, expr: 'cpu[5m]'}]}")
    assert "not a vector" in result.errors["Hot"]
    assert rig.alert("Hot").state == "firing"


def test_rule_removed_from_the_group_resolves_its_alerts(rig: Rig) -> None:
    rig.put("cpu", 95, host="db-1")
    rig.evaluate("{name: g, rules: [{alert: Hot, expr: cpu > 90}]}")
    rig.evaluate("{name: g, rules: [{alert: Other, expr: vector(1) < 0}]}")
    assert rig.alert("Hot").state == "resolved"
    assert rig.kinds() == ["firing", "resolved"]
