"""AutoTheta: the Theta method family (standard, optimised, dynamic) chosen per series."""

from __future__ import annotations

from typing import Any, ClassVar

from watchkeeper.detect.forecast.statsforecast_model import StatsforecastForecaster


class AutoThetaForecaster(StatsforecastForecaster):
    """Theta on the classically deseasonalised series (the M4 seasonality test decides)."""

    name: ClassVar[str] = "theta"

    def build_model(self, seasons: tuple[int, ...]) -> Any:
        from statsforecast.models import AutoTheta  # heavy (pandas, statsmodels): on first fit

        return AutoTheta(season_length=seasons[0] if seasons else 1)
