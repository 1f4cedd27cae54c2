"""The brief's AI API as a library user calls it: train on DataFrames, detect, predict,
correlate."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from typing import Any

import anyio
import numpy as np
import pandas as pd
import pytest

import watchkeeper
from watchkeeper import initialize_ai_monitoring

pytestmark = pytest.mark.anyio

TRAIN = 1500
SPIKE = 20  # index of the spike among the new points


def cpu(n: int, start: str = "2026-01-01") -> pd.DataFrame:
    """One-minute cpu samples: an hourly cycle with noise, then five minutes at 90 %."""
    rng = np.random.default_rng(0)
    i = np.arange(n)
    values = 50 + 5 * np.sin(2 * np.pi * i / 60) + rng.normal(0, 0.5, n)
    values[TRAIN + SPIKE : TRAIN + SPIKE + 5] = 90
    return pd.DataFrame(
        {"timestamp": pd.date_range(start, periods=n, freq="1min", tz="UTC"), "value": values}
    )


async def test_a_spike_after_training_is_an_explained_anomaly() -> None:
    engine, _predictor, _correlator = initialize_ai_monitoring()
    frame = cpu(TRAIN + 40)
    summary = await engine.train_models({"cpu_usage": frame.iloc[:TRAIN]})
    assert summary["cpu_usage"].points == TRAIN

    results = await engine.detect_anomalies("cpu_usage", frame.iloc[TRAIN:])

    assert len(results) == 40
    flagged = [r for r in results if r.is_anomaly]
    assert [r.timestamp for r in flagged] == [frame["timestamp"][TRAIN + SPIKE].to_pydatetime()]
    (spike,) = flagged
    assert spike.value == 90 and spike.score >= spike.threshold
    assert spike.explanation is not None and "cpu_usage at 90 vs expected 50" in spike.explanation
    assert spike.pattern == "spike"
    assert all(r.explanation is None for r in results if not r.is_anomaly)


async def test_points_already_seen_are_not_scored_again() -> None:
    engine, _, _ = initialize_ai_monitoring()
    frame = cpu(TRAIN + 10)
    await engine.train_models({"cpu_usage": frame.iloc[:TRAIN]})
    # An overlapping window: the last 100 trained points and 10 new ones.
    results = await engine.detect_anomalies("cpu_usage", frame.iloc[TRAIN - 100 :])
    assert [r.timestamp for r in results] == [t.to_pydatetime() for t in frame["timestamp"][TRAIN:]]


async def test_frames_with_a_datetime_index_and_one_numeric_column_are_accepted() -> None:
    engine, _, _ = initialize_ai_monitoring("isolation_forest")
    frame = cpu(400).set_index("timestamp").rename(columns={"value": "cpu_percent"})
    frame["host"] = "db-1"  # a label column is not a value column
    summary = await engine.train_models({"cpu_usage": frame})
    assert summary["cpu_usage"].points == 400


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"value": [1.0, 2.0]}), "'timestamp' column or a DatetimeIndex"),
        (
            pd.DataFrame(
                {"timestamp": pd.date_range("2026-01-01", periods=2), "a": [1, 2], "b": [3, 4]}
            ),
            "'value' column or as the only numeric column",
        ),
        ([1.0, 2.0], "expected a pandas DataFrame"),
    ],
)
async def test_frames_without_time_or_value_are_a_clear_error(frame: Any, message: str) -> None:
    engine, _, _ = initialize_ai_monitoring()
    with pytest.raises(ValueError, match="cpu_usage") as raised:
        await engine.train_models({"cpu_usage": frame})
    assert message in str(raised.value)


async def test_detecting_before_training_names_the_metric() -> None:
    engine, _, _ = initialize_ai_monitoring()
    with pytest.raises(ValueError, match=r"no model for 'disk_usage': train_models first"):
        await engine.detect_anomalies("disk_usage", cpu(10))


async def test_prediction_has_intervals_around_the_mean_for_the_horizon() -> None:
    engine, predictor, _ = initialize_ai_monitoring()
    rng = np.random.default_rng(1)
    hours = pd.date_range("2026-01-01", periods=24 * 14, freq="1h", tz="UTC")
    daily = 40 + 10 * np.sin(2 * np.pi * np.arange(len(hours)) / 24)
    frame = pd.DataFrame({"timestamp": hours, "value": daily + rng.normal(0, 1, len(hours))})
    await engine.train_models({"cpu_usage": frame})

    forecast = await predictor.predict_metrics("cpu_usage", horizon_hours=24)

    assert len(forecast.mean) == 24 and forecast.step_seconds == 3600
    assert forecast.timestamps[0] == hours[-1].to_pydatetime() + timedelta(hours=1)
    assert np.all(forecast.lower_95 <= forecast.lower_80)
    assert np.all(forecast.lower_80 <= forecast.mean)
    assert np.all(forecast.mean <= forecast.upper_80)
    assert np.all(forecast.upper_80 <= forecast.upper_95)
    # It follows the daily cycle: the next day's shape, within a few units.
    expected = 40 + 10 * np.sin(2 * np.pi * np.arange(len(hours), len(hours) + 24) / 24)
    assert np.max(np.abs(forecast.mean - expected)) < 3
    assert list(forecast.to_frame().columns) == [
        "mean",
        "lower_80",
        "upper_80",
        "lower_95",
        "upper_95",
    ]


async def test_irregular_history_cannot_be_forecast() -> None:
    _, predictor, _ = initialize_ai_monitoring()
    times = pd.to_datetime(["2026-01-01 00:00", "2026-01-01 00:01", "2026-01-01 00:05"])
    frame = pd.DataFrame({"timestamp": times, "value": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"cpu_usage: cannot forecast: .*regularly spaced"):
        await predictor.predict_metrics("cpu_usage", horizon_hours=1, data=frame)


async def test_anomalies_of_one_service_correlate_into_one_incident() -> None:
    engine, _, correlator = initialize_ai_monitoring()
    frame = cpu(TRAIN + 40)
    latency = frame.assign(value=frame["value"] * 2)
    await engine.train_models({"cpu_usage": frame.iloc[:TRAIN], "latency": latency.iloc[:TRAIN]})
    found = await engine.detect_anomalies("cpu_usage", frame.iloc[TRAIN:])
    found += await engine.detect_anomalies("latency", latency.iloc[TRAIN:])
    labels = {"cpu_usage": {"service": "db"}, "latency": {"service": "db"}}

    (incident,) = correlator.correlate_anomalies(found, labels)

    assert incident.names == ["cpu_usage", "latency"]
    assert incident.reason == "shares service=db"


def test_events_apart_by_more_than_the_window_are_separate_incidents() -> None:
    _, _, correlator = initialize_ai_monitoring(window_minutes=10)
    t0 = pd.Timestamp("2026-01-01", tz="UTC").to_pydatetime()
    events = [
        watchkeeper.Event("HighCpu", t0, {"service": "db"}),
        watchkeeper.Event("HighLatency", t0 + timedelta(minutes=5), {"service": "db"}),
        watchkeeper.Event("HighCpu", t0 + timedelta(minutes=30), {"service": "db"}),
        watchkeeper.Event("DiskFull", t0 + timedelta(minutes=1), {"service": "web"}),
    ]
    incidents = correlator.correlate(events)
    assert [(i.key, i.names) for i in incidents] == [
        ("service=db", ["HighCpu", "HighLatency"]),
        ("service=web", ["DiskFull"]),
        ("service=db", ["HighCpu"]),
    ]


def test_deep_detector_without_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    with pytest.raises(ValueError, match=r"pip install 'watchkeeper\[deep\]'"):
        initialize_ai_monitoring("vae")


async def test_predicting_an_unknown_metric_names_it() -> None:
    _, predictor, _ = initialize_ai_monitoring()
    with pytest.raises(ValueError, match=r"no data for 'disk_usage': train_models first"):
        await predictor.predict_metrics("disk_usage", horizon_hours=1)


async def test_concurrent_detection_scores_each_point_once() -> None:
    engine, _, _ = initialize_ai_monitoring("isolation_forest")
    frame = cpu(TRAIN + 40)
    await engine.train_models({"cpu_usage": frame.iloc[:TRAIN]})
    found: list[int] = []

    async def detect() -> None:
        found.append(len(await engine.detect_anomalies("cpu_usage", frame.iloc[TRAIN:])))

    async with anyio.create_task_group() as tg:
        tg.start_soon(detect)
        tg.start_soon(detect)
    assert sorted(found) == [0, 40]


async def test_with_torch_the_lstm_detector_finds_the_spike() -> None:
    engine, _, _ = initialize_ai_monitoring("lstm")
    n = 440
    rng = np.random.default_rng(0)
    values = 50 + 5 * np.sin(2 * np.pi * np.arange(n) / 60) + rng.normal(0, 0.5, n)
    values[420] = 95
    times = pd.date_range("2026-01-01", periods=n, freq="1min", tz="UTC")
    frame = pd.DataFrame({"timestamp": times, "value": values})
    await engine.train_models({"cpu_usage": frame.iloc[:400]})
    results = await engine.detect_anomalies("cpu_usage", frame.iloc[400:])
    assert [r.timestamp for r in results if r.is_anomaly] == [times[420].to_pydatetime()]


async def test_counters_are_scored_as_rates_as_the_detection_loop_does() -> None:
    engine, _, _ = initialize_ai_monitoring()
    n = TRAIN + 40
    rng = np.random.default_rng(2)
    per_second = 100 + rng.normal(0, 2, n)
    per_second[TRAIN + SPIKE] = 400
    times = pd.date_range("2026-01-01", periods=n, freq="1min", tz="UTC")
    counter = pd.DataFrame({"timestamp": times, "value": np.cumsum(per_second * 60)})
    summary = await engine.train_models({"requests_total": counter.iloc[:TRAIN]})
    assert summary["requests_total"].points == TRAIN - 1  # rates between samples

    results = await engine.detect_anomalies("requests_total", counter.iloc[TRAIN:])

    assert len(results) == 40
    assert results[0].value == pytest.approx(per_second[TRAIN])
    flagged = [r.timestamp for r in results if r.is_anomaly]
    assert flagged == [times[TRAIN + SPIKE].to_pydatetime()]
