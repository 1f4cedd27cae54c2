"""Forecasts of stored series for `GET /ai/predictions`: resample through PromQL onto a
regular grid, fit a forecaster per series, and say when a threshold will be crossed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from watchkeeper.detect.forecast import FORECASTERS, ForecastError, SeriesHistory, seasons_for_step
from watchkeeper.detect.forecast.threshold import time_until_threshold
from watchkeeper.query import Engine

# Steps that divide an hour, so daily and weekly seasons are whole numbers of steps.
_STEPS = (60, 300, 900, 1800, 3600)
MAX_POINTS = 2000


def choose_step(history_seconds: float) -> int:
    for step in _STEPS:
        if history_seconds / step <= MAX_POINTS:
            return step
    return _STEPS[-1]


@dataclass(frozen=True)
class PredictionRequest:
    expr: str
    now: float
    horizon_hours: float
    history_hours: float
    model: str
    threshold: float | None
    limit: int


def predict(engine: Engine, tenant_id: str, request: PredictionRequest) -> dict[str, Any]:
    """Raises QueryError for bad PromQL, ForecastError when a series cannot be forecast,
    KeyError for an unknown model."""
    factory = FORECASTERS[request.model]
    history_s = request.history_hours * 3600
    step = choose_step(history_s)
    end_ms = int(request.now // step * step * 1000)
    start_ms = end_ms - int(history_s * 1000)
    result = engine.range_query(tenant_id, request.expr, start_ms, end_ms, step * 1000)
    grid = np.arange(start_ms, end_ms + 1, step * 1000, dtype=np.int64)
    horizon = max(1, min(MAX_POINTS, int(request.horizon_hours * 3600 // step)))
    predictions = []
    for series in result.series[: request.limit]:
        values = np.full(len(grid), np.nan)
        values[np.searchsorted(grid, series.timestamps)] = series.values
        if np.count_nonzero(np.isfinite(values)) < 3:
            raise ForecastError(
                f"{dict(series.labels)}: fewer than 3 samples in the last {request.history_hours:g} h"
            )
        history = SeriesHistory.from_values(values, start=start_ms / 1000, step=step)
        forecast = factory(season_lengths=seasons_for_step(step)).fit(history).predict(horizon)
        entry: dict[str, Any] = {
            "labels": dict(series.labels),
            "points": [
                {
                    "t": float(t),
                    "mean": float(m),
                    "lo80": float(a),
                    "hi80": float(b),
                    "lo95": float(c),
                    "hi95": float(d),
                }
                for t, m, a, b, c, d in zip(
                    forecast.timestamps,
                    forecast.mean,
                    forecast.lo80,
                    forecast.hi80,
                    forecast.lo95,
                    forecast.hi95,
                    strict=True,
                )
            ],
        }
        if request.threshold is not None:
            # Crossing times come from the capacity forecaster (trend-following, see
            # detect/forecast/threshold.py), whichever model drew the curve above.
            crossing = time_until_threshold(history, request.threshold, horizon)
            entry["threshold"] = {
                "value": request.threshold,
                "crossing": crossing.crossing,
                "expected_at": crossing.expected,
                "earliest80": crossing.earliest80,
                "latest80": crossing.latest80,
                "seconds_until": crossing.seconds_until(request.now),
                "sentence": crossing.sentence(request.now),
            }
        predictions.append(entry)
    return {
        "metric": request.expr,
        "model": request.model,
        "step_seconds": step,
        "horizon_steps": horizon,
        "series": len(result.series),
        "predictions": predictions,
    }
