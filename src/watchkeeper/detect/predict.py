"""Forecasts of stored series for `GET /ai/predictions`: resample through PromQL onto a
regular grid, fit a forecaster per series, and say when a threshold will be crossed."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from watchkeeper.detect.forecast import (
    FORECASTERS,
    Forecast,
    Forecaster,
    ForecastError,
    SeriesHistory,
    seasons_for_step,
)
from watchkeeper.detect.forecast.batch import fit_outcomes_in_child
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


@dataclass(frozen=True)
class SeriesForecast:
    """One series' history on the grid and its forecast from the end of that history."""

    labels: dict[str, str]
    history: SeriesHistory
    forecast: Forecast


@dataclass(frozen=True)
class ForecastBatch:
    step: int
    horizon: int
    series: int
    """How many series the expression returned (forecasts may be fewer: `limit`, skips)."""
    forecasts: list[SeriesForecast]
    skipped: list[str]
    """Why series were left out, one line each (only when `skip_unforecastable`)."""


def forecast_expression(
    engine: Engine,
    tenant_id: str,
    expr: str,
    *,
    now: float,
    history_hours: float,
    horizon_seconds: float,
    model: str,
    limit: int,
    skip_unforecastable: bool = False,
    keep: Callable[[dict[str, str]], bool] | None = None,
    isolate: bool = False,
) -> ForecastBatch:
    """Resample `expr` over the last `history_hours` onto a regular grid and forecast each
    series `horizon_seconds` ahead.

    Raises QueryError for bad PromQL, KeyError for an unknown model, and ForecastError for a
    series that cannot be forecast unless `skip_unforecastable` (the live loop skips them, an
    API caller wants to know). `keep` filters series by labels before the limit applies.
    `isolate` fits in a one-shot child process (the live loop: see `fit_outcomes_in_child`).
    """
    factory = FORECASTERS[model]
    history_s = history_hours * 3600
    step = choose_step(history_s)
    end_ms = int(now // step * step * 1000)
    start_ms = end_ms - int(history_s * 1000)
    result = engine.range_query(tenant_id, expr, start_ms, end_ms, step * 1000)
    grid = np.arange(start_ms, end_ms + 1, step * 1000, dtype=np.int64)
    horizon = max(1, min(MAX_POINTS, math.ceil(horizon_seconds / step)))
    selected = [s for s in result.series if keep is None or keep(dict(s.labels))]
    # Per series, in order: its history, or why it cannot be forecast.
    prepared: list[tuple[dict[str, str], SeriesHistory | str]] = []
    for series in selected[:limit]:
        values = np.full(len(grid), np.nan)
        values[np.searchsorted(grid, series.timestamps)] = series.values
        if np.count_nonzero(np.isfinite(values)) < 3:
            history: SeriesHistory | str = f"fewer than 3 samples in the last {history_hours:g} h"
        else:
            history = SeriesHistory.from_values(values, start=start_ms / 1000, step=step)
        prepared.append((dict(series.labels), history))
    histories = [h for _, h in prepared if isinstance(h, SeriesHistory)]
    seasons = seasons_for_step(step)
    if isolate:
        fitted = iter(fit_outcomes_in_child(model, histories, seasons, horizon))
    else:
        fitted = iter(_fit_here(factory, histories, seasons, horizon))
    forecasts: list[SeriesForecast] = []
    skipped: list[str] = []
    for labels, history in prepared:
        outcome = next(fitted) if isinstance(history, SeriesHistory) else history
        if isinstance(outcome, str):
            if not skip_unforecastable:
                raise ForecastError(f"{labels}: {outcome}")
            skipped.append(f"{labels}: {outcome}")
            continue
        assert isinstance(history, SeriesHistory)
        forecasts.append(SeriesForecast(labels, history, outcome))
    return ForecastBatch(step, horizon, len(result.series), forecasts, skipped)


def _fit_here(
    factory: Callable[..., Forecaster],
    histories: list[SeriesHistory],
    seasons: tuple[int, ...],
    horizon: int,
) -> Iterator[Forecast | str]:
    """Fit in this process, lazily: an API caller's first unforecastable series stops it."""
    for history in histories:
        try:
            yield factory(season_lengths=seasons).fit(history).predict(horizon)
        except ForecastError as exc:
            yield str(exc)


def predict(engine: Engine, tenant_id: str, request: PredictionRequest) -> dict[str, Any]:
    """Raises QueryError for bad PromQL, ForecastError when a series cannot be forecast,
    KeyError for an unknown model."""
    batch = forecast_expression(
        engine,
        tenant_id,
        request.expr,
        now=request.now,
        history_hours=request.history_hours,
        horizon_seconds=request.horizon_hours * 3600,
        model=request.model,
        limit=request.limit,
    )
    predictions = []
    for item in batch.forecasts:
        forecast = item.forecast
        entry: dict[str, Any] = {
            "labels": item.labels,
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
            crossing = time_until_threshold(item.history, request.threshold, batch.horizon)
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
        "step_seconds": batch.step,
        "horizon_steps": batch.horizon,
        "series": batch.series,
        "predictions": predictions,
    }
