"""AutoETS: exponential smoothing state-space models chosen per series by AICc."""

from __future__ import annotations

from typing import Any, ClassVar

from watchkeeper.detect.forecast.statsforecast_model import StatsforecastForecaster


class AutoETSForecaster(StatsforecastForecaster):
    """ETS (error, trend, season) with the first usable season length."""

    name: ClassVar[str] = "ets"

    def build_model(self, seasons: tuple[int, ...]) -> Any:
        from statsforecast.models import AutoETS  # heavy (pandas, statsmodels): on first fit

        return AutoETS(season_length=seasons[0] if seasons else 1)
