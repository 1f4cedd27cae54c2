"""Forecasting: one Forecaster interface, statsforecast models, baselines and the default.

`FORECASTERS` maps a name to a factory taking no required arguments, so callers build a
forecaster per series with `FORECASTERS[name]()`; the factories accept `season_lengths`
(in samples, e.g. `seasons_for_step(3600)` = (24, 168) for hourly data).
"""

from __future__ import annotations

from collections.abc import Callable

from watchkeeper.detect.forecast.arima import AutoARIMAForecaster
from watchkeeper.detect.forecast.base import (
    Forecast,
    Forecaster,
    ForecastError,
    SeriesHistory,
    seasons_for_step,
)
from watchkeeper.detect.forecast.baselines import Naive2Forecaster, SeasonalNaiveForecaster
from watchkeeper.detect.forecast.default import DefaultForecaster
from watchkeeper.detect.forecast.ets import AutoETSForecaster
from watchkeeper.detect.forecast.mstl import CapacityForecaster, MSTLForecaster
from watchkeeper.detect.forecast.prophet import ProphetForecaster
from watchkeeper.detect.forecast.theta import AutoThetaForecaster

FORECASTERS: dict[str, Callable[..., Forecaster]] = {
    DefaultForecaster.name: DefaultForecaster,
    AutoARIMAForecaster.name: AutoARIMAForecaster,
    AutoETSForecaster.name: AutoETSForecaster,
    AutoThetaForecaster.name: AutoThetaForecaster,
    MSTLForecaster.name: MSTLForecaster,
    CapacityForecaster.name: CapacityForecaster,
    ProphetForecaster.name: ProphetForecaster,
    SeasonalNaiveForecaster.name: SeasonalNaiveForecaster,
    Naive2Forecaster.name: Naive2Forecaster,
}
"""Every forecaster by name; "prophet" raises ProphetMissingError when prophet is absent."""

__all__ = [
    "FORECASTERS",
    "AutoARIMAForecaster",
    "AutoETSForecaster",
    "AutoThetaForecaster",
    "CapacityForecaster",
    "DefaultForecaster",
    "Forecast",
    "ForecastError",
    "Forecaster",
    "MSTLForecaster",
    "Naive2Forecaster",
    "ProphetForecaster",
    "SeasonalNaiveForecaster",
    "SeriesHistory",
    "seasons_for_step",
]
