"""Adapter from a statsforecast model to the Forecaster interface.

statsforecast's models share `fit(y)` and `predict(h, level)`, returning a dict with `mean`,
`lo-80`, `hi-80`, `lo-95`, `hi-95`; a subclass only says which model to build for the season
lengths the history supports. Fitting on log values (when every value is positive) turns
multiplicative seasonality, common in traffic-like metrics, into the additive kind the models
assume; exp maps the intervals back because it is monotone.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from watchkeeper.detect.forecast.base import (
    INTERVAL_LEVELS,
    Bands,
    FloatArray,
    Forecaster,
    usable_seasons,
)


@contextmanager
def quiet_optimiser() -> Iterator[None]:
    """Silence statsforecast's optimiser diagnostics ("possible convergence problem").

    The model search already compares candidates by information criterion; a candidate whose
    optimiser stopped early just loses, so the warning carries nothing an operator can act on.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"statsforecast\.")
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"statsforecast\.")
        yield


def bands_from(prediction: dict[str, Any]) -> Bands:
    """Read statsforecast's prediction dict into Bands."""

    def column(key: str) -> FloatArray:
        return np.asarray(prediction[key], dtype=np.float64)

    return Bands(
        mean=column("mean"),
        lo80=column("lo-80"),
        hi80=column("hi-80"),
        lo95=column("lo-95"),
        hi95=column("hi-95"),
    )


class StatsforecastForecaster(Forecaster):
    """A statsforecast model per series; subclasses implement `build_model`."""

    def __init__(self, season_lengths: tuple[int, ...] = (24, 168), log: bool = False) -> None:
        self.season_lengths = tuple(season_lengths)
        self.log = log
        self._logged = False
        self._model: Any = None

    @abstractmethod
    def build_model(self, seasons: tuple[int, ...]) -> Any:
        """An unfitted statsforecast model for these (already usable) season lengths."""

    def fit_values(self, values: FloatArray) -> None:
        self._logged = self.log and bool(np.all(values > 0))
        y = np.log(values) if self._logged else values
        seasons = usable_seasons(self.season_lengths, len(y))
        with quiet_optimiser():
            self._model = self.build_model(seasons).fit(y=y)

    def predict_bands(self, horizon: int) -> Bands:
        with quiet_optimiser():
            prediction = self._model.predict(h=horizon, level=list(INTERVAL_LEVELS))
        bands = bands_from(prediction)
        return bands.map(np.exp) if self._logged else bands
