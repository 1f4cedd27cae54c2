"""`/ai/...`: synthetic metrics pushed through the ingest API, scored by the detection loop,
read back as explained anomalies; training jobs, models, tenant isolation and RBAC."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.conftest import Env, TenantFixture
from watchkeeper.detect.runner import DetectionLoop
from watchkeeper.wiring import build_workers

STEP_S = 60
LABELS = {"host": "db-1", "job": "watchkeeper"}


def loop_of(env: Env) -> DetectionLoop:
    loop = env.context.detection
    assert loop is not None
    return loop


def cycle(first: int, count: int) -> np.ndarray:
    """A 15-minute cycle (50 ± 5) with bounded noise: what the default detector finds normal."""
    rng = np.random.default_rng(1)
    i = np.arange(first + count)
    return np.asarray(50 + 5 * np.sin(2 * np.pi * i / 15) + rng.uniform(-0.5, 0.5, len(i)))[first:]


def push(env: Env, headers: dict[str, str], t0: float, values: np.ndarray) -> None:
    """Push `values` one minute apart from `t0`, as they arrive: the clock moves to the last."""
    samples = [[t0 + STEP_S * k, float(v)] for k, v in enumerate(values)]
    env.clock.set(max(env.clock.time(), samples[-1][0] + 1))
    body = [{"metric": "cpu_usage", "labels": LABELS, "samples": samples}]
    response = env.client.post("/api/v1/ingest", headers=headers, json=body)
    assert response.status_code == 200, response.text


def anomalies(env: Env, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = env.client.get("/ai/anomalies", headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# Tests that move the clock past 15 minutes read with API keys: access tokens would expire.


@pytest.fixture
def history(env: Env, acme: TenantFixture) -> float:
    """Ten normal hours of acme's cpu_usage, ending now; returns when they started."""
    t0 = float(int(env.clock.time()) - 600 * STEP_S)
    push(env, acme.key, t0, cycle(0, 600))
    loop_of(env).run_pass()
    return t0


@pytest.mark.slow
def test_end_to_end_injected_anomalies_are_found_and_explained(
    env: Env, acme: TenantFixture, history: float
) -> None:
    assert anomalies(env, acme.key)["items"] == []  # ten normal hours: nothing raised
    live = cycle(600, 240)
    live[60] = 92.0  # a spike one hour in
    live[180:] += 20.0  # a level shift three hours in
    for hour in range(4):  # the loop runs hour by hour as the clock moves
        push(env, acme.key, history + STEP_S * (600 + 60 * hour), live[60 * hour : 60 * hour + 60])
        loop_of(env).run_pass()
    items = anomalies(env, acme.key)["items"]
    assert [a["at"] for a in items] == [
        _iso(history + STEP_S * 780),  # the first point of the level shift
        _iso(history + STEP_S * 660),
    ]
    shift, spike = items
    assert shift["explanation"]["observed"] > shift["explanation"]["expected"] + 10
    assert spike["pattern"] == "spike"
    assert spike["labels"] == {"__name__": "cpu_usage", **LABELS}
    assert spike["explanation"]["observed"] == pytest.approx(92.0)
    assert 44 < spike["explanation"]["expected"] < 56
    assert spike["sentence"].startswith('cpu_usage{host="db-1",job="watchkeeper"} at 92')
    assert "1 of 1 detectors agree" in spike["sentence"]


@pytest.mark.slow
def test_anomaly_filters_and_pagination(env: Env, acme: TenantFixture, history: float) -> None:
    live = cycle(600, 300)
    live[[40, 150, 260]] = 95.0  # three spikes, 110 points apart (beyond the damping)
    push(env, acme.key, history + STEP_S * 600, live)
    loop_of(env).run_pass()
    assert len(anomalies(env, acme.key)["items"]) == 3
    first = anomalies(env, acme.key, limit=2)
    second = anomalies(env, acme.key, limit=2, cursor=first["next_cursor"])
    assert len(first["items"]) == 2 and first["next_cursor"] is not None
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    newest_first = [a["at"] for a in first["items"] + second["items"]]
    assert newest_first == sorted(newest_first, reverse=True)
    after = history + STEP_S * 700  # after the first spike (point 640)
    assert len(anomalies(env, acme.key, start=str(after))["items"]) == 2
    assert anomalies(env, acme.key, selector='cpu_usage{host="db-2"}')["items"] == []
    assert len(anomalies(env, acme.key, selector='{host=~"db-.*"}')["items"]) == 3
    assert anomalies(env, acme.key, pattern="flat_line")["items"] == []


BAD_ANOMALY_QUERIES = [
    ({"selector": "cpu{"}, 400),
    ({"selector": "rate(cpu[5m])"}, 400),
    ({"selector": '{host=""}'}, 400),
    ({"start": "yesterday"}, 400),
    ({"min_score": "2"}, 422),
    ({"pattern": "wobble"}, 422),
    ({"cursor": "not-a-cursor"}, 422),
]


def test_bad_anomaly_queries_are_client_errors(env: Env, acme: TenantFixture) -> None:
    for params, status in BAD_ANOMALY_QUERIES:
        response = env.client.get("/ai/anomalies", headers=acme.viewer, params=params)
        assert response.status_code == status, (params, response.text)
        assert response.json()["error"]["message"]


@pytest.mark.slow
def test_training_job_trains_models_that_the_loop_then_uses(
    env: Env, acme: TenantFixture, history: float
) -> None:
    loop_of(env).checkpoint()  # the loop's own model of the series: revision 1
    response = env.client.post(
        "/ai/train", headers=acme.key, json={"selector": 'cpu_usage{host="db-1"}'}
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    job = env.client.get(f"/ai/train/{job_id}", headers=acme.key).json()
    assert (job["status"], job["series_total"], job["series_trained"], job["points"]) == (
        "succeeded",
        1,
        1,
        600,
    )
    (model,) = env.client.get("/ai/models", headers=acme.key).json()
    assert model["series"] == 'cpu_usage{host="db-1",job="watchkeeper"}'
    assert (model["detector"], model["points"], model["revision"]) == ("default", 600, 2)
    assert model["quality"]["alerts_per_1000_points"] == 0.0
    assert model["data_end"] == _iso(history + STEP_S * 599)
    push(env, acme.key, history + STEP_S * 600, cycle(600, 60))
    loop_of(env).run_pass()  # reloads the trained model (revision 2) and scores on
    loop_of(env).checkpoint()
    (model,) = env.client.get("/ai/models", headers=acme.key).json()
    assert (model["points"], model["revision"], model["data_end"]) == (
        660,
        2,
        _iso(history + STEP_S * 659),
    )


def test_training_rejects_bad_input(env: Env, acme: TenantFixture) -> None:
    bad_selector = env.client.post("/ai/train", headers=acme.admin, json={"selector": "cpu{"})
    assert bad_selector.status_code == 400
    assert "invalid selector" in bad_selector.json()["error"]["message"]
    bad_detector = env.client.post(
        "/ai/train", headers=acme.admin, json={"selector": "cpu", "detector": "magic"}
    )
    assert bad_detector.status_code == 422
    assert env.client.get("/ai/train/nope", headers=acme.viewer).status_code == 404


def test_viewer_reads_but_cannot_train(env: Env, acme: TenantFixture) -> None:
    assert env.client.get("/ai/anomalies", headers=acme.viewer).status_code == 200
    assert env.client.get("/ai/models", headers=acme.viewer).status_code == 200
    denied = env.client.post("/ai/train", headers=acme.viewer, json={"selector": "cpu"})
    assert denied.status_code == 403
    assert denied.json()["error"]["details"] == {"permission": "anomalies:train"}
    assert env.client.get("/ai/anomalies").status_code == 401


@pytest.mark.slow
def test_tenants_see_only_their_own_anomalies_jobs_and_models(
    env: Env, acme: TenantFixture, globex: TenantFixture, history: float
) -> None:
    live = cycle(600, 60)
    live[30] = 95.0
    push(env, acme.key, history + STEP_S * 600, live)
    loop_of(env).run_pass()
    job = env.client.post("/ai/train", headers=acme.key, json={"selector": "cpu_usage"}).json()
    assert len(anomalies(env, acme.key)["items"]) == 1
    assert anomalies(env, globex.key)["items"] == []
    assert env.client.get("/ai/models", headers=globex.key).json() == []
    assert env.client.get(f"/ai/train/{job['id']}", headers=globex.key).status_code == 404
    assert env.client.get(f"/ai/train/{job['id']}", headers=acme.key).status_code == 200


def test_detection_loop_is_a_worker_only_when_enabled(env: Env) -> None:
    context = env.context
    running = context.detection
    assert "detection" in {w.name for w in build_workers(context)}
    context.settings = context.settings.model_copy(update={"enable_anomaly_detection": False})
    assert "detection" not in {w.name for w in build_workers(context)}
    assert context.detection is running  # building the workers leaves the context as it is


def _iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


@pytest.mark.slow
def test_predictions_forecast_a_trend_and_the_threshold_crossing(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    now = env.clock.time()
    samples = [[now - 48 * 3600 + i * 300, 10.0 + i * 0.1] for i in range(48 * 12)]  # +1.2 per hour
    body = [{"metric": "disk_used_percent", "labels": {"host": "db-1"}, "samples": samples}]
    assert env.client.post("/api/v1/ingest", headers=acme.key, json=body).status_code == 200
    response = env.client.get(
        "/ai/predictions",
        headers=acme.key,
        params={
            "metric": 'disk_used_percent{host="db-1"}',
            "horizon_hours": 12,
            "history_hours": 48,
            "threshold": 75,
        },
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    [series] = answer["predictions"]
    assert series["labels"]["host"] == "db-1" and len(series["points"]) == answer["horizon_steps"]
    for point in series["points"]:
        assert point["lo95"] <= point["lo80"] <= point["mean"] <= point["hi80"] <= point["hi95"]
    assert all(40 < point["mean"] < 100 for point in series["points"])  # 67.5 now, +1.2/h
    crossing = series["threshold"]
    assert crossing["crossing"] and 0 < crossing["seconds_until"] < 12 * 3600
    assert "threshold reached in" in crossing["sentence"]
    other = env.client.get(
        "/ai/predictions", headers=globex.key, params={"metric": "disk_used_percent"}
    )
    assert other.status_code == 200 and other.json()["predictions"] == []


def test_predictions_reject_bad_input(env: Env, acme: TenantFixture) -> None:
    assert (
        env.client.get("/ai/predictions", headers=acme.key, params={"metric": "sum(("}).status_code
        == 400
    )
    unknown = env.client.get(
        "/ai/predictions", headers=acme.key, params={"metric": "up", "model": "crystal_ball"}
    )
    assert unknown.status_code == 422 and "crystal_ball" in unknown.json()["error"]["message"]
    assert (
        env.client.get(
            "/ai/predictions", headers=acme.key, params={"metric": "up", "horizon_hours": -1}
        ).status_code
        == 422
    )
