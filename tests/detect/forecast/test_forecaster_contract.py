"""One behavioural suite for every registered forecaster (river's test_estimators pattern)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from tests.detect.forecast.conftest import SEASON, STEP, seasonal_history
from tests.support import missing
from watchkeeper.clock import ManualClock
from watchkeeper.detect.forecast import FORECASTERS, Forecast, Forecaster
from watchkeeper.detect.forecast.state import load_forecaster, save_forecaster

HORIZON = 2 * SEASON
NAMES = sorted(FORECASTERS)


def _build(name: str) -> Forecaster:
    if name == "prophet" and importlib.util.find_spec("prophet") is None:
        missing("prophet is not installed (the prophet extra)")
    return FORECASTERS[name](season_lengths=(SEASON,))


@pytest.fixture(scope="module", params=NAMES)
def fitted(request: pytest.FixtureRequest) -> tuple[Forecaster, Forecast]:
    """Each forecaster fitted on ten noisy cycles, with its forecast of the next two."""
    forecaster = _build(request.param).fit(seasonal_history())
    return forecaster, forecaster.predict(HORIZON)


def test_forecast_has_one_value_per_step(fitted: tuple[Forecaster, Forecast]) -> None:
    _, forecast = fitted
    history = seasonal_history()
    expected = history.start + STEP * (len(history.values) - 1 + np.arange(1, HORIZON + 1))
    assert all(len(b) == HORIZON for b in (forecast.lo95, forecast.lo80, forecast.mean))
    assert all(len(b) == HORIZON for b in (forecast.hi80, forecast.hi95))
    np.testing.assert_allclose(forecast.timestamps, expected)


def test_intervals_are_nested_around_the_mean(fitted: tuple[Forecaster, Forecast]) -> None:
    _, f = fitted
    chain = np.vstack([f.lo95, f.lo80, f.mean, f.hi80, f.hi95])
    assert np.all(np.isfinite(chain))
    assert np.all(np.diff(chain, axis=0) >= -1e-9)
    assert np.all(f.hi95 - f.lo95 > 0)


def test_beats_naive_on_a_seasonal_series(fitted: tuple[Forecaster, Forecast]) -> None:
    _, forecast = fitted
    truth = seasonal_history(cycles=12).values[-HORIZON:]  # same seed: the continuation
    naive_error = np.mean(np.abs(truth - seasonal_history().values[-1]))
    assert np.mean(np.abs(truth - forecast.mean)) < 0.5 * naive_error


def test_state_round_trip_predicts_the_same(
    fitted: tuple[Forecaster, Forecast], tmp_path: Path
) -> None:
    forecaster, forecast = fitted
    path = tmp_path / "model.state"
    save_forecaster(forecaster, path, ManualClock(start=123.0))
    restored = load_forecaster(path)
    assert restored.saved_at == 123.0
    again = restored.forecaster.predict(HORIZON)
    if forecaster.name != "prophet":  # prophet's bands come from random samples
        np.testing.assert_allclose(again.hi95, forecast.hi95)
    np.testing.assert_allclose(again.mean, forecast.mean)


def test_predicting_before_fitting_is_an_error() -> None:
    from watchkeeper.detect.forecast import ForecastError

    with pytest.raises(ForecastError):
        FORECASTERS["seasonal_naive"]().predict(3)
