"""A tenant's dashboards are its own: stored, replaced, deleted; invisible to other tenants
(on SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.conftest import Env, TenantFixture
from tests.dashboards.test_api import SHORT


def test_custom_dashboard_is_stored_per_tenant_and_isolated(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    created = env.client.post("/dashboards", headers=acme.admin, json=SHORT)
    assert created.status_code == 201, created.text
    uid = created.json()["uid"]
    stored = env.client.get(f"/dashboards/{uid}", headers=acme.viewer).json()
    assert [p["type"] for p in stored["panels"]] == ["timeseries", "stat", "heatmap"]
    assert stored["panels"][0]["targets"][0]["expr"] == "rate(orders_total[5m])"

    # globex sees only the built-ins and cannot read, replace or delete acme's dashboard
    assert uid not in [d["uid"] for d in env.client.get("/dashboards", headers=globex.admin).json()]
    assert env.client.get(f"/dashboards/{uid}", headers=globex.admin).status_code == 404
    assert env.client.put(f"/dashboards/{uid}", headers=globex.admin, json=SHORT).status_code == 404
    assert env.client.delete(f"/dashboards/{uid}", headers=globex.admin).status_code == 404
    # globex may use the same uid for its own
    assert env.client.post("/dashboards", headers=globex.admin, json=SHORT).status_code == 201

    replaced = env.client.put(
        f"/dashboards/{uid}", headers=acme.admin, json={**stored, "title": "Checkout v2"}
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["version"] == 2
    assert env.client.get(f"/dashboards/{uid}", headers=acme.viewer).json()["title"] == (
        "Checkout v2"
    )
    assert env.client.delete(f"/dashboards/{uid}", headers=acme.admin).status_code == 204
    assert env.client.get(f"/dashboards/{uid}", headers=acme.viewer).status_code == 404
    assert env.client.get(f"/dashboards/{uid}", headers=globex.viewer).status_code == 200
