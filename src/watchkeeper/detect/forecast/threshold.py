"""Time until threshold: when a forecast is expected to reach a level, with an interval.

For a rising series the interval runs from the upper band's crossing (the earliest it may
happen) through the mean's crossing (expected) to the lower band's (the latest); a falling
series swaps the bands. Crossing times are interpolated linearly between forecast steps,
starting from the last observed value. A band that does not reach the threshold within the
forecast horizon has no crossing (None): "later than the horizon", not "never".

The forecaster used for crossings should extrapolate a trend additively: by default MSTL
with ARIMA on the raw values (`capacity_forecaster`). The default forecaster is tuned for
average accuracy and deliberately shrinks trends (its smoothing member has none), and a log
model turns steady linear growth, like a filling disk, into exponential growth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from watchkeeper.detect.forecast.base import (
    FloatArray,
    Forecast,
    Forecaster,
    SeriesHistory,
    seasons_for_step,
)
from watchkeeper.detect.forecast.mstl import CapacityForecaster

EN_DASH = "\u2013"  # the range dash, as in "5 h 10 min to 8 h" typeset


@dataclass(frozen=True)
class ThresholdCrossing:
    """When each band of a forecast first reaches `threshold` (timestamps, seconds)."""

    threshold: float
    rising: bool
    already: bool
    """The last observed value is already at or beyond the threshold."""
    expected: float | None
    earliest80: float | None
    latest80: float | None
    earliest95: float | None
    latest95: float | None
    horizon_end: float

    @property
    def crossing(self) -> bool:
        """The expected (mean) forecast reaches the threshold within the horizon."""
        return self.already or self.expected is not None

    def seconds_until(self, now: float) -> float | None:
        """Seconds from `now` to the expected crossing (0 when already crossed)."""
        if self.already:
            return 0.0
        return None if self.expected is None else max(0.0, self.expected - now)

    def sentence(self, now: float, what: str = "threshold reached") -> str:
        """Operator wording, e.g. "disk full in 6 h 20 min (80 %: 5 h 10 min \u2013 8 h)"."""
        if self.already:
            return f"{what} already (threshold {self.threshold:g})"
        beyond = f"more than {format_duration(self.horizon_end - now)}"

        def until(t: float | None) -> str:
            return beyond if t is None else format_duration(max(0.0, t - now))

        if self.expected is None:
            if self.earliest80 is None:
                return f"{what} not expected within {format_duration(self.horizon_end - now)}"
            return (
                f"{what} not expected within {format_duration(self.horizon_end - now)} "
                f"(80 %: possibly in {until(self.earliest80)})"
            )
        return (
            f"{what} in {until(self.expected)} "
            f"(80 %: {until(self.earliest80)} {EN_DASH} {until(self.latest80)})"
        )


def format_duration(seconds: float) -> str:
    """Two units at most, rounded to the minute: "45 min", "6 h 20 min", "2 d 3 h"."""
    minutes = round(seconds / 60.0)
    if minutes < 1:
        return "under 1 min"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def first_crossing(
    times: FloatArray, values: FloatArray, threshold: float, rising: bool
) -> float | None:
    """Interpolated time at which the piecewise-linear path first reaches the threshold.

    `times[0], values[0]` is the starting point (the last observation).
    """
    reached = values >= threshold if rising else values <= threshold
    hits = np.flatnonzero(reached)
    if len(hits) == 0:
        return None
    i = int(hits[0])
    if i == 0:
        return float(times[0])
    v0, v1 = float(values[i - 1]), float(values[i])
    fraction = (threshold - v0) / (v1 - v0)
    return float(times[i - 1] + fraction * (times[i] - times[i - 1]))


def threshold_crossing(
    forecast: Forecast,
    threshold: float,
    last_time: float,
    last_value: float,
    rising: bool | None = None,
) -> ThresholdCrossing:
    """Crossing times of the mean and of both interval bands.

    `rising` defaults to whether the threshold lies above the last observed value.
    """
    up = threshold >= last_value if rising is None else rising
    already = last_value >= threshold if up else last_value <= threshold
    times = np.r_[last_time, forecast.timestamps]

    def cross(band: FloatArray) -> float | None:
        return first_crossing(times, np.r_[last_value, band], threshold, up)

    # Rising: the upper band gets there first; falling: the lower band does.
    early80, late80 = (forecast.hi80, forecast.lo80) if up else (forecast.lo80, forecast.hi80)
    early95, late95 = (forecast.hi95, forecast.lo95) if up else (forecast.lo95, forecast.hi95)
    return ThresholdCrossing(
        threshold=threshold,
        rising=up,
        already=already,
        expected=cross(forecast.mean),
        earliest80=cross(early80),
        latest80=cross(late80),
        earliest95=cross(early95),
        latest95=cross(late95),
        horizon_end=float(forecast.timestamps[-1]),
    )


def capacity_forecaster(step: float) -> Forecaster:
    """MSTL (daily/weekly seasons for this sampling step) with ARIMA on the raw values."""
    return CapacityForecaster(seasons_for_step(step))


def time_until_threshold(
    history: SeriesHistory,
    threshold: float,
    horizon: int,
    forecaster: Forecaster | None = None,
    rising: bool | None = None,
) -> ThresholdCrossing:
    """Fit a forecaster (default: `capacity_forecaster`) on `history`, forecast `horizon`
    steps, and find when the forecast and its bands reach `threshold`."""
    model = forecaster if forecaster is not None else capacity_forecaster(history.step)
    forecast = model.fit(history).predict(horizon)
    finite = np.flatnonzero(np.isfinite(history.values))
    last = int(finite[-1])
    return threshold_crossing(
        forecast,
        threshold,
        last_time=history.start + history.step * last,
        last_value=float(history.values[last]),
        rising=rising,
    )
