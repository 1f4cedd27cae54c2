"""Benchmarks every model must beat: seasonal naive and the M4 competition's Naive2."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from watchkeeper.detect.forecast import m4
from watchkeeper.detect.forecast.base import INTERVAL_LEVELS, Bands, FloatArray, Forecaster
from watchkeeper.detect.forecast.statsforecast_model import StatsforecastForecaster, bands_from


class SeasonalNaiveForecaster(StatsforecastForecaster):
    """Repeat the last daily cycle (plain naive when the history is shorter than one cycle)."""

    name: ClassVar[str] = "seasonal_naive"
    min_points: ClassVar[int] = 2

    def build_model(self, seasons: tuple[int, ...]) -> Any:
        from statsforecast.models import Naive, SeasonalNaive  # heavy: imported on first fit

        return SeasonalNaive(season_length=seasons[0]) if seasons else Naive()


class Naive2Forecaster(Forecaster):
    """Naive on the seasonally adjusted series, reseasonalised (M4's Naive2 benchmark).

    Seasonal indices come from a classical multiplicative decomposition, used only when the
    M4 90 % autocorrelation test says the series is seasonal; the intervals are the naive
    model's, scaled by the same indices.
    """

    name: ClassVar[str] = "naive2"
    min_points: ClassVar[int] = 2

    def __init__(self, season_lengths: tuple[int, ...] = (24, 168)) -> None:
        self.season_length = season_lengths[0] if season_lengths else 1
        self._indices: FloatArray = np.ones(1)
        self._points = 0
        self._model: Any = None

    def fit_values(self, values: FloatArray) -> None:
        m = self.season_length
        seasonal = m > 1 and bool(np.all(values > 0)) and m4.is_seasonal(values, m)
        self._indices = m4.seasonal_indices(values, m) if seasonal else np.ones(m)
        self._points = len(values)
        adjusted = values / self._indices[np.arange(len(values)) % m]
        from statsforecast.models import Naive  # heavy: imported on first fit

        self._model = Naive().fit(y=adjusted)

    def predict_bands(self, horizon: int) -> Bands:
        adjusted = bands_from(self._model.predict(h=horizon, level=list(INTERVAL_LEVELS)))
        future = self._indices[(self._points + np.arange(horizon)) % self.season_length]
        return Bands(*(bound * future for bound in adjusted.as_tuple()))
