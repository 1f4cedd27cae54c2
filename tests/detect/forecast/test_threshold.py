"""Time until threshold: crossings of the mean and the bands, and the operator sentence."""

from __future__ import annotations

import numpy as np
import pytest

from tests.detect.forecast.conftest import STEP, linear_history
from watchkeeper.detect.forecast import Forecast
from watchkeeper.detect.forecast.threshold import (
    ThresholdCrossing,
    first_crossing,
    format_duration,
    threshold_crossing,
    time_until_threshold,
)

HOUR = 3600.0


def _flat_forecast(mean: float, spread: float, horizon: int = 4) -> Forecast:
    t = 1000.0 + HOUR * np.arange(1, horizon + 1, dtype=np.float64)
    m = np.full(horizon, mean)
    return Forecast(t, m, m - spread, m + spread, m - 2 * spread, m + 2 * spread)


def test_first_crossing_interpolates_between_steps() -> None:
    times, values = np.array([0.0, 10.0, 20.0]), np.array([0.0, 5.0, 10.0])
    assert first_crossing(times, values, 7.5, rising=True) == pytest.approx(15.0)
    assert first_crossing(times, values, 11.0, rising=True) is None
    assert first_crossing(times, values[::-1], 2.5, rising=False) == pytest.approx(15.0)


def test_linear_trend_crosses_when_the_line_does() -> None:
    # 1 unit per hour from 0: the last of 100 points is ~99, so 120 is ~21 h after it.
    history = linear_history(points=100, slope=1.0, intercept=0.0)
    crossing = time_until_threshold(history, 120.0, 48)
    last = history.start + STEP * 99
    assert crossing.rising and not crossing.already
    assert crossing.expected is not None
    assert crossing.seconds_until(last) == pytest.approx(21 * HOUR, abs=1.5 * HOUR)
    assert crossing.earliest95 is not None and crossing.earliest80 is not None
    assert crossing.earliest95 <= crossing.earliest80 <= crossing.expected
    assert crossing.latest80 is None or crossing.expected <= crossing.latest80


def test_falling_series_uses_the_lower_band_for_the_earliest_crossing() -> None:
    history = linear_history(points=100, slope=-0.5, intercept=100.0)
    crossing = time_until_threshold(history, 40.0, 48)
    assert not crossing.rising
    assert crossing.expected is not None and crossing.earliest80 is not None
    assert crossing.earliest80 <= crossing.expected
    assert crossing.seconds_until(history.end) == pytest.approx(20 * HOUR, abs=1.5 * HOUR)


def test_sentence_reads_like_an_operator_message() -> None:
    crossing = ThresholdCrossing(
        threshold=100.0,
        rising=True,
        already=False,
        expected=6 * HOUR + 20 * 60,
        earliest80=5 * HOUR + 10 * 60,
        latest80=8 * HOUR,
        earliest95=4 * HOUR,
        latest95=None,
        horizon_end=48 * HOUR,
    )
    assert crossing.sentence(now=0.0, what="disk full") == (
        "disk full in 6 h 20 min (80 %: 5 h 10 min \u2013 8 h)"
    )


def test_band_beyond_the_horizon_is_said_so() -> None:
    crossing = threshold_crossing(_flat_forecast(50.0, 60.0), 105.0, 1000.0, 50.0)
    assert crossing.expected is None and crossing.earliest95 is not None
    assert not crossing.crossing
    assert crossing.sentence(now=1000.0, what="disk full") == (
        "disk full not expected within 4 h (80 %: possibly in 55 min)"
    )


def test_already_beyond_the_threshold() -> None:
    crossing = threshold_crossing(_flat_forecast(50.0, 1.0), 40.0, 1000.0, 50.0, rising=True)
    assert crossing.already and crossing.seconds_until(2000.0) == 0.0
    assert crossing.sentence(now=1000.0, what="disk full") == "disk full already (threshold 40)"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (20, "under 1 min"),
        (45 * 60, "45 min"),
        (6 * HOUR, "6 h"),
        (2 * 86400 + 3 * HOUR, "2 d 3 h"),
    ],
)
def test_durations_use_two_units_at_most(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
