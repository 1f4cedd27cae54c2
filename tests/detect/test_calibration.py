"""The likelihood stage: quiet on stationary noise, loud on a sustained change, batch = stream."""

from __future__ import annotations

import numpy as np

from watchkeeper.detect.calibration import LikelihoodCalibrator


def _raw(n: int, seed: int = 0) -> np.ndarray:
    return np.abs(np.random.default_rng(seed).normal(0.3, 0.05, n))


def test_stationary_raw_scores_stay_below_half() -> None:
    scores = LikelihoodCalibrator().update_many(_raw(3000))
    assert np.mean(scores >= 0.5) < 0.002


def test_sustained_rise_in_raw_scores_crosses_half() -> None:
    raw = _raw(2000)
    raw[1500:] += 0.3
    scores = LikelihoodCalibrator().update_many(raw)
    assert scores[1500:1515].max() >= 0.5


def test_batch_and_one_at_a_time_agree_and_nan_is_no_opinion() -> None:
    raw = _raw(400)
    raw[100] = np.nan
    batch = LikelihoodCalibrator().update_many(raw)
    cal = LikelihoodCalibrator()
    single = np.concatenate([cal.update_many(raw[i : i + 1]) for i in range(len(raw))])
    np.testing.assert_allclose(single, batch, atol=1e-9)
    assert batch[100] == 0.0
