"""AutoARIMA (statsforecast's port of R's auto.arima), seasonal on the daily period."""

from __future__ import annotations

from typing import Any, ClassVar

from watchkeeper.detect.forecast.statsforecast_model import StatsforecastForecaster


class AutoARIMAForecaster(StatsforecastForecaster):
    """Seasonal ARIMA chosen per series by AICc; uses the first usable season length only,
    because ARIMA models one seasonal period."""

    name: ClassVar[str] = "arima"

    def build_model(self, seasons: tuple[int, ...]) -> Any:
        from statsforecast.models import AutoARIMA  # heavy (pandas, statsmodels): on first fit

        return AutoARIMA(season_length=seasons[0] if seasons else 1)
