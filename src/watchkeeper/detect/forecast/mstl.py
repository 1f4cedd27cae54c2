"""MSTL: STL decomposition with several seasonal periods (daily and weekly), the
deseasonalised series forecast by a non-seasonal model, the seasons by their last cycle."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from watchkeeper.detect.forecast.statsforecast_model import StatsforecastForecaster

TrendModel = Literal["arima", "ets"]


def trend_model(kind: TrendModel) -> Any:
    """The model for the deseasonalised series.

    ARIMA captures the short-term persistence of deviations that a level-only smoother misses;
    the search is narrowed (CSS approximation, p <= 3, q <= 2) to keep it fast on long series.
    """
    from statsforecast.models import AutoARIMA, AutoETS  # heavy: imported on first fit

    if kind == "arima":
        return AutoARIMA(approximation=True, max_p=3, max_q=2)
    return AutoETS(model="ZZN")


def stl_jumps(seasons: tuple[int, ...]) -> dict[str, int]:
    """LOESS jumps for STL's trend and low-pass smoothers, following R's `stl` default of a
    tenth of the smoother's window (the trend window is about 1.5 times the period).

    Smoothing every `jump`-th point and interpolating between them made the decomposition
    about ten times faster on the M4 hourly series at no loss of accuracy; statsforecast
    passes one setting to every period, so the shortest period sets it.
    """
    jump = max(1, math.ceil(0.15 * min(seasons)))
    return {"trend_jump": jump, "low_pass_jump": jump}


class MSTLForecaster(StatsforecastForecaster):
    """MSTL on log values (when positive), seasons e.g. 24 and 168 for hourly data."""

    name: ClassVar[str] = "mstl"

    def __init__(
        self,
        season_lengths: tuple[int, ...] = (24, 168),
        log: bool = True,
        trend: TrendModel = "arima",
    ) -> None:
        super().__init__(season_lengths, log)
        self.trend = trend

    def build_model(self, seasons: tuple[int, ...]) -> Any:
        if not seasons:
            return trend_model(self.trend)
        from statsforecast.models import MSTL

        return MSTL(
            season_length=list(seasons),
            trend_forecaster=trend_model(self.trend),
            stl_kwargs=stl_jumps(seasons),
        )


class CapacityForecaster(MSTLForecaster):
    """MSTL with ARIMA on the raw values: follows a steady trend additively.

    The default forecaster shrinks trends (half of it has none) and a log model turns linear
    growth, like a filling disk, into exponential growth; capacity questions ("when is the disk
    full?", "above 95 % within 6 h?") need this one. It is what time-until-threshold and the
    live forecast loop use by default.
    """

    name: ClassVar[str] = "capacity"

    def __init__(self, season_lengths: tuple[int, ...] = (24, 168)) -> None:
        super().__init__(season_lengths, log=False, trend="arima")
