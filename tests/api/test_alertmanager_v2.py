"""Alertmanager API v2 read side in Alertmanager's shapes: alerts with status and receivers,
the dispatcher's groups, status with the configuration as YAML, receivers; filters, tenants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from tests.conftest import Env, TenantFixture

HANDLING = """\
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: ['team="db"']
      receiver: db-pager
      group_by: [alertname, cluster]
      continue: true
    - matchers: ['severity="critical"']
      receiver: pager
inhibit_rules:
  - source_matchers: ['alertname="ClusterDown"']
    target_matchers: ['alertname="InstanceDown"']
    equal: [cluster]
receivers:
  - name: default
  - name: db-pager
  - name: pager
  - name: unused
"""

REQUIRED_ALERT_FIELDS = {
    "labels",
    "annotations",
    "startsAt",
    "endsAt",
    "updatedAt",
    "fingerprint",
    "receivers",
    "status",
}


def _iso(env: Env, minutes: float) -> str:
    return (datetime.fromtimestamp(env.clock.time(), UTC) + timedelta(minutes=minutes)).isoformat()


def _fire(env: Env, headers: dict[str, str], *alerts: dict[str, str]) -> None:
    body = [
        {"labels": labels, "annotations": {"summary": "s"}, "endsAt": _iso(env, 10)}
        for labels in alerts
    ]
    response = env.client.post("/api/v2/alerts", json=body, headers=headers)
    assert response.status_code == 200, response.text


def _setup(env: Env, tenant: TenantFixture) -> None:
    response = env.client.put(
        "/api/v1/alerting/config",
        content=HANDLING,
        headers={**tenant.admin, "content-type": "application/yaml"},
    )
    assert response.status_code == 200, response.text
    _fire(
        env,
        tenant.admin,
        {"alertname": "InstanceDown", "cluster": "c1", "team": "db", "instance": "a"},
        {"alertname": "InstanceDown", "cluster": "c1", "team": "db", "instance": "b"},
        {"alertname": "ClusterDown", "cluster": "c1", "severity": "critical"},
        {"alertname": "DiskFull", "instance": "x"},
    )


def _names(alerts: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{a['labels']['alertname']}/{a['labels'].get('instance', '')}" for a in alerts)


def test_alerts_carry_status_receivers_and_filter_like_alertmanager(
    env: Env, acme: TenantFixture
) -> None:
    _setup(env, acme)
    client = env.client
    silence = client.post(
        "/api/v2/silences",
        json={
            "matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": False}],
            "startsAt": _iso(env, -1),
            "endsAt": _iso(env, 60),
            "createdBy": "ops",
            "comment": "known",
        },
        headers=acme.admin,
    ).json()["silenceID"]

    alerts = client.get("/api/v2/alerts", headers=acme.viewer).json()
    assert _names(alerts) == ["ClusterDown/", "DiskFull/x", "InstanceDown/a", "InstanceDown/b"]
    by_name = {f"{a['labels']['alertname']}/{a['labels'].get('instance', '')}": a for a in alerts}
    for alert in alerts:
        assert REQUIRED_ALERT_FIELDS <= alert.keys()
    assert by_name["DiskFull/x"]["status"] == {
        "state": "suppressed",
        "silencedBy": [silence],
        "inhibitedBy": [],
    }
    down = by_name["InstanceDown/a"]
    assert down["status"]["state"] == "suppressed"
    assert down["status"]["inhibitedBy"] == [by_name["ClusterDown/"]["fingerprint"]]
    # The team="db" child matches with continue: true; nothing after it does, so the root's
    # receiver is not a destination (Alertmanager's Route.Match).
    assert down["receivers"] == [{"name": "db-pager"}]
    assert by_name["ClusterDown/"]["status"] == {
        "state": "active",
        "silencedBy": [],
        "inhibitedBy": [],
    }
    assert by_name["ClusterDown/"]["receivers"] == [{"name": "pager"}]

    def query(**params: Any) -> list[str]:
        response = client.get("/api/v2/alerts", params=params, headers=acme.viewer)
        assert response.status_code == 200, response.text
        return _names(response.json())

    assert query(silenced="false") == ["ClusterDown/", "InstanceDown/a", "InstanceDown/b"]
    assert query(inhibited="false") == ["ClusterDown/", "DiskFull/x"]
    assert query(active="false") == ["DiskFull/x", "InstanceDown/a", "InstanceDown/b"]
    assert query(filter=['alertname=~"Instance.*"', 'instance!="b"']) == ["InstanceDown/a"]
    assert query(receiver="db-.*") == ["InstanceDown/a", "InstanceDown/b"]
    assert query(receiver="pag") == []  # anchored, as Alertmanager anchors it
    bad = client.get("/api/v2/alerts", params={"filter": "alertname=~("}, headers=acme.viewer)
    assert bad.status_code == 400


def test_groups_are_the_dispatchers_aggregation_groups(env: Env, acme: TenantFixture) -> None:
    _setup(env, acme)
    groups = env.client.get("/api/v2/alerts/groups", headers=acme.viewer).json()
    summary = sorted(
        (g["receiver"]["name"], tuple(sorted(g["labels"].items())), _names(g["alerts"]).__len__())
        for g in groups
    )
    assert summary == [
        ("db-pager", (("alertname", "InstanceDown"), ("cluster", "c1")), 2),
        ("default", (("alertname", "DiskFull"),), 1),
        ("pager", (("alertname", "ClusterDown"),), 1),
    ]
    only_pager = env.client.get(
        "/api/v2/alerts/groups", params={"receiver": "pager"}, headers=acme.viewer
    ).json()
    assert [g["receiver"]["name"] for g in only_pager] == ["pager"]


def test_status_and_receivers(env: Env, acme: TenantFixture) -> None:
    _setup(env, acme)
    status = env.client.get("/api/v2/status", headers=acme.viewer).json()
    assert yaml.safe_load(status["config"]["original"]) == yaml.safe_load(HANDLING)
    assert status["cluster"]["status"] in {"ready", "settling", "disabled"}
    assert set(status["versionInfo"]) == {
        "version",
        "revision",
        "branch",
        "buildUser",
        "buildDate",
        "goVersion",
    }
    assert datetime.fromisoformat(status["uptime"]) <= datetime.now(UTC)
    receivers = env.client.get("/api/v2/receivers", headers=acme.viewer).json()
    assert receivers == [{"name": n} for n in ["default", "db-pager", "pager", "unused"]]


def test_tenants_see_only_their_own_alerts(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    _setup(env, acme)
    assert env.client.get("/api/v2/alerts", headers=globex.viewer).json() == []
    assert env.client.get("/api/v2/alerts/groups", headers=globex.key).json() == []
    theirs = env.client.get("/api/v2/status", headers=globex.viewer).json()
    assert "db-pager" not in theirs["config"]["original"]
    assert env.client.get("/api/v2/alerts").status_code == 401
