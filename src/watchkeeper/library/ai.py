"""The AI API for Python programs, over the same detectors, forecasters and correlation rules
the server runs::

    anomaly_engine, predictor, correlator = initialize_ai_monitoring()
    await anomaly_engine.train_models({"cpu_usage": df, "memory_usage": df2})
    results = await anomaly_engine.detect_anomalies("cpu_usage", current_data)
    forecast = await predictor.predict_metrics("cpu_usage", horizon_hours=24)
    incidents = correlator.correlate_anomalies(results)

Frames: see `watchkeeper.library.frames`. Training and detection run in a worker thread so an
event loop stays responsive. The three objects share one in-memory history per metric: what
was trained on and then scored is what the predictor forecasts from.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import numpy as np

from watchkeeper.detect.base import Detector, FloatArray
from watchkeeper.domain.times import utc
from watchkeeper.library.correlate import IncidentCorrelator
from watchkeeper.library.frames import series_from_frame

if TYPE_CHECKING:
    from watchkeeper.detect.series_input import DetectorInput

_T = TypeVar("_T")


def check_detector(name: str) -> None:
    """ValueError unless `name` is a registered detector usable in this install."""
    from watchkeeper.detect import DETECTORS
    from watchkeeper.extras import deep_detector_problem

    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; known: {', '.join(DETECTORS)}")
    problem = deep_detector_problem(name)
    if problem:
        raise ValueError(problem)


def detector_points(
    metric: str, t: FloatArray, x: FloatArray, base: tuple[float, float] | None = None
) -> DetectorInput:
    """The points as the detection loop gives them to a detector: a counter (a name ending in
    _total, _count, _sum or _bucket) as per-second rates. `base` is the sample before `t`, the
    start of the first rate."""
    from watchkeeper.detect.series_input import detector_input
    from watchkeeper.domain.series import METRIC_NAME_LABEL, SeriesSamples

    after_ms = None
    if base is not None:
        t, x = np.concatenate([[base[0]], t]), np.concatenate([[base[1]], x])
        after_ms = round(base[0] * 1000)
    ms = np.round(t * 1000).astype(np.int64)
    return detector_input(SeriesSamples(((METRIC_NAME_LABEL, metric),), ms, x), after_ms)


@dataclass
class MetricHistory:
    """Each metric's points so far (seconds, values), trimmed to `keep_seconds`."""

    keep_seconds: float = 14 * 86_400.0
    series: dict[str, tuple[FloatArray, FloatArray]] = field(default_factory=dict)

    def replace(self, metric: str, t: FloatArray, x: FloatArray) -> None:
        self.series[metric] = (t, x)

    def extend(self, metric: str, t: FloatArray, x: FloatArray) -> None:
        old_t, old_x = self.series.get(metric, (np.zeros(0), np.zeros(0)))
        all_t, all_x = np.concatenate([old_t, t]), np.concatenate([old_x, x])
        keep = all_t > all_t[-1] - self.keep_seconds if len(all_t) else all_t > 0
        self.series[metric] = (all_t[keep], all_x[keep])

    def get(self, metric: str) -> tuple[FloatArray, FloatArray]:
        if metric not in self.series:
            known = ", ".join(sorted(self.series)) or "none yet"
            raise ValueError(f"no data for {metric!r}: train_models first (known: {known})")
        return self.series[metric]


@dataclass(frozen=True)
class TrainingSummary:
    """What one metric's model learned from: points, span, and events on its own history."""

    metric: str
    detector: str
    points: int
    events: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class AnomalyResult:
    """One scored point. `score` is in [0, 1]; `is_anomaly` is `score >= threshold`.

    Anomalous points carry an explanation (expected value, deviation, pattern) in operator
    words, computed from the metric's own history as the server's anomaly events are.
    """

    metric: str
    timestamp: datetime
    value: float
    score: float
    is_anomaly: bool
    threshold: float
    detector: str
    explanation: str | None = None
    pattern: str | None = None
    expected: float | None = None


@dataclass(frozen=True)
class MetricForecast:
    """Point forecast and 80 % / 95 % prediction intervals at each future timestamp."""

    metric: str
    model: str
    step_seconds: float
    timestamps: list[datetime]
    mean: FloatArray
    lower_80: FloatArray
    upper_80: FloatArray
    lower_95: FloatArray
    upper_95: FloatArray

    def to_frame(self) -> Any:
        """A pandas DataFrame indexed by timestamp, one column per bound."""
        import pandas as pd

        return pd.DataFrame(
            {
                "mean": self.mean,
                "lower_80": self.lower_80,
                "upper_80": self.upper_80,
                "lower_95": self.lower_95,
                "upper_95": self.upper_95,
            },
            index=pd.DatetimeIndex(self.timestamps, name="timestamp"),
        )


class AnomalyEngine:
    """One detector per metric (`detector` names an entry of `watchkeeper.detect.DETECTORS`)."""

    def __init__(
        self,
        detector: str = "default",
        *,
        history: MetricHistory | None = None,
        explain_hours: float = 72.0,
    ) -> None:
        check_detector(detector)
        self.detector = detector
        self.history = history or MetricHistory()
        self.explain_seconds = explain_hours * 3600.0
        self._models: dict[str, Detector] = {}
        # Training and scoring run in worker threads; a detector learns as it scores, so two
        # concurrent calls must not interleave on it.
        self._lock = threading.Lock()
        self._last_raw: dict[str, tuple[float, float]] = {}
        """Each metric's newest sample as given (a counter's next rate starts from it)."""

    @property
    def metrics(self) -> list[str]:
        return sorted(self._models)

    async def train_models(self, data: Mapping[str, Any]) -> dict[str, TrainingSummary]:
        """Fit a fresh model per metric on its frame (all frames are checked before any fit)."""
        series = {metric: series_from_frame(metric, frame) for metric, frame in data.items()}
        for metric, (t, _x) in series.items():
            if not len(t):
                raise ValueError(f"{metric}: the frame has no rows with a finite value")
        return await anyio.to_thread.run_sync(self._locked, self._train_all, series)

    def _train_all(
        self, series: Mapping[str, tuple[FloatArray, FloatArray]]
    ) -> dict[str, TrainingSummary]:
        from watchkeeper.detect.training import fit_on_history

        inputs = {metric: detector_points(metric, t, x) for metric, (t, x) in series.items()}
        for metric, points in inputs.items():
            if not len(points):
                raise ValueError(f"{metric}: a counter needs at least two samples to give a rate")
        summaries = {}
        for metric, points in inputs.items():
            detector, events = fit_on_history(self.detector, points)
            self._models[metric] = detector
            t, x = series[metric]
            self._last_raw[metric] = (float(t[-1]), float(x[-1]))
            self.history.replace(metric, points.seconds, points.values)
            summaries[metric] = TrainingSummary(
                metric,
                self.detector,
                len(points),
                events,
                utc(points.seconds[0]),
                utc(points.seconds[-1]),
            )
        return summaries

    async def detect_anomalies(self, metric: str, current_data: Any) -> list[AnomalyResult]:
        """Score the frame's points newer than any this metric's model has seen, then learn them.

        Points at or before the newest seen one are skipped (as the detection loop resumes
        after the newest trained point), so overlapping windows can be passed safely.
        """
        if metric not in self._models:
            known = ", ".join(self.metrics) or "none yet"
            raise ValueError(f"no model for {metric!r}: train_models first (trained: {known})")
        t, x = series_from_frame(metric, current_data)
        return await anyio.to_thread.run_sync(self._locked, self._detect, metric, t, x)

    def _locked(self, work: Callable[..., _T], *args: Any) -> _T:
        with self._lock:
            return work(*args)

    def _detect(self, metric: str, t: FloatArray, x: FloatArray) -> list[AnomalyResult]:
        from watchkeeper.detect.explain import explain

        detector = self._models[metric]
        base = self._last_raw[metric]
        newer = t > base[0]
        if not newer.any():
            return []
        t, x = t[newer], x[newer]
        self._last_raw[metric] = (float(t[-1]), float(x[-1]))
        points = detector_points(metric, t, x, base)
        t, x = points.seconds, points.values
        scores = detector.update_many(t, x)
        self.history.extend(metric, t, x)
        hist_t, hist_x = self.history.get(metric)
        offset = len(hist_t) - len(t)
        results = []
        for i, score in enumerate(scores):
            anomalous = bool(score >= detector.threshold)
            sentence = pattern = expected = None
            if anomalous:
                end = offset + i + 1
                start = int(np.searchsorted(hist_t, t[i] - self.explain_seconds))
                why = explain(
                    metric, hist_t[start:end], hist_x[start:end], float(score), [detector.name], 1
                )
                sentence, pattern, expected = why.sentence(), why.pattern.value, why.expected
            results.append(
                AnomalyResult(
                    metric,
                    utc(t[i]),
                    float(x[i]),
                    float(score),
                    anomalous,
                    detector.threshold,
                    detector.name,
                    sentence,
                    pattern,
                    expected,
                )
            )
        return results


class MetricPredictor:
    """Forecasts a metric from its history with a forecaster of `watchkeeper.detect.forecast`."""

    def __init__(self, history: MetricHistory | None = None, model: str = "default") -> None:
        from watchkeeper.detect.forecast import FORECASTERS

        if model not in FORECASTERS:
            raise ValueError(f"unknown model {model!r}; known: {', '.join(FORECASTERS)}")
        self.history = history or MetricHistory()
        self.model = model

    async def predict_metrics(
        self, metric: str, horizon_hours: float = 24.0, *, data: Any | None = None
    ) -> MetricForecast:
        """Forecast `horizon_hours` ahead from the metric's history (or from `data`, a frame).

        The history must be regularly sampled; ValueError (ForecastError) says so otherwise.
        """
        if not horizon_hours > 0:
            raise ValueError(f"horizon_hours must be positive, not {horizon_hours}")
        t, x = series_from_frame(metric, data) if data is not None else self.history.get(metric)
        return await anyio.to_thread.run_sync(self._predict, metric, t, x, horizon_hours)

    def _predict(
        self, metric: str, t: FloatArray, x: FloatArray, horizon_hours: float
    ) -> MetricForecast:
        from watchkeeper.detect.forecast import (
            FORECASTERS,
            ForecastError,
            SeriesHistory,
            seasons_for_step,
        )

        try:
            history = SeriesHistory.from_timestamps(t, x)
            horizon = max(1, math.ceil(horizon_hours * 3600.0 / history.step))
            forecaster = FORECASTERS[self.model](season_lengths=seasons_for_step(history.step))
            fc = forecaster.fit(history).predict(horizon)
        except ForecastError as exc:
            raise ForecastError(f"{metric}: cannot forecast: {exc}") from None
        return MetricForecast(
            metric,
            self.model,
            history.step,
            [utc(s) for s in fc.timestamps],
            fc.mean,
            fc.lo80,
            fc.hi80,
            fc.lo95,
            fc.hi95,
        )


def initialize_ai_monitoring(
    detector: str = "default",
    forecast_model: str = "default",
    *,
    window_minutes: float = 10.0,
    group_by: Iterable[str] = ("service", "cluster"),
) -> tuple[AnomalyEngine, MetricPredictor, IncidentCorrelator]:
    """The anomaly engine, predictor and correlator, sharing one history."""
    history = MetricHistory()
    return (
        AnomalyEngine(detector, history=history),
        MetricPredictor(history, forecast_model),
        IncidentCorrelator(window_minutes=window_minutes, group_by=tuple(group_by)),
    )
