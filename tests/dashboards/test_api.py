"""`/dashboards`: built-ins listed and served, tenants' own stored, isolated, validated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from tests.conftest import Env, TenantFixture
from watchkeeper.dashboards import BUILTIN, model


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """SQLite: the database-specific path (tenant scoping) runs on both in test_isolation.py."""
    yield f"sqlite:///{tmp_path / 'meta.db'}"


SHORT = {
    "name": "Checkout",
    "panels": [
        {"type": "graph", "metric": "rate(orders_total[5m])", "title": "Orders/s"},
        {"type": "stat", "metric": "sum(up)", "title": "Up"},
        {"type": "heatmap", "metric": "node_load1"},
    ],
}


def test_builtins_round_trip_through_the_sdk_model_and_use_the_required_panel_kinds() -> None:
    kinds: set[str] = set()
    for build in BUILTIN.values():
        data = model.to_json(build().build())
        again = json.loads(json.dumps(Dashboard.from_json(data), cls=JSONEncoder))
        assert again == data
        kinds |= {p["type"] for p in data["panels"]}
        assert {v["name"] for v in data["templating"]["list"]} >= {"job", "instance"}
        ids = [p["id"] for p in data["panels"]]
        assert len(ids) == len(set(ids))
    assert kinds >= {"timeseries", "stat", "gauge", "table", "heatmap"}


def test_list_and_get_builtins(env: Env, acme: TenantFixture) -> None:
    listed = env.client.get("/dashboards", headers=acme.viewer)
    assert listed.status_code == 200, listed.text
    assert [d["uid"] for d in listed.json()] == list(BUILTIN)
    main = env.client.get("/dashboards/watchkeeper-main", headers=acme.viewer).json()
    assert main["title"] == "Watchkeeper / Main"
    assert all(p["datasource"]["uid"] == "watchkeeper" for p in main["panels"] if "targets" in p)


def test_viewers_cannot_write_and_builtins_are_read_only(env: Env, acme: TenantFixture) -> None:
    assert env.client.post("/dashboards", headers=acme.viewer, json=SHORT).status_code == 403
    body = env.client.get("/dashboards/watchkeeper-ai", headers=acme.admin).json()
    assert (
        env.client.put("/dashboards/watchkeeper-ai", headers=acme.admin, json=body).status_code
        == 409
    )
    assert env.client.delete("/dashboards/watchkeeper-ai", headers=acme.admin).status_code == 409
    assert env.client.post("/dashboards", headers=acme.admin, json=body).status_code == 409


def _post(env: Env, headers: dict[str, str], body: Any) -> Any:
    return env.client.post("/dashboards", headers=headers, json=body)


def test_invalid_dashboards_answer_4xx_naming_the_problem(env: Env, acme: TenantFixture) -> None:
    h = acme.admin
    cases = [
        ({"panels": []}, "title"),
        ({"title": "x", "panels": {"a": 1}}, "panels"),
        ({"title": "x", "panels": [{"title": "no type"}]}, "type"),
        ({"title": "x", "panels": [{"type": "stat", "targets": [{"expr": 5}]}]}, "expr"),
        ({"title": "x", "uid": "bad uid!"}, "uid"),
        ({"title": "x" * 300}, "title"),
        ({"title": "x", "panels": [{"type": "stat"}] * 101}, "limit"),
        ({"name": "x", "panels": [{"type": "pie", "metric": "up"}]}, "pie"),
        ({"name": "x", "panels": [{"type": "graph", "metric": "rate(up[5m]"}]}, "PromQL"),
        ({"name": "x", "panels": [{"type": "graph"}]}, "metric"),
    ]
    for body, word in cases:
        response = _post(env, h, body)
        assert response.status_code == 422, (body, response.text)
        assert word in response.json()["error"]["message"], response.text
    big = {"title": "big", "description": "x" * (model.MAX_BYTES + 1)}
    assert _post(env, h, big).status_code in (413, 422)
    not_json = env.client.post(
        "/dashboards", headers={**h, "Content-Type": "application/json"}, content=b"{nope"
    )
    assert not_json.status_code == 400
    assert env.client.get("/dashboards/nothing-here", headers=h).status_code == 404
