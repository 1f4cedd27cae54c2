"""Recording, absence, anomaly, forecast and composite rules evaluated end to end."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import numpy as np

from tests.alert.conftest import Rig
from watchkeeper.db.tables import AnomalyRecord
from watchkeeper.domain.series import Matcher, MatchOp, SeriesSamples, labels_from_dict


def test_recording_rule_writes_its_result_as_a_series(rig: Rig) -> None:
    rig.put("requests", 3, job="api", instance="a")
    rig.put("requests", 4, job="api", instance="b")
    rig.evaluate(
        "{name: g, rules: [{record: 'job:requests:sum', expr: 'sum by (job) (requests)',"
        " labels: {team: web}}]}"
    )
    (series,) = rig.store.select(
        rig.tenant, [Matcher("__name__", MatchOp.EQUAL, "job:requests:sum")], 0, 2**62
    )
    assert dict(series.labels) == {"__name__": "job:requests:sum", "job": "api", "team": "web"}
    assert series.values.tolist() == [7.0]
    assert series.timestamps.tolist() == [round(rig.clock.time() * 1000)]


def test_recorded_series_feeds_a_later_rule_of_the_same_group(rig: Rig) -> None:
    rig.put("requests", 30, job="api")
    rig.evaluate(
        """
name: g
rules:
  - record: 'job:requests:sum'
    expr: sum by (job) (requests)
  - alert: Busy
    expr: 'job:requests:sum > 10'
"""
    )
    assert rig.alert("Busy").labels == {"alertname": "Busy", "job": "api"}


def test_absence_rule_fires_when_no_series_matches(rig: Rig) -> None:
    group = """
name: g
rules:
  - alert: ApiGone
    type: absence
    selector: 'up{job="api"}'
    for: 2m
"""
    rig.put("up", 1, job="api")
    rig.evaluate(group)
    assert rig.alerts() == []
    rig.clock.advance(301)  # past the 5-minute lookback: no sample left
    rig.evaluate(group)
    rig.clock.advance(120)
    rig.evaluate(group)
    alert = rig.alert("ApiGone")
    assert (alert.state, alert.labels) == ("firing", {"alertname": "ApiGone", "job": "api"})
    rig.clock.advance(60)
    rig.put("up", 1, job="api")
    rig.evaluate(group)
    assert rig.alert("ApiGone").state == "resolved"


def test_anomaly_rule_fires_on_the_score_and_carries_the_explanation(rig: Rig) -> None:
    group = """
name: g
rules:
  - alert: LatencyAnomaly
    type: anomaly
    selector: 'latency{job="api"}'
    threshold: 0.8
    annotations: {summary: "score {{ $value }}"}
"""
    score_labels = {"job": "api", "metric": "latency"}
    with rig.sessions.tenant(rig.tenant) as db:
        db.add(
            AnomalyRecord(
                series_hash=hashlib.sha256(b'latency{job="api"}').hexdigest(),
                series='latency{job="api"}',
                metric="latency",
                labels={"__name__": "latency", "job": "api"},
                at=rig.clock.now(),
                detector="default",
                score=0.93,
                pattern="spike",
                explanation={"observed": 900.0, "expected": 120.0},
                sentence="latency is 900, expected about 120",
                created_at=rig.clock.now(),
            )
        )
    rig.put("watchkeeper_anomaly_score", 0.7, **score_labels)
    rig.evaluate(group)
    assert rig.alerts() == []  # below the threshold
    rig.clock.advance(30)
    rig.put("watchkeeper_anomaly_score", 0.93, **score_labels)
    rig.evaluate(group)
    alert = rig.alert("LatencyAnomaly")
    assert alert.state == "firing"
    assert alert.labels == {"alertname": "LatencyAnomaly", "job": "api", "metric": "latency"}
    assert alert.explanation is not None
    assert alert.explanation["sentence"] == "latency is 900, expected about 120"
    assert alert.annotations["explanation"] == "latency is 900, expected about 120"
    assert rig.notifications()[0].payload["explanation"]["observed"] == 900.0


def test_anomaly_rule_resolve_threshold_is_hysteresis(rig: Rig) -> None:
    group = """
name: g
rules:
  - alert: A
    type: anomaly
    selector: latency
    threshold: 0.8
    resolve_threshold: 0.5
"""
    rig.put("watchkeeper_anomaly_score", 0.9, metric="latency")
    rig.evaluate(group)
    rig.step(group, 30, "watchkeeper_anomaly_score", 0.6, metric="latency")
    assert rig.alert("A").state == "firing"
    rig.step(group, 30, "watchkeeper_anomaly_score", 0.4, metric="latency")
    assert rig.alert("A").state == "resolved"


def test_forecast_rule_fires_before_the_crossing_with_the_predicted_time(rig: Rig) -> None:
    group = """
name: g
rules:
  - alert: DiskFillsUp
    type: forecast
    selector: 'disk_free_bytes{mount="/"}'
    threshold: 0
    direction: below
    within: 4h
    lookback: 1h
"""
    disk = labels_from_dict({"__name__": "disk_free_bytes", "mount": "/"})
    start = rig.clock.time()
    minutes = np.arange(-60, 121)
    # Falling 1 byte a minute for an hour (1,000 left: empty in 16h40m), then 8 a minute.
    values = np.where(minutes <= 0, 1000.0 - minutes, 1000.0 - 8.0 * minutes)
    ts = ((start + 60 * minutes) * 1000).astype(np.int64)
    rig.store.append(rig.tenant, [SeriesSamples(disk, ts, values)])
    rig.evaluate(group)
    assert rig.alerts() == []  # not within 4 hours at the slow rate
    rig.clock.advance(7200)  # two hours at 8 bytes a minute: 40 bytes left
    rig.evaluate(group)
    alert = rig.alert("DiskFillsUp")
    assert alert.state == "firing"
    assert float(alert.annotations["predicted_crossing_in_seconds"]) == 300.0
    crossing = datetime.fromtimestamp(rig.clock.time() + 300, UTC)
    assert alert.annotations["predicted_crossing_at"] == crossing.isoformat().replace("+00:00", "Z")


def test_composite_all_of_fires_per_label_value_where_every_rule_fires(rig: Rig) -> None:
    group = """
name: g
rules:
  - alert: HighCpu
    expr: cpu > 90
  - alert: HighLatency
    expr: latency > 1
  - alert: Overloaded
    type: composite
    all_of: [HighCpu, HighLatency]
    by: [host]
  - alert: AnyTrouble
    type: composite
    any_of: [HighCpu, HighLatency]
"""
    rig.put("cpu", 95, host="a")
    rig.put("latency", 2, host="a")
    rig.put("cpu", 95, host="b")
    rig.evaluate(group)
    overloaded = [a for a in rig.alerts() if a.rule_name == "Overloaded"]
    assert [a.labels for a in overloaded] == [{"alertname": "Overloaded", "host": "a"}]
    assert overloaded[0].value == 2.0
    assert rig.alert("AnyTrouble").labels == {"alertname": "AnyTrouble"}
    rig.clock.advance(60)
    rig.put("cpu", 10, host="a")
    rig.put("cpu", 10, host="b")
    rig.put("latency", 0.1, host="a")
    rig.evaluate(group)
    assert {
        a.rule_name: a.state for a in rig.alerts() if a.rule_name in ("Overloaded", "AnyTrouble")
    } == {
        "Overloaded": "resolved",
        "AnyTrouble": "resolved",
    }


def test_group_limit_makes_the_rule_fail_without_alerts(rig: Rig) -> None:
    for host in ("a", "b", "c"):
        rig.put("cpu", 95, host=host)
    result = rig.evaluate("{name: g, limit: 2, rules: [{alert: Hot, expr: cpu > 90}]}")
    assert "exceeded limit of 2" in result.errors["Hot"]
    assert rig.alerts() == []


def test_forecast_rule_with_a_model_uses_the_forecasting_engine(rig: Rig) -> None:
    def group(within: str) -> str:
        return f"""
name: g
rules:
  - alert: DiskAlmostFull
    type: forecast
    model: capacity
    selector: 'disk_used_percent{{mount="/"}}'
    threshold: 70
    within: {within}
"""

    disk = labels_from_dict({"__name__": "disk_used_percent", "mount": "/"})
    now = rig.clock.time()
    minutes = np.arange(-12 * 60, 1, 5)
    rng = np.random.default_rng(5)
    # 1 %/h from 50 % twelve hours ago: 62 % now, 70 % expected in 8 hours.
    values = 62.0 + minutes / 60.0 + rng.normal(0, 0.02, len(minutes))
    ts = ((now + 60 * minutes) * 1000).astype(np.int64)
    rig.store.append(rig.tenant, [SeriesSamples(disk, ts, values)])

    rig.evaluate(group("6h"))
    assert rig.alerts() == []  # 8 hours away: not within 6
    rig.evaluate(group("10h"))
    alert = rig.alert("DiskAlmostFull")
    assert alert.state == "firing"
    seconds = float(alert.annotations["predicted_crossing_in_seconds"])
    assert abs(seconds - 8 * 3600) < 1800
    assert (
        alert.annotations["predicted_crossing_earliest80"]
        <= alert.annotations["predicted_crossing_at"]
    )
    assert "predicted_crossing_latest80" in alert.annotations


def test_a_model_is_only_for_forecast_rules_and_must_be_known() -> None:
    import pytest

    from tests.alert.conftest import compile_yaml
    from watchkeeper.alert.rules import RuleValidationError

    with pytest.raises(RuleValidationError, match="model"):
        compile_yaml("{name: g, rules: [{alert: A, expr: 'up > 0', model: capacity}]}")
    with pytest.raises(RuleValidationError, match="model"):
        compile_yaml(
            "{name: g, rules: [{alert: A, type: forecast, selector: 'x', threshold: 1,"
            " within: 1h, model: crystal_ball}]}"
        )
