"""Hand-written dashboard models: what Grafana accepts we store, whatever parts are left out."""

from __future__ import annotations

import pytest

from watchkeeper.dashboards import model

KINDS = ["timeseries", "stat", "gauge", "table", "heatmap", "text", "bargauge"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_panel_without_options_or_field_config_is_stored(kind: str) -> None:
    data = {
        "title": "Hand-written",
        "panels": [{"type": kind, "title": "p", "targets": [{"expr": "up", "refId": "A"}]}],
    }

    stored = model.normalise(data)

    assert [p["type"] for p in stored["panels"]] == [kind]
    assert model.normalise(stored) == stored  # what we serve parses back to itself


def test_a_model_the_sdk_cannot_read_is_invalid_not_an_error() -> None:
    with pytest.raises(model.InvalidDashboard):
        model.normalise({"title": "x", "panels": [{"type": "timeseries", "options": 5}]})
