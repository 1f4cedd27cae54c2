"""One behavioural suite for every registered detector (river's test_estimators pattern)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from tests.detect.conftest import DAY, seasonal
from tests.support import missing
from watchkeeper.clock import ManualClock
from watchkeeper.detect import DETECTORS, Detector
from watchkeeper.detect.persistence import ModelStore

NAMES = sorted(DETECTORS)
SPIKE_AT = 5 * DAY + 100
SHIFT_AT = 6 * DAY + 150
QUIET_END = 5 * DAY


def _needs_torch(name: str) -> None:
    if name in {"lstm", "vae"} and importlib.util.find_spec("torch") is None:
        missing("the deep detectors need torch (the deep extra)")


@pytest.fixture(scope="module", params=NAMES)
def scored(request: pytest.FixtureRequest) -> tuple[str, Detector, np.ndarray]:
    """Each detector, unlabelled, over 7 days: normal, then a spike, then a level shift."""
    name: str = request.param
    _needs_torch(name)
    t, x = seasonal(7)
    x[SPIKE_AT] += 25.0
    x[SHIFT_AT:] += 25.0
    detector = DETECTORS[name]()
    return name, detector, detector.update_many(t, x)


def test_scores_are_in_unit_interval(scored: tuple[str, Detector, np.ndarray]) -> None:
    _, _, scores = scored
    assert np.all((scores >= 0.0) & (scores <= 1.0))


def test_flags_an_injected_spike(scored: tuple[str, Detector, np.ndarray]) -> None:
    _, detector, scores = scored
    assert scores[SPIKE_AT : SPIKE_AT + 3].max() >= detector.threshold


def test_flags_a_level_shift(scored: tuple[str, Detector, np.ndarray]) -> None:
    _, detector, scores = scored
    assert scores[SHIFT_AT : SHIFT_AT + 12].max() >= detector.threshold


def test_stays_quiet_on_normal_data(scored: tuple[str, Detector, np.ndarray]) -> None:
    _, detector, scores = scored
    false_alarms = np.count_nonzero(scores[DAY // 2 : QUIET_END] >= detector.threshold)
    assert false_alarms <= 0.005 * (QUIET_END - DAY // 2)


@pytest.mark.parametrize("name", NAMES)
def test_saved_state_resumes_identically(name: str, tmp_path: Path) -> None:
    _needs_torch(name)
    t, x = seasonal(3, seed=1)
    cut = 2 * DAY
    original = DETECTORS[name]()
    original.update_many(t[:cut], x[:cut])
    store = ModelStore(tmp_path, ManualClock())
    store.save("tenant-a", 'cpu{host="a"}', original)
    restored = store.load("tenant-a", 'cpu{host="a"}', original.name)
    assert restored is not None
    expected = original.update_many(t[cut:], x[cut:])
    np.testing.assert_allclose(restored.detector.update_many(t[cut:], x[cut:]), expected)


@pytest.mark.parametrize("name", NAMES)
def test_streaming_matches_batch(name: str) -> None:
    _needs_torch(name)
    t, x = seasonal(2, seed=2)
    batch = DETECTORS[name]().update_many(t, x)
    streaming = DETECTORS[name]()
    head = streaming.update_many(t[:-20], x[:-20])
    tail = [streaming.update(float(ti), float(xi)) for ti, xi in zip(t[-20:], x[-20:], strict=True)]
    np.testing.assert_allclose(np.r_[head, tail], batch, atol=1e-6)
