"""`/api/v1/rules`, rule group CRUD and `/api/v1/alerts`: formats, validation, tenants, RBAC."""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.conftest import Env, TenantFixture
from watchkeeper.domain.series import SeriesSamples, labels_from_dict

YAML = {"Content-Type": "application/yaml"}
GROUP = """
name: node
interval: 30s
rules:
  - alert: HighCpu
    expr: cpu > 90
    labels: {severity: page}
    annotations: {summary: "{{ $labels.host }} at {{ $value }}"}
  - record: host:cpu:max
    expr: max by (host) (cpu)
"""


def put_cpu(env: Env, tenant: str, value: float, host: str = "db-1") -> None:
    context = env.context
    now_ms = round(env.clock.time() * 1000)
    context.store.append(
        context.tenants.id_of(tenant),
        [
            SeriesSamples(
                labels_from_dict({"__name__": "cpu", "host": host}),
                np.array([now_ms], np.int64),
                np.array([value], np.float64),
            )
        ],
    )


def evaluate(env: Env) -> None:
    rules = env.context.rules
    assert rules is not None
    rules.run_due()


def create(env: Env, headers: dict[str, str], body: str = GROUP, name: str = "node") -> Any:
    return env.client.post(
        f"/api/v1/rules/groups/{name}", content=body, headers={**headers, **YAML}
    )


def test_yaml_group_is_created_evaluated_and_listed_in_prometheus_format(
    env: Env, acme: TenantFixture
) -> None:
    created = create(env, acme.key)
    assert created.status_code == 201, created.text
    assert created.json()["group"]["interval"] == 30.0
    put_cpu(env, "acme", 95)
    evaluate(env)
    body = env.client.get("/api/v1/rules", headers=acme.key).json()
    assert body["status"] == "success"
    (group,) = body["data"]["groups"]
    assert (group["name"], group["file"], group["interval"]) == ("node", "api/node", 30.0)
    alerting, recording = group["rules"]
    assert alerting["type"] == "alerting" and alerting["state"] == "firing"
    assert alerting["health"] == "ok" and alerting["lastError"] == ""
    assert alerting["lastEvaluation"] is not None
    (alert,) = alerting["alerts"]
    assert alert["labels"] == {"alertname": "HighCpu", "host": "db-1", "severity": "page"}
    assert alert["annotations"] == {"summary": "db-1 at 95.0"}
    assert alert["value"] == "95"
    assert recording["type"] == "recording" and "alerts" not in recording
    only = env.client.get("/api/v1/rules", headers=acme.key, params={"type": "record"}).json()
    assert [r["name"] for r in only["data"]["groups"][0]["rules"]] == ["host:cpu:max"]


def test_alerts_endpoint_filters_by_state_and_labels_and_shows_history(
    env: Env, acme: TenantFixture
) -> None:
    create(env, acme.key)
    put_cpu(env, "acme", 95, "db-1")
    put_cpu(env, "acme", 99, "db-2")
    evaluate(env)
    env.clock.advance(30)
    put_cpu(env, "acme", 10, "db-1")
    put_cpu(env, "acme", 99, "db-2")
    evaluate(env)
    firing = env.client.get("/api/v1/alerts", headers=acme.key).json()["data"]["alerts"]
    assert [a["labels"]["host"] for a in firing] == ["db-2"]
    resolved = env.client.get(
        "/api/v1/alerts", headers=acme.key, params={"state": "resolved"}
    ).json()["data"]["alerts"]
    assert [a["labels"]["host"] for a in resolved] == ["db-1"]
    assert resolved[0]["endsAt"] is not None
    matched = env.client.get(
        "/api/v1/alerts",
        headers=acme.key,
        params={"state": ["firing", "resolved"], "filter": 'host=~"db-1|db-3"'},
    ).json()["data"]["alerts"]
    assert [a["labels"]["host"] for a in matched] == ["db-1"]
    detail = env.client.get(f"/api/v1/alerts/{resolved[0]['fingerprint']}", headers=acme.key)
    assert detail.status_code == 200
    history = [(h["from"], h["to"]) for h in detail.json()["data"]["history"]]
    assert history == [("firing", "resolved"), ("pending", "firing"), ("inactive", "pending")]
    bad = env.client.get("/api/v1/alerts", headers=acme.key, params={"filter": "host=="})
    assert bad.status_code == 400


def test_invalid_promql_is_a_422_pointing_at_the_rule_and_field(
    env: Env, acme: TenantFixture
) -> None:
    body = "rules: [{alert: Ok, expr: up}, {alert: Broken, expr: 'rate(cpu[5m]'}]"
    response = create(env, acme.key, body)
    assert response.status_code == 422
    (detail,) = response.json()["error"]["details"]
    assert detail["field"] == "group node > rules[1] (Broken) > expr"
    assert detail["message"].startswith("invalid PromQL")


def test_invalid_template_is_a_422(env: Env, acme: TenantFixture) -> None:
    body = "rules: [{alert: A, expr: up, annotations: {summary: '{{ $value | nope }}'}}]"
    response = create(env, acme.key, body)
    assert response.status_code == 422
    assert (
        response.json()["error"]["details"][0]["field"]
        == "group node > rules[0] (A) > annotations.summary"
    )


def test_json_form_put_replace_conflict_and_delete(env: Env, acme: TenantFixture) -> None:
    group = {"rules": [{"alert": "A", "expr": "up == 0", "for": "5m"}]}
    assert (
        env.client.post("/api/v1/rules/groups/g", json=group, headers=acme.key).status_code == 201
    )
    again = env.client.post("/api/v1/rules/groups/g", json=group, headers=acme.key)
    assert again.status_code == 409
    group["rules"][0]["for"] = "10m"
    replaced = env.client.put("/api/v1/rules/groups/g", json=group, headers=acme.key)
    assert replaced.status_code == 200
    assert (replaced.json()["revision"], replaced.json()["group"]["rules"][0]["for"]) == (2, 600.0)
    stored = env.client.get("/api/v1/rules/groups/g", headers=acme.key).json()
    assert stored["source"] == "api"
    assert env.client.put("/api/v1/rules/groups/h", json=group, headers=acme.key).status_code == 201
    assert env.client.delete("/api/v1/rules/groups/g", headers=acme.key).status_code == 204
    assert env.client.get("/api/v1/rules/groups/g", headers=acme.key).status_code == 404
    mismatch = env.client.post(
        "/api/v1/rules/groups/x", json={"name": "y", **group}, headers=acme.key
    )
    assert mismatch.status_code == 422


def test_deleting_a_group_resolves_its_firing_alerts(env: Env, acme: TenantFixture) -> None:
    create(env, acme.key)
    put_cpu(env, "acme", 95)
    evaluate(env)
    assert env.client.delete("/api/v1/rules/groups/node", headers=acme.key).status_code == 204
    resolved = env.client.get(
        "/api/v1/alerts", headers=acme.key, params={"state": "resolved"}
    ).json()["data"]["alerts"]
    assert [a["labels"]["alertname"] for a in resolved] == ["HighCpu"]


def test_tenants_see_only_their_own_groups_and_alerts(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    create(env, acme.key)
    put_cpu(env, "acme", 95)
    evaluate(env)
    (alert,) = env.client.get("/api/v1/alerts", headers=acme.key).json()["data"]["alerts"]
    assert env.client.get("/api/v1/rules/groups/node", headers=globex.key).status_code == 404
    assert env.client.delete("/api/v1/rules/groups/node", headers=globex.key).status_code == 404
    assert env.client.get("/api/v1/rules", headers=globex.key).json()["data"]["groups"] == []
    assert env.client.get("/api/v1/alerts", headers=globex.key).json()["data"]["alerts"] == []
    fingerprint = alert["fingerprint"]
    assert env.client.get(f"/api/v1/alerts/{fingerprint}", headers=globex.key).status_code == 404
    # The same group name in another tenant is another group.
    assert create(env, globex.key).status_code == 201


def test_viewers_read_rules_and_alerts_but_do_not_change_rules(
    env: Env, acme: TenantFixture
) -> None:
    assert create(env, acme.viewer).status_code == 403
    assert create(env, acme.admin).status_code == 201
    assert env.client.get("/api/v1/rules", headers=acme.viewer).status_code == 200
    assert env.client.get("/api/v1/alerts", headers=acme.viewer).status_code == 200
    assert env.client.get("/api/v1/rules/groups/node", headers=acme.viewer).status_code == 200
    assert env.client.delete("/api/v1/rules/groups/node", headers=acme.viewer).status_code == 403
    assert env.client.get("/api/v1/rules").status_code == 401


def test_rule_evaluation_metrics_are_exported(env: Env, acme: TenantFixture) -> None:
    create(env, acme.key)
    put_cpu(env, "acme", 95)
    evaluate(env)
    text = env.client.get("/metrics").text
    assert "watchkeeper_rule_group_evaluation_duration_seconds_count" in text
    assert 'watchkeeper_rule_evaluations_total{kind="alerting"}' in text
    assert 'watchkeeper_alerts{state="firing"}' in text
