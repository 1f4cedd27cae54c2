"""The brief's `DashboardManager`, called as a library user would, on the server's database:
what it stores is what `GET /dashboards` serves."""

from __future__ import annotations

import pytest

from tests.conftest import Env
from watchkeeper.config import load_settings


def test_create_dashboard_is_stored_in_the_metadata_database(env: Env) -> None:
    from watchkeeper import DashboardManager

    settings = load_settings(env.config_file)
    with DashboardManager(settings, clock=env.clock) as manager:
        saved = manager.create_dashboard(
            name="Checkout",
            panels=[
                {"type": "graph", "metric": "rate(orders_total[5m])", "title": "Orders/s"},
                {"type": "stat", "metric": "sum(up)", "title": "Up"},
                {"type": "heatmap", "metric": "node_load1", "title": "Load"},
            ],
            tenant_id="default",
        )
        assert saved.uid == "checkout"
        with pytest.raises(ValueError, match="pie"):
            manager.create_dashboard(
                name="Bad", panels=[{"type": "pie", "metric": "up"}], tenant_id="default"
            )
    served = env.client.get("/dashboards/checkout", headers=env.login())
    assert served.status_code == 200, served.text
    assert [p["title"] for p in served.json()["panels"]] == ["Orders/s", "Up", "Load"]
