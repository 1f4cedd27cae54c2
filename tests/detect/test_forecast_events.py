"""`prediction` events: a forecast pass tells each tenant's /ws/notifications clients what it
fitted, with the figures it wrote as `watchkeeper_forecast` series, and no more than the cap."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from prometheus_client import REGISTRY

from tests.conftest import Env, TenantFixture
from watchkeeper.config import DetectionSettings
from watchkeeper.detect.forecast_runner import ForecastLoop
from watchkeeper.domain.series import SeriesSamples, labels_from_dict
from watchkeeper.events import events_after, publish
from watchkeeper.query import VectorResult

STEP_S = 60
HOURS = 12
BOUNDS = {"mean", "lo80", "hi80", "lo95", "hi95"}


def _tenant_id(env: Env, name: str) -> str:
    return str(env.context.tenants.id_of(name))


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def _push(env: Env, tenant: str, labels: dict[str, str], values: np.ndarray) -> None:
    """`values` at one-minute steps, the last one a second before the clock's now."""
    end = int(env.clock.time()) - 1
    ts = (end - STEP_S * np.arange(len(values))[::-1]) * 1000
    env.context.store.append(
        tenant, [SeriesSamples(labels_from_dict(labels), ts.astype(np.int64), values)]
    )


def _loop(env: Env, **overrides: Any) -> ForecastLoop:
    settings = DetectionSettings.model_validate(
        {
            "selectors": ['{job="node"}'],
            "forecast_horizons": ["1h", "6h"],
            "forecast_history_hours": HOURS,
            "forecast_model": "capacity",
            "forecast_in_child": False,  # in the test process: a child per pass costs seconds
            **overrides,
        }
    )
    context = env.context
    return ForecastLoop(
        store=context.store,
        engine=context.query,
        sessions=context.sessions,
        clock=env.clock,
        settings=settings,
    )


def _mark(env: Env, tenant: str) -> None:
    """An event after the pass, so a client that missed a prediction reads this instead of
    waiting for ever."""
    with env.context.sessions.tenant(tenant) as db:
        publish(db, tenant, "notification", {"mark": True}, now=env.clock.now())


def _replay(ws: Any) -> list[dict[str, Any]]:
    """The events replayed before `ready`."""
    events = []
    while (message := ws.receive_json())["type"] != "ready":
        events.append(message)
    return events


def _disk(n: int) -> np.ndarray:
    """A disk filling at 2 %/hour from 40 %: 1 h ahead is +2, 6 h ahead +12."""
    return 40 + 2 * np.arange(n) / 60 + np.random.default_rng(3).normal(0, 0.05, n)


def test_a_forecast_pass_sends_prediction_events_to_its_tenant_only(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    acme_id, globex_id = _tenant_id(env, "acme"), _tenant_id(env, "globex")
    n = HOURS * 60
    disk = _disk(n)
    _push(env, acme_id, {"__name__": "disk_used_percent", "job": "node", "mount": "/"}, disk)
    _push(env, globex_id, {"__name__": "load1", "job": "node", "host": "g1"}, np.full(n, 1.5))
    url = "/ws/notifications"
    with (
        env.client.websocket_connect(url, subprotocols=["bearer", _token(acme.viewer)]) as ours,
        env.client.websocket_connect(url, subprotocols=["bearer", _token(globex.viewer)]) as theirs,
    ):
        assert ours.receive_json()["type"] == "ready"
        assert theirs.receive_json()["type"] == "ready"
        stats = _loop(env).run_pass()
        _mark(env, acme_id)
        _mark(env, globex_id)
        event, other = ours.receive_json(), theirs.receive_json()
        assert event["type"] == other["type"] == "prediction", (event, other)
        assert ours.receive_json()["data"] == theirs.receive_json()["data"] == {"mark": True}

    assert (stats.series, stats.events, stats.events_dropped) == (2, 2, 0), stats
    data = event["data"]
    assert (data["metric"], data["labels"], data["model"]) == (
        "disk_used_percent",
        {"job": "node", "mount": "/"},
        "capacity",
    )
    assert data["fitted_at"] == env.clock.now().isoformat()
    assert [h["horizon"] for h in data["horizons"]] == ["1h", "6h"]
    now_ms = round(env.clock.time() * 1000)
    for horizon, ahead in zip(data["horizons"], (2.0, 12.0), strict=True):
        assert BOUNDS <= set(horizon)
        assert horizon["mean"] == pytest.approx(disk[-1] + ahead, abs=0.5)
        assert horizon["lo95"] <= horizon["lo80"] <= horizon["mean"] <= horizon["hi80"]
        assert horizon["hi80"] <= horizon["hi95"]
        # The same figures the pass wrote as series, so a UI and an alert rule agree.
        written = env.context.query.instant_query(
            acme_id,
            f'watchkeeper_forecast{{metric="disk_used_percent", horizon="{horizon["horizon"]}"}}',
            now_ms,
        )
        assert isinstance(written, VectorResult)
        by_bound = {dict(s.labels)["bound"]: s.value for s in written.samples}
        assert by_bound == pytest.approx({b: horizon[b] for b in BOUNDS})
    # Globex's client heard only its own series, live and on resume.
    assert other["data"]["metric"] == "load1"
    with env.client.websocket_connect(
        "/ws/notifications?last_event_id=0&types=prediction",
        subprotocols=["bearer", _token(globex.viewer)],
    ) as ws:
        assert [e["data"]["metric"] for e in _replay(ws)] == ["load1"]


def test_events_are_capped_per_tenant_and_pass_and_the_rest_counted(
    env: Env, acme: TenantFixture
) -> None:
    acme_id = _tenant_id(env, "acme")
    n = HOURS * 60
    for host in ("a", "b", "c"):
        _push(env, acme_id, {"__name__": "load1", "job": "node", "host": host}, np.full(n, 1.5))
    dropped_before = REGISTRY.get_sample_value("watchkeeper_forecast_events_dropped_total") or 0.0

    stats = _loop(env, forecast_max_events=2).run_pass()

    assert (stats.series, stats.events, stats.events_dropped) == (3, 2, 1), stats
    dropped = REGISTRY.get_sample_value("watchkeeper_forecast_events_dropped_total")
    assert dropped == dropped_before + 1
    with env.context.sessions.tenant(acme_id) as db:
        assert len(events_after(db, 0, types=["prediction"])) == 2
    # Through the endpoint too: a client resuming from the start is replayed exactly two.
    with env.client.websocket_connect(
        "/ws/notifications?last_event_id=0&types=prediction",
        subprotocols=["bearer", _token(acme.viewer)],
    ) as ws:
        assert [e["data"]["labels"]["host"] for e in _replay(ws)] == ["a", "b"]
