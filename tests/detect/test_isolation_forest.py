"""Isolation Forest specifics: SHAP attributions point at the features that isolate a spike."""

from __future__ import annotations

from tests.detect.conftest import seasonal
from watchkeeper.detect.isolation_forest import FEATURES, IsolationForestDetector


def test_spike_is_attributed_to_value_and_change_features() -> None:
    t, x = seasonal(2)
    x[-1] += 30.0
    det = IsolationForestDetector()
    det.update_many(t, x)
    attributions = det.attributions(x)
    assert set(attributions) == set(FEATURES)
    top = max(attributions, key=lambda k: attributions[k])
    assert top in {"value", "delta", "value_vs_window", "window_max", "window_std"}
    assert attributions[top] > 0
