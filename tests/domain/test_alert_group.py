"""The alert-group value: one serialiser to Alertmanager's body, a lossless outbox form,
and the template variables the channels render."""

from __future__ import annotations

from datetime import UTC, datetime

from watchkeeper.domain.alert_group import ZERO_TIME, AlertGroup, GroupAlert
from watchkeeper.domain.fingerprint import fingerprint


def _alert(host: str, status: str = "firing", **fields: object) -> GroupAlert:
    return GroupAlert.create(
        status=status,
        labels={"alertname": "DiskFull", "severity": "critical", "host": host},
        annotations={"summary": f"disk full on {host}"},
        starts_at=datetime(2026, 11, 28, tzinfo=UTC),
        ends_at=fields.get("ends_at"),
        generator_url="http://wk.example/g",
    )


def _group() -> AlertGroup:
    return AlertGroup(
        alerts=(_alert("db-1"), _alert("db-2", "resolved", ends_at="2026-11-28T01:00:00Z")),
        receiver="team",
        group_key='{}:{alertname="DiskFull"}',
        group_labels={"alertname": "DiskFull"},
        external_url="http://wk.example",
        changes={"new": ["x"], "resolved": ["y"], "unchanged": 0},
    )


def test_the_outbox_form_reads_back_as_the_same_group() -> None:
    group = _group()
    assert AlertGroup.from_payload(group.to_payload()) == group


def test_alertmanager_body_is_version_4_with_firing_alerts_ending_at_zero_time() -> None:
    body = _group().to_alertmanager(receiver="hook", max_alerts=1)
    assert body["version"] == "4" and body["receiver"] == "hook"
    assert body["status"] == "firing" and body["truncatedAlerts"] == 1
    assert body["commonLabels"] == {"alertname": "DiskFull", "severity": "critical"}
    assert body["alerts"] == [
        {
            "status": "firing",
            "labels": {"alertname": "DiskFull", "severity": "critical", "host": "db-1"},
            "annotations": {"summary": "disk full on db-1"},
            "startsAt": "2026-11-28T00:00:00Z",
            "endsAt": ZERO_TIME,
            "generatorURL": "http://wk.example/g",
            "fingerprint": fingerprint(
                {"alertname": "DiskFull", "severity": "critical", "host": "db-1"}
            ),
        }
    ]


def test_a_payload_that_is_not_a_group_is_none() -> None:
    assert AlertGroup.from_payload({"alert": {"name": "x"}}) is None
    assert AlertGroup.from_payload({"version": "1", "alerts": []}) is None


def test_template_variables_lead_with_the_first_firing_alert() -> None:
    variables = AlertGroup(
        alerts=(_alert("db-2", "resolved", ends_at="2026-11-28T01:00:00Z"), _alert("db-1"))
    ).template_variables()
    assert variables["status"] == "firing"
    assert variables["alert"]["labels"]["host"] == "db-1"
    assert variables["alert"]["ends_at"] is None  # firing: no end
    assert variables["alerts"][0]["ends_at"] == "2026-11-28T01:00:00Z"
    assert variables["alert"]["summary"] == "disk full on db-1"


def test_a_group_without_a_key_gets_one_in_alertmanager_form_from_the_alertname() -> None:
    group = AlertGroup.from_variables({"alert": {"name": "Hot", "status": "firing"}})
    body = group.to_alertmanager(receiver="hook")
    assert body["groupLabels"] == {"alertname": "Hot"}
    assert body["groupKey"] == '{}:{alertname="Hot"}'
    assert body["alerts"][0]["startsAt"] == ZERO_TIME
