"""The `detection` section: the live anomaly detection and forecast loops."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from watchkeeper.config.durations import parse_duration_or_seconds_ms
from watchkeeper.config.sections.base import Section

DetectorName = Literal["default", "isolation_forest", "lstm", "vae", "ensemble"]
"""The names of `watchkeeper.detect.DETECTORS` (a test keeps the two in step)."""
ForecasterName = Literal[
    "default", "capacity", "arima", "ets", "theta", "mstl", "prophet", "seasonal_naive", "naive2"
]
"""The names of `watchkeeper.detect.forecast.FORECASTERS` (a test keeps the two in step)."""


class DetectionSettings(Section):
    """The live detection loop (on/off, models path and retraining are the top-level brief keys
    ENABLE_ANOMALY_DETECTION, AI_MODELS_PATH, RETRAIN_INTERVAL_HOURS)."""

    selectors: list[str] = Field(
        default_factory=lambda: ['{job="watchkeeper"}'],
        description="PromQL series selectors the loop scores; default: the built-in host metrics",
    )
    interval_seconds: float = Field(30.0, gt=0, le=3600, description="seconds between passes")
    detector: DetectorName = "default"
    warmup_hours: float = Field(
        24.0, ge=0, le=8760, description="stored history a new series' model first learns from"
    )
    training_hours: float = Field(
        168.0, gt=0, le=8760, description="stored history POST /ai/train and retraining use"
    )
    explain_hours: float = Field(
        72.0, gt=0, le=8760, description="history an anomaly's explanation compares with"
    )
    checkpoint_interval_seconds: float = Field(
        300.0, ge=0, description="how often model state is saved (0: after every pass)"
    )
    forecast_enabled: bool = Field(
        True, description="write watchkeeper_forecast series for the forecast selectors"
    )
    forecast_selectors: list[str] = Field(
        default_factory=list,
        description="series selectors the forecast loop forecasts (empty: the same as selectors)",
    )
    forecast_interval_seconds: float = Field(
        900.0, gt=0, le=86400, description="seconds between forecast passes"
    )
    forecast_horizons: list[str] = Field(
        default_factory=lambda: ["1h", "6h", "24h"],
        min_length=1,
        description="how far ahead each written forecast looks (one series per horizon)",
    )
    forecast_history_hours: float = Field(
        168.0, gt=0, le=8760, description="history each forecast is fitted on"
    )
    forecast_model: ForecasterName = Field(
        "capacity", description="forecaster the loop fits (capacity: follows trends additively)"
    )
    forecast_max_series: int = Field(
        200, ge=1, le=100_000, description="series forecast per tenant and pass at most"
    )
    forecast_max_events: int = Field(
        100,
        ge=0,
        le=100_000,
        description="prediction events (/ws/notifications) per tenant and pass at most; 0: none",
    )
    forecast_in_child: bool = Field(
        True,
        description="fit each forecast pass in a one-shot child process, so the server does not "
        "keep the forecasting libraries (~170 MB) resident between passes; false: fit in the "
        "server (no child start-up, ~7 s of CPU per pass on a 2-core machine)",
    )

    @field_validator("detector")
    @classmethod
    def _deep_needs_torch(cls, value: str) -> str:
        from watchkeeper.extras import deep_detector_problem

        problem = deep_detector_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("selectors", "forecast_selectors")
    @classmethod
    def _valid_selectors(cls, value: list[str]) -> list[str]:
        from watchkeeper.query.errors import QueryError
        from watchkeeper.query.params import parse_selector

        for selector in value:
            try:
                parse_selector(selector)
            except QueryError as exc:
                raise ValueError(f"{selector!r} is not a valid series selector: {exc}") from None
        return value

    @field_validator("forecast_horizons")
    @classmethod
    def _valid_horizons(cls, value: list[str]) -> list[str]:
        for horizon in value:
            try:
                seconds = parse_duration_or_seconds_ms(horizon) / 1000
            except ValueError:
                raise ValueError(f"{horizon!r} is not a duration such as 6h or 90m") from None
            if not 0 < seconds <= 30 * 86400:
                raise ValueError(f"{horizon!r} must be more than 0 and at most 30d")
        return value
