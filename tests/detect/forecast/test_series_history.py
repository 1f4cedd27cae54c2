"""SeriesHistory: regular grids, gaps, and the season lengths a step implies."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.detect.forecast import ForecastError, SeriesHistory, seasons_for_step
from watchkeeper.detect.forecast.base import usable_seasons


def test_interior_gaps_are_interpolated_and_edges_trimmed() -> None:
    history = SeriesHistory.from_values([np.nan, 1.0, np.nan, 3.0, np.nan])
    np.testing.assert_array_equal(history.filled(), [1.0, 2.0, 3.0])


def test_timestamps_must_be_regular() -> None:
    history = SeriesHistory.from_timestamps([10.0, 20.0, 30.0], [1.0, 2.0, 3.0])
    assert (history.start, history.step, history.end) == (10.0, 10.0, 30.0)
    with pytest.raises(ForecastError):
        SeriesHistory.from_timestamps([10.0, 20.0, 35.0], [1.0, 2.0, 3.0])


def test_all_missing_is_an_error() -> None:
    with pytest.raises(ForecastError):
        SeriesHistory.from_values([np.nan, np.nan]).filled()


def test_seasons_follow_the_sampling_step() -> None:
    assert seasons_for_step(3600.0) == (24, 168)
    assert seasons_for_step(300.0) == (288, 2016)
    assert seasons_for_step(7000.0) == ()  # neither a day nor a week is whole


def test_a_season_needs_two_cycles_of_history() -> None:
    assert usable_seasons((24, 168), 300) == (24,)
    assert usable_seasons((24, 168), 336) == (24, 168)


def test_forecast_starts_after_the_last_finite_value() -> None:
    from watchkeeper.detect.forecast import FORECASTERS

    history = SeriesHistory.from_values([1.0, 2.0, 3.0, 4.0, np.nan], start=100.0, step=10.0)
    forecast = FORECASTERS["seasonal_naive"](season_lengths=()).fit(history).predict(2)
    np.testing.assert_array_equal(forecast.timestamps, [140.0, 150.0])
