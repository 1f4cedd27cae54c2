"""The tenant's alert handling configuration over the API, and route-test's explanations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import Env, TenantFixture

YAML = {"Content-Type": "application/yaml"}
CONFIG = """
route:
  receiver: ops
  group_by: [alertname, cluster]
  group_wait: 10s
  routes:
    - matchers: ['team="db"']
      receiver: dba
      repeat_interval: 1h
receivers: [{name: ops}, {name: dba}]
"""


def test_default_then_put_then_a_bad_put_keeps_the_old_one(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    client = env.client
    default = client.get("/api/v1/alerting/config", headers=acme.viewer).json()
    assert default["source"] == "default"
    assert default["config"]["route"]["receiver"] == "default"
    saved = client.put("/api/v1/alerting/config", content=CONFIG, headers={**acme.admin, **YAML})
    assert saved.status_code == 200, saved.text
    assert saved.json()["source"] == "tenant" and saved.json()["updated_by"] == "acme-admin"
    broken = client.put(
        "/api/v1/alerting/config", content="route: [unclosed", headers={**acme.admin, **YAML}
    )
    assert broken.status_code == 422
    unknown = client.put(
        "/api/v1/alerting/config",
        json={"route": {"receiver": "ops", "group_wiat": "1m"}},
        headers=acme.admin,
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"][0]["field"] == "route.group_wiat"
    undefined = client.put(
        "/api/v1/alerting/config",
        content="route: {receiver: x}\nreceivers: [{name: y}]",
        headers={**acme.admin, **YAML},
    )
    assert "undefined receiver 'x'" in undefined.json()["error"]["message"]
    kept = client.get("/api/v1/alerting/config", headers=acme.viewer).json()
    assert kept["text"] == CONFIG and kept["config"]["route"]["routes"][0]["receiver"] == "dba"
    assert client.get("/api/v1/alerting/config", headers=globex.admin).json()["source"] == (
        "default"
    )
    denied = client.put("/api/v1/alerting/config", content=CONFIG, headers={**acme.viewer, **YAML})
    assert denied.status_code == 403


def test_route_test_explains_route_group_timers_and_silences(env: Env, acme: TenantFixture) -> None:
    client = env.client
    client.put("/api/v1/alerting/config", content=CONFIG, headers={**acme.admin, **YAML})
    now = datetime.fromtimestamp(env.clock.time(), UTC)
    sid = client.post(
        "/api/v2/silences",
        json={
            "matchers": [{"name": "team", "value": "db"}],
            "startsAt": (now - timedelta(minutes=1)).isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
            "comment": "upgrade",
        },
        headers=acme.admin,
    ).json()["silenceID"]
    labels = {"alertname": "DiskFull", "team": "db", "cluster": "eu"}
    answer = client.post("/api/v1/alerts/route-test", json={"labels": labels}, headers=acme.viewer)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    (route,) = data["routes"]
    assert (route["route"], route["receiver"]) == ("route.routes[0]", "dba")
    assert route["group_by"] == ["alertname", "cluster"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == (
        10.0,
        300.0,
        3600.0,
    )
    assert route["group_key"] == 'route.routes[0]:{alertname="DiskFull", cluster="eu"}'
    child = next(s for s in data["steps"] if s["route"] == "route.routes[0]")
    assert child["matched"] and child["matchers"][0]["value"] == "db"
    assert data["silenced_by"] == [sid] and data["would_notify"] is False
    other = client.post(
        "/api/v1/alerts/route-test", json={"labels": {"alertname": "X"}}, headers=acme.viewer
    ).json()
    assert [r["receiver"] for r in other["routes"]] == ["ops"] and other["would_notify"]
