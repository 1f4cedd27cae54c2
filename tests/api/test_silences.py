"""Silences over Alertmanager's v2 API (and the v1 mirror): CRUD, history, tenants, RBAC,
validation, and the silenced/inhibited status of `GET /api/v1/alerts`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.test_rules import YAML, put_cpu
from tests.conftest import Env, TenantFixture


def _iso(env: Env, minutes: float) -> str:
    return (datetime.fromtimestamp(env.clock.time(), UTC) + timedelta(minutes=minutes)).isoformat()


def body(env: Env, **changes: Any) -> dict[str, Any]:
    return {
        "matchers": [{"name": "alertname", "value": "HighCpu", "isRegex": False}],
        "startsAt": _iso(env, -1),
        "endsAt": _iso(env, 60),
        "createdBy": "ops",
        "comment": "disk swap",
        **changes,
    }


def test_silence_lifecycle_keeps_history(env: Env, acme: TenantFixture) -> None:
    client = env.client
    created = client.post("/api/v2/silences", json=body(env), headers=acme.admin)
    assert created.status_code == 200, created.text
    sid = created.json()["silenceID"]
    one = client.get(f"/api/v2/silence/{sid}", headers=acme.viewer).json()
    assert one["status"] == {"state": "active"} and one["createdBy"] == "ops"
    assert one["matchers"] == [
        {"name": "alertname", "value": "HighCpu", "isRegex": False, "isEqual": True}
    ]
    # A new end keeps the id; new matchers replace it (the old one expires, as Alertmanager).
    same = client.post(
        "/api/v2/silences", json=body(env, id=sid, endsAt=_iso(env, 120)), headers=acme.admin
    )
    assert same.json()["silenceID"] == sid
    moved = client.post(
        "/api/v2/silences",
        json=body(env, id=sid, matchers=[{"name": "host", "value": "db-.*", "isRegex": True}]),
        headers=acme.admin,
    ).json()["silenceID"]
    assert moved != sid
    assert client.get(f"/api/v2/silence/{sid}", headers=acme.admin).json()["status"] == {
        "state": "expired"
    }
    assert client.delete(f"/api/v2/silence/{moved}", headers=acme.admin).status_code == 200
    listed = client.get("/api/v1/silences", headers=acme.viewer).json()
    assert sorted(s["status"]["state"] for s in listed) == ["expired", "expired"]
    active = client.get("/api/v2/silences?state=active", headers=acme.viewer).json()
    assert active == []
    again = client.delete(f"/api/v2/silence/{moved}", headers=acme.admin)
    assert again.status_code == 409 and "already expired" in again.json()["error"]["message"]


def test_filter_finds_silences_by_their_matchers(env: Env, acme: TenantFixture) -> None:
    env.client.post("/api/v2/silences", json=body(env), headers=acme.admin)
    found = env.client.get(
        "/api/v2/silences", params={"filter": 'alertname="HighCpu"'}, headers=acme.admin
    ).json()
    assert len(found) == 1
    none = env.client.get(
        "/api/v2/silences", params={"filter": 'alertname="Other"'}, headers=acme.admin
    ).json()
    assert none == []
    bad = env.client.get("/api/v2/silences", params={"filter": "=="}, headers=acme.admin)
    assert bad.status_code == 400


def test_bad_silences_are_refused_with_the_reason(env: Env, acme: TenantFixture) -> None:
    post = env.client.post
    backwards = post("/api/v2/silences", json=body(env, endsAt=_iso(env, -5)), headers=acme.admin)
    assert backwards.status_code == 422 and "endsAt" in backwards.json()["error"]["message"]
    regex = [{"name": "job", "value": "(", "isRegex": True}]
    bad = post("/api/v2/silences", json=body(env, matchers=regex), headers=acme.admin)
    assert bad.status_code == 422 and "regex" in bad.json()["error"]["message"]
    everything = [{"name": "job", "value": ".*", "isRegex": True}]
    wide = post("/api/v2/silences", json=body(env, matchers=everything), headers=acme.admin)
    assert wide.status_code == 422 and "empty string" in wide.json()["error"]["message"]
    missing = post("/api/v2/silences", json=body(env, id="nope"), headers=acme.admin)
    assert missing.status_code == 404


def test_viewers_read_editors_change_and_tenants_do_not_see_each_other(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    denied = env.client.post("/api/v2/silences", json=body(env), headers=acme.viewer)
    assert denied.status_code == 403 and "silences:write" in denied.json()["error"]["message"]
    sid = env.client.post("/api/v2/silences", json=body(env), headers=acme.key).json()["silenceID"]
    assert env.client.get(f"/api/v2/silence/{sid}", headers=globex.admin).status_code == 404
    assert env.client.delete(f"/api/v2/silence/{sid}", headers=globex.admin).status_code == 404
    assert env.client.get("/api/v2/silences", headers=globex.admin).json() == []
    audit = env.client.get("/api/v1/audit", headers=acme.admin).json()
    records = audit if isinstance(audit, list) else audit.get("records", audit.get("items", []))
    assert any(
        r.get("details", {}).get("silence_id") == sid for r in records if isinstance(r, dict)
    )


GROUP = """
name: node
interval: 30s
rules:
  - alert: HighCpu
    expr: cpu > 90
    labels: {severity: critical}
  - alert: CpuWarm
    expr: cpu > 80
    labels: {severity: warning}
"""

CONFIG = """
route: {receiver: ops, group_by: [alertname]}
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [host]
"""


def test_alerts_show_what_silences_and_inhibits_them(env: Env, acme: TenantFixture) -> None:
    client = env.client
    assert (
        client.post(
            "/api/v1/rules/groups/node", content=GROUP, headers={**acme.admin, **YAML}
        ).status_code
        == 201
    )
    put = client.put("/api/v1/alerting/config", content=CONFIG, headers={**acme.admin, **YAML})
    assert put.status_code == 200, put.text
    put_cpu(env, "acme", 95, host="db-1")
    rules = env.context.rules
    assert rules is not None
    rules.run_due()
    sid = client.post("/api/v2/silences", json=body(env), headers=acme.admin).json()["silenceID"]

    def names(**params: str) -> dict[str, Any]:
        alerts = client.get("/api/v1/alerts", params=params, headers=acme.viewer).json()
        return {a["labels"]["alertname"]: a["status"] for a in alerts["data"]["alerts"]}

    everything = names()
    assert everything["HighCpu"] == {"state": "suppressed", "silencedBy": [sid], "inhibitedBy": []}
    assert everything["CpuWarm"]["inhibitedBy"] != [] and everything["CpuWarm"]["silencedBy"] == []
    assert list(names(silenced="true")) == ["HighCpu"]
    assert list(names(inhibited="true")) == ["CpuWarm"]
    assert names(silenced="false", inhibited="false") == {}
