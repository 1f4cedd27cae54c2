"""Every panel query of the three built-in dashboards runs on our engine, through the
Prometheus API Grafana calls, against a server seeded the way production fills it: host
series pushed, the detection loop scoring them, the forecast loop forecasting them, a rule
firing, incidents opened and resolved, and Watchkeeper's own /metrics scraped into the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import Env
from watchkeeper.config import DetectionSettings
from watchkeeper.dashboards import BUILTIN, model, variables
from watchkeeper.dashboards.service import builtin_model
from watchkeeper.detect.forecast_runner import ForecastLoop
from watchkeeper.incidents.metrics import refresh_open_gauge
from watchkeeper.ingest.scrape import ScrapeJob, ScrapeLoop
from watchkeeper.observability.metrics import WORKER_UP
from watchkeeper.wiring import ingest_sink

STEP_S = 60
POINTS = 360  # six hours of one-minute samples
HOST = {"job": "watchkeeper", "instance": "host-1"}
# Panels that read series no feature writes yet: the SLO recording rules (the SLO feature)
# and operators' verdicts on anomalies (the feedback feature). They must run and be empty.
EMPTY_UNTIL_WRITTEN = {
    "Error budget left (worst SLO)",
    "SLOs",
    "Burn rate (1 h and 6 h)",
    "Error budget left over time",
    "Precision (operators' feedback, 30 d)",
    "Verdicts (30 d)",
}


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """SQLite only: these queries read the metric store, not the metadata database."""
    yield f"sqlite:///{tmp_path / 'meta.db'}"


def _series(name: str, values: np.ndarray, **labels: str) -> dict[str, Any]:
    return {"metric": name, "labels": {**HOST, **labels}, "values": values}


def _host_history() -> list[dict[str, Any]]:
    i = np.arange(POINTS, dtype=float)
    rng = np.random.default_rng(7)
    load = 1.0 + 0.2 * np.sin(2 * np.pi * i / 30) + rng.uniform(-0.05, 0.05, POINTS)
    gib = 1024.0**3
    return [
        _series("node_load1", load),
        _series("node_cpu_seconds_total", 0.8 * STEP_S * i, cpu="0", mode="idle"),
        _series("node_cpu_seconds_total", 0.2 * STEP_S * i, cpu="0", mode="user"),
        _series("node_memory_MemTotal_bytes", np.full(POINTS, 8 * gib)),
        _series("node_memory_MemAvailable_bytes", 4 * gib - 1e6 * i + rng.normal(0, 1e5, POINTS)),
        _series(
            "node_filesystem_avail_bytes",
            50 * gib - 2e7 * i,
            device="/dev/sda1",
            fstype="ext4",
            mountpoint="/",
        ),
        _series(
            "node_filesystem_size_bytes",
            np.full(POINTS, 100 * gib),
            device="/dev/sda1",
            fstype="ext4",
            mountpoint="/",
        ),
        _series("node_network_receive_bytes_total", 1e5 * i, device="eth0"),
        _series("node_network_transmit_bytes_total", 5e4 * i, device="eth0"),
        {"metric": "business:orders:rate5m", "labels": {}, "values": 10 + i % 7},
    ]


def _scrape_own_metrics(env: Env) -> None:
    """One scrape of the app's /metrics into tenant default, by the real scrape loop."""
    context = env.context
    job = ScrapeJob(job_name="watchkeeper", targets=("wk:8000",), interval=30.0)

    async def once() -> None:
        transport = httpx.ASGITransport(app=env.client.app)
        async with httpx.AsyncClient(transport=transport) as client:
            loop = ScrapeLoop(
                job,
                "wk:8000",
                ingest_sink(context.ingest, context.tenants, "scrape"),
                env.clock,
                client=client,
            )
            report = await loop.scrape_once()
            assert report.up, report

    env.client.portal.call(once)  # type: ignore[union-attr]


@pytest.fixture
def seeded(env: Env) -> dict[str, str]:
    root = env.login()
    key = env.client.post(
        "/api/v1/apikeys", headers=root, json={"name": "dash", "scopes": ["read", "write"]}
    )
    assert key.status_code == 201, key.text
    headers = {"X-API-Key": key.json()["key"]}
    now = float(int(env.clock.time()))
    t0 = now - STEP_S * (POINTS - 1)
    body = [
        {
            "metric": s["metric"],
            "labels": s["labels"],
            "samples": [[t0 + STEP_S * k, float(v)] for k, v in enumerate(s["values"])],
        }
        for s in _host_history()
    ]
    env.clock.set(now + 1)
    pushed = env.client.post("/api/v1/ingest", headers=headers, json=body)
    assert pushed.status_code == 200, pushed.text

    context = env.context
    assert context.detection is not None
    context.detection.run_pass()  # the detectors learn the normal history
    env.clock.advance(STEP_S)
    spike = [{"metric": "node_load1", "labels": HOST, "samples": [[now + STEP_S, 9.0]]}]
    pushed = env.client.post("/api/v1/ingest", headers=headers, json=spike)
    assert pushed.status_code == 200, pushed.text
    context.detection.run_pass()  # the spike: an anomaly, and the alert rule's trigger
    forecast = ForecastLoop(
        store=context.store,
        engine=context.query,
        sessions=context.sessions,
        clock=env.clock,
        settings=DetectionSettings.model_validate(
            {
                "forecast_selectors": [
                    "node_memory_MemAvailable_bytes",
                    "node_filesystem_avail_bytes",
                    "node_load1",
                ],
                "forecast_history_hours": 6,
                "forecast_model": "seasonal_naive",  # cheap and deterministic: any model writes the same series
            }
        ),
    )
    assert forecast.run_pass().series == 3
    group = {
        "name": "host",
        "interval": "30s",
        "rules": [{"alert": "HighLoad", "expr": "node_load1 > 5", "labels": {"severity": "page"}}],
    }
    created = env.client.post("/api/v1/rules/groups/host", json=group, headers=headers)
    assert created.status_code == 201, created.text
    assert context.rules is not None
    context.rules.run_due()

    for title in ("disk filling on host-1", "load spike on host-1"):
        opened = env.client.post("/incidents", headers=headers, json={"title": title})
        assert opened.status_code == 201, opened.text
    _scrape_own_metrics(env)  # the first scrape: counters' starting points
    env.clock.advance(STEP_S)
    env.client.patch("/incidents/1", headers=headers, json={"status": "acknowledged"})
    resolved = env.client.patch("/incidents/1", headers=headers, json={"status": "resolved"})
    assert resolved.status_code == 200, resolved.text
    refresh_open_gauge(context.sessions)
    # No worker runs in this app (the test evaluates by hand): the supervisor's gauge, as it
    # stands for a running rule worker, feeds the "workers up" panel.
    WORKER_UP.labels("rules").set(1)
    env.client.get("/api/v1/query", headers=headers, params={"query": "up"})
    _scrape_own_metrics(env)
    return headers


def _run(env: Env, headers: dict[str, str], expr: str) -> list[Any]:
    end = env.clock.time()
    query = variables.interpolate(expr, {"horizon": ["1h"]})
    response = env.client.get(
        "/api/v1/query_range",
        headers=headers,
        params={"query": query, "start": end - 3 * 3600, "end": end, "step": STEP_S},
    )
    assert response.status_code == 200, f"{query}: {response.text}"
    body = response.json()
    assert body["status"] == "success", body
    result: list[Any] = body["data"]["result"]
    return result


@pytest.mark.slow
@pytest.mark.parametrize("uid", list(BUILTIN))
def test_every_panel_query_runs_and_returns_the_seeded_data(
    env: Env, seeded: dict[str, str], uid: str
) -> None:
    empty = []
    for title, expr in model.expressions(builtin_model(uid)):
        if not _run(env, seeded, expr):
            empty.append(title)
    expected_empty = {
        t for t, _ in model.expressions(builtin_model(uid)) if t in EMPTY_UNTIL_WRITTEN
    }
    assert set(empty) == expected_empty, empty
