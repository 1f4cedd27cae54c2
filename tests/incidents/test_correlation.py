"""Correlation rules: shared labels within a window, the alertname fallback, min_alerts,
auto-resolve and reopen, incremental and restart-safe passes, notifications queued."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client import REGISTRY

from tests.incidents.conftest import Rig
from watchkeeper.incidents.correlation import CorrelationWorker, Correlator


def test_alerts_sharing_service_and_cluster_within_the_window_form_one_incident(
    db_rig: Rig,
) -> None:
    rig = db_rig
    rig.fire("HighLatency", "p99 above 2s", service="api", cluster="eu")
    rig.clock.advance(60)
    rig.fire("HighErrorRate", service="api", cluster="eu", severity="critical")
    rig.fire("DiskSpaceLow", service="db", cluster="eu")
    report = rig.run()
    assert report.opened == [1, 2] and report.joined == 1
    first, _ = rig.incidents()
    assert first.correlation_key == "service=api, cluster=eu" and first.severity == "critical"
    joined = rig.members(1)[1]
    assert joined.alertname == "HighErrorRate"
    assert joined.reason == "shares service=api, cluster=eu with incident #1 (within 600s)"
    assert [m.alertname for m in rig.members(2)] == ["DiskSpaceLow"]
    assert first.category and 0 < first.category_confidence <= 1


def test_an_alert_after_the_window_opens_a_new_incident(rig: Rig) -> None:
    rig.fire("HighLatency", service="api")
    rig.run()
    rig.clock.advance(601)
    rig.fire("HighErrorRate", service="api")
    rig.run()
    assert [len(rig.members(i.number)) for i in rig.incidents()] == [1, 1]


def test_without_group_labels_the_alertname_groups(rig: Rig) -> None:
    rig.fire("InstanceDown", instance="a:9100")
    rig.fire("InstanceDown", instance="b:9100")
    rig.fire("HighLoad", instance="a:9100")
    rig.run()
    first, _ = rig.incidents()
    assert first.correlation_key == "alertname=InstanceDown"
    assert len(rig.members(1)) == 2 and len(rig.members(2)) == 1
    assert rig.members(1)[1].reason.startswith("same alertname InstanceDown")


def test_min_alerts_waits_for_enough_alerts_in_the_window(rig: Rig) -> None:
    rules = replace(rig.rules, min_alerts=3)
    rig.fire("A", service="api")
    rig.clock.advance(700)  # the first one ages out of the window
    rig.fire("B", service="api")
    rig.run(rules)
    rig.fire("C", service="api")
    assert rig.run(rules).opened == []
    assert rig.incidents() == []
    rig.fire("D", service="api")
    report = rig.run(rules)
    assert report.opened == [1]
    assert [m.alertname for m in rig.members(1)] == ["B", "C", "D"]
    assert "3 alerts with service=api fired within 600s (min_alerts 3)" in rig.members(1)[0].reason


def test_a_resolved_alert_leaves_the_waiting_list(rig: Rig) -> None:
    rules = replace(rig.rules, min_alerts=2)
    first = rig.fire("A", service="api")
    rig.run(rules)
    rig.resolve(first)
    rig.fire("B", service="api")
    assert rig.run(rules).opened == []


def test_incident_resolves_when_every_member_resolved_and_reopens_if_one_fires_again(
    db_rig: Rig,
) -> None:
    rig = db_rig
    a = rig.fire("HighLatency", service="api")
    b = rig.fire("HighErrorRate", service="api")
    rig.run()
    rig.clock.advance(120)
    rig.resolve(a)
    rig.run()
    assert rig.incidents()[0].status == "triggered"
    rig.resolve(b)
    assert rig.run().resolved == 1
    (incident,) = rig.incidents()
    assert incident.status == "resolved"
    assert (incident.resolved_at - incident.created_at).total_seconds() == 120  # type: ignore[operator]
    rig.clock.advance(300)
    rig.fire("HighLatency", service="api")
    assert rig.run().reopened == 1
    (incident,) = rig.incidents()
    assert incident.status == "triggered" and incident.resolved_at is None
    assert [m.state for m in rig.members(1)] == ["firing", "resolved"]


def test_an_alert_firing_after_the_reopen_window_opens_a_new_incident(rig: Rig) -> None:
    fp = rig.fire("HighLatency", service="api")
    rig.run()
    rig.resolve(fp)
    rig.run()
    rig.clock.advance(1801)
    rig.fire("HighLatency", service="api")
    rig.run()
    assert [i.status for i in rig.incidents()] == ["resolved", "triggered"]


def test_auto_resolve_can_be_turned_off(rig: Rig) -> None:
    rules = replace(rig.rules, auto_resolve=False)
    fp = rig.fire("HighLatency", service="api")
    rig.run(rules)
    rig.resolve(fp)
    rig.run(rules)
    assert rig.incidents()[0].status == "triggered"
    assert rig.members(1)[0].state == "resolved"


def test_passes_are_incremental_and_survive_a_restart(rig: Rig) -> None:
    rig.fire("HighLatency", service="api")
    assert rig.run().transitions == 1
    assert rig.run().transitions == 0  # a new correlator resumes from the stored watermark
    rig.fire("HighErrorRate", service="api")
    report = rig.run()
    assert report.transitions == 1 and report.joined == 1
    assert len(rig.incidents()) == 1


def test_opening_and_resolving_queue_notifications_in_the_same_transaction(rig: Rig) -> None:
    fp = rig.fire("HighErrorRate", service="api", severity="critical")
    rig.run()
    rig.resolve(fp)
    rig.run()
    rows = rig.outbox()
    (incident,) = rig.incidents()
    assert [r.payload["event"] for r in rows] == ["opened", "resolved"]
    assert {(r.source, r.source_ref, r.receiver, r.channel, r.priority) for r in rows} == {
        ("incident", incident.id, "default", "", "critical")
    }
    assert len({r.idempotency_key for r in rows}) == 2
    assert rows[0].payload["alerts"][0]["alertname"] == "HighErrorRate"


def test_the_worker_correlates_each_tenant_and_counts_open_incidents(rig: Rig) -> None:
    rig.fire("HighErrorRate", service="api", severity="critical")
    worker = CorrelationWorker(
        correlator=Correlator(rig.rules, rig.policy),
        sessions=rig.sessions,
        clock=rig.clock,
        interval=10,
    )
    assert worker.run_once()[rig.tenant].opened == [1]
    labels = {"status": "triggered", "severity": "critical"}
    assert REGISTRY.get_sample_value("watchkeeper_incidents_open", labels) == 1
