"""`/api/v1/slos`: CRUD with validation, the generated group in /api/v1/rules, status, tenants."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import Env, TenantFixture
from watchkeeper.domain.series import SeriesSamples, labels_from_dict

YAML = {"Content-Type": "application/yaml"}
SLO = """
name: checkout
objective: 99.5
window: 28d
good: 'requests_total{code!~"5.."}'
total: requests_total
labels: {team: shop}
"""


def test_slo_lifecycle_generates_a_read_only_rule_group(env: Env, acme: TenantFixture) -> None:
    created = env.client.post("/api/v1/slos", content=SLO, headers={**acme.admin, **YAML})
    assert created.status_code == 201, created.text
    assert created.json()["group"] == "slo:checkout"
    again = env.client.post("/api/v1/slos", content=SLO, headers={**acme.admin, **YAML})
    assert again.status_code == 409

    rules = env.client.get("/api/v1/rules", headers=acme.viewer).json()["data"]["groups"]
    (group,) = [g for g in rules if g["name"] == "slo:checkout"]
    assert group["source"] == "slo"
    names = {r["name"] for r in group["rules"]}
    assert {"slo:sli_error:ratio_rate5m", "slo:error_budget_remaining:ratio"} <= names
    assert "ErrorBudgetBurn1h" in names
    by_hand = env.client.put(
        "/api/v1/rules/groups/slo:checkout",
        content="rules: [{record: x, expr: '1'}]",
        headers={**acme.admin, **YAML},
    )
    assert by_hand.status_code == 409
    assert "SLO" in by_hand.json()["error"]["message"]

    replaced = env.client.put(
        "/api/v1/slos/checkout",
        json={"objective": 99.9, "good": "ok_total", "total": "all_total"},
        headers=acme.admin,
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["revision"] == 2
    group = env.client.get("/api/v1/rules/groups/slo:checkout", headers=acme.viewer).json()
    assert "ok_total" in str(group["group"])

    assert env.client.delete("/api/v1/slos/checkout", headers=acme.admin).status_code == 204
    assert env.client.get("/api/v1/slos/checkout", headers=acme.viewer).status_code == 404
    rules = env.client.get("/api/v1/rules", headers=acme.viewer).json()["data"]["groups"]
    assert [g for g in rules if g["name"] == "slo:checkout"] == []
    audit = env.client.get("/api/v1/audit", headers=acme.admin).json()
    actions = {(r["action"], r["outcome"]) for r in audit}
    assert {
        ("POST /api/v1/slos", "success"),
        ("PUT /api/v1/slos/{name}", "success"),
        ("DELETE /api/v1/slos/{name}", "success"),
    } <= actions


BAD = [
    ("name: x\nobjective: 100\ngood: a\ntotal: b", "objective"),
    ("name: x\nobjective: 99\ngood: 'rate(a[5m]'\ntotal: b", "good"),
    ("name: x\nobjective: 99", "(root)"),
    ("name: x\nobjective: 99\ngood: a\ntotal: b\ntenant: other", None),
    ("- not a mapping", "(body)"),
]


def test_bad_slos_get_a_422_naming_the_problem(env: Env, acme: TenantFixture) -> None:
    for body, field in BAD:
        response = env.client.post("/api/v1/slos", content=body, headers={**acme.admin, **YAML})
        assert response.status_code == 422, (body, response.text)
        if field is not None:
            fields = [d["field"] for d in response.json()["error"]["details"]]
            assert field in fields, (body, fields)
    assert env.client.get("/api/v1/slos", headers=acme.admin).json()["slos"] == []


def test_viewers_read_editors_write_and_tenants_do_not_see_each_other(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    denied = env.client.post("/api/v1/slos", content=SLO, headers={**acme.viewer, **YAML})
    assert denied.status_code == 403
    assert env.client.post("/api/v1/slos", content=SLO, headers={**acme.key, **YAML}).is_success
    assert env.client.get("/api/v1/slos", headers=globex.admin).json()["slos"] == []
    assert env.client.get("/api/v1/slos/checkout/status", headers=globex.admin).status_code == 404
    assert env.client.delete("/api/v1/slos/checkout", headers=globex.admin).status_code == 404
    assert [s["name"] for s in env.client.get("/api/v1/slos", headers=acme.viewer).json()["slos"]]


def test_status_reports_budget_and_burn_rates(env: Env, acme: TenantFixture) -> None:
    env.client.post("/api/v1/slos", content=SLO, headers={**acme.admin, **YAML})
    context = env.context
    now = env.clock.time()
    stamps = np.array([round((now - 3600 + i * 60) * 1000) for i in range(61)], np.int64)
    total = np.arange(61, dtype=np.float64) * 100
    context.store.append(
        context.tenants.id_of("acme"),
        [
            SeriesSamples(
                labels_from_dict({"__name__": "requests_total", "code": "200"}),
                stamps,
                total * 0.99,
            ),
            SeriesSamples(
                labels_from_dict({"__name__": "requests_total", "code": "500"}),
                stamps,
                total * 0.01,
            ),
        ],
    )
    status = env.client.get("/api/v1/slos/checkout/status", headers=acme.viewer)
    assert status.status_code == 200, status.text
    data = status.json()
    assert data["sli"] == pytest.approx(0.99)
    assert data["error_budget_remaining"] == pytest.approx(1 - 0.01 / 0.005)
    assert data["burn_rates"]["1h"] == pytest.approx(2.0)
    assert data["window"] == "28d"
