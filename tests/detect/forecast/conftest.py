"""Generated series for the forecaster tests: small, so the whole suite runs in seconds."""

from __future__ import annotations

import numpy as np

from watchkeeper.detect.forecast import SeriesHistory

SEASON = 12
STEP = 3600.0
START = 1_700_006_400.0


def seasonal_history(cycles: int = 10, seed: int = 0, noise: float = 1.0) -> SeriesHistory:
    """A positive daily-like cycle of period SEASON (50 ± 10) with Gaussian noise."""
    rng = np.random.default_rng(seed)
    n = cycles * SEASON
    values = 50.0 + 10.0 * np.sin(2 * np.pi * np.arange(n) / SEASON) + rng.normal(0, noise, n)
    return SeriesHistory.from_values(values, start=START, step=STEP)


def linear_history(points: int, slope: float, intercept: float, seed: int = 0) -> SeriesHistory:
    """A straight line with small noise, e.g. disk usage growing steadily."""
    rng = np.random.default_rng(seed)
    values = intercept + slope * np.arange(points) + rng.normal(0, 0.2, points)
    return SeriesHistory.from_values(values, start=START, step=STEP)
