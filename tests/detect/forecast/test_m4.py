"""M4 scoring on tiny hand-computed examples."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.detect.forecast import m4

PATTERN = np.array([0.7, 0.9, 1.1, 1.3])  # mean 1: a pure multiplicative season of 4


def test_smape_is_200_times_error_over_sum_of_magnitudes() -> None:
    assert m4.smape(np.array([100.0, 50.0]), np.array([110.0, 50.0])) == pytest.approx(
        0.5 * 200 * 10 / 210
    )


def test_mase_scales_by_the_in_sample_seasonal_naive_error() -> None:
    insample = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # lag-2 differences are all 2
    actual, forecast = np.array([7.0, 8.0]), np.array([6.0, 10.0])  # errors 1 and 2
    assert m4.mase(actual, forecast, insample, period=2) == pytest.approx(1.5 / 2)


def test_msis_charges_the_width_and_2_over_alpha_per_miss() -> None:
    insample = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # lag-2 scale 2
    actual = np.array([5.0, 9.0])
    lower, upper = np.array([4.0, 4.0]), np.array([6.0, 6.0])  # width 2; the 2nd misses by 3
    # ((2) + (2 + 40 * 3)) / 2 / 2 with alpha 0.05
    assert m4.msis(actual, lower, upper, insample, period=2) == pytest.approx((2 + 122) / 2 / 2)
    assert m4.coverage(actual, lower, upper) == 0.5


def test_autocorrelation_matches_hand_computation() -> None:
    values = np.tile([1.0, 2.0, 3.0, 4.0], 3)
    np.testing.assert_allclose(
        m4.autocorrelation(values, 4), [-0.05, -0.5, -4.25 / 15, 10 / 15], atol=1e-12
    )


def test_seasonality_test_uses_the_90_percent_bartlett_limit() -> None:
    # r_4 = 0.667 against 1.645 * sqrt((1 + 2 * (0.05² + 0.5² + 0.283²)) / 12) = 0.613
    assert m4.is_seasonal(np.tile([1.0, 2.0, 3.0, 4.0], 3), 4)


def test_seasonality_test_rejects_noise_and_short_series() -> None:
    noise = np.random.default_rng(1).normal(10, 1, 200)
    assert not m4.is_seasonal(noise, 4)
    assert not m4.is_seasonal(np.tile([1.0, 2.0, 3.0, 4.0], 2), 4)  # under three seasons


def test_seasonal_indices_recover_a_multiplicative_pattern() -> None:
    values = 100.0 * np.tile(PATTERN, 5)
    np.testing.assert_allclose(m4.seasonal_indices(values, 4), PATTERN)


def test_naive2_reseasonalises_the_last_adjusted_value() -> None:
    values = 100.0 * np.tile(PATTERN, 5)
    values[-1] = 143.0  # adjusted: 143 / 1.3 = 110
    forecast = m4.naive2(values, 6, 4)
    np.testing.assert_allclose(forecast, 110.0 * np.r_[PATTERN, PATTERN[:2]], rtol=0.02)


def test_naive2_is_plain_naive_when_not_seasonal() -> None:
    values = np.random.default_rng(2).normal(10, 1, 50)
    np.testing.assert_array_equal(m4.naive2(values, 3, 4), np.full(3, values[-1]))


def test_seasonal_naive_repeats_the_last_cycle() -> None:
    np.testing.assert_array_equal(
        m4.seasonal_naive(np.arange(8.0), 6, 4), [4.0, 5.0, 6.0, 7.0, 4.0, 5.0]
    )


def test_owa_of_naive2_itself_is_one_and_perfect_forecasts_score_zero() -> None:
    rng = np.random.default_rng(3)
    train = {k: 50 + 10 * np.tile(PATTERN, 6) + rng.normal(0, 1, 24) for k in "ab"}
    test = {k: 50 + 10 * PATTERN + rng.normal(0, 1, 4) for k in "ab"}
    naive = {k: m4.naive2(train[k], 4, 4) for k in "ab"}
    assert m4.score(test, naive, train, 4).owa == pytest.approx(1.0)
    perfect = m4.score(test, test, train, 4)
    assert (perfect.smape, perfect.mase, perfect.owa) == (0.0, 0.0, 0.0)


def test_series_files_round_trip(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "series.csv"
    m4.write_series(path, [("H1", np.array([1.5, 2.0])), ("H2", np.array([3.25]))])
    assert path.read_text().splitlines()[0] == "id,values"
    read = m4.read_series(path)
    np.testing.assert_array_equal(read["H1"], [1.5, 2.0])
    np.testing.assert_array_equal(read["H2"], [3.25])
