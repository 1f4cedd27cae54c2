"""Prophet (in the `prophet` extra): additive trend + Fourier seasonalities on wall-clock time.

Imported lazily so the core install works without it; building the forecaster without the
package raises ProphetMissingError with the install hint. Prophet gives one interval per fit,
so the 80 % and 95 % bands are read from its posterior predictive samples instead.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Self

import numpy as np

from watchkeeper.detect.forecast.base import (
    Bands,
    FloatArray,
    Forecaster,
    ForecastError,
    SeriesHistory,
)

UNCERTAINTY_SAMPLES = 500


class ProphetMissingError(ForecastError):
    """Prophet is optional; this says how to get it."""


def _prophet_class() -> Any:
    try:
        from prophet import Prophet  # optional dependency, imported on use
    except ImportError as exc:
        raise ProphetMissingError(
            "the prophet forecaster needs the optional package: pip install 'watchkeeper[prophet]'"
        ) from exc
    for noisy in ("prophet", "cmdstanpy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return Prophet


class ProphetForecaster(Forecaster):
    """Prophet with its automatic daily/weekly seasonalities, fitted on real timestamps."""

    name: ClassVar[str] = "prophet"

    def __init__(self, season_lengths: tuple[int, ...] = (24, 168)) -> None:
        self._prophet = _prophet_class()
        self.season_lengths = tuple(season_lengths)
        self._start = 0.0
        self._model: Any = None
        self._points = 0

    def fit(self, history: SeriesHistory) -> Self:
        self._start = history.start
        self._step = history.step
        return super().fit(history)

    def _dates(self, positions: FloatArray) -> Any:
        import pandas as pd  # a dependency of prophet itself

        seconds = self._start + self._step * positions
        return pd.DataFrame({"ds": pd.to_datetime(seconds, unit="s")})

    def fit_values(self, values: FloatArray) -> None:
        frame = self._dates(np.arange(len(values), dtype=np.float64))
        frame["y"] = values
        self._model = self._prophet(uncertainty_samples=UNCERTAINTY_SAMPLES).fit(frame)
        self._points = len(values)

    def predict_bands(self, horizon: int) -> Bands:
        future = self._dates(np.arange(self._points, self._points + horizon, dtype=np.float64))
        mean = np.asarray(self._model.predict(future)["yhat"], dtype=np.float64)
        samples = np.asarray(self._model.predictive_samples(future)["yhat"], dtype=np.float64)
        lo95, lo80, hi80, hi95 = np.quantile(samples, [0.025, 0.1, 0.9, 0.975], axis=1)
        return Bands(
            mean=mean,
            lo80=np.minimum(lo80, mean),
            hi80=np.maximum(hi80, mean),
            lo95=np.minimum(lo95, lo80),
            hi95=np.maximum(hi95, hi80),
        )
