"""Generated series for the detector tests: a noisy daily cycle at 5-minute resolution."""

from __future__ import annotations

import numpy as np
import pytest

STEP = 300.0
DAY = 288
START = 1_700_006_400.0  # a midnight UTC


def seasonal(days: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps (s) and values of `days` days of a daily cycle (40 ± 10) plus noise (sd 1)."""
    rng = np.random.default_rng(seed)
    t = START + np.arange(days * DAY) * STEP
    x = 40.0 + 10.0 * np.sin(2 * np.pi * (t % 86400) / 86400) + rng.normal(0, 1.0, len(t))
    return t, x


@pytest.fixture
def normal_series() -> tuple[np.ndarray, np.ndarray]:
    return seasonal(8)
