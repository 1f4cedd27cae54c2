"""Explanations: expected band, deviation, pattern, and the operator sentence."""

from __future__ import annotations

import numpy as np
import pytest

from tests.detect.conftest import DAY, seasonal
from watchkeeper.detect.explain import Pattern, explain


def test_level_shift_is_named_with_its_start_and_expected_band() -> None:
    t, x = seasonal(8)
    x[-6:] += 30.0
    exp = explain('cpu{host="db-1"}', t, x, 0.9, ["default", "isolation_forest"], 3, unit="%")
    assert exp.pattern is Pattern.LEVEL_SHIFT
    assert exp.started_at == t[-6]
    assert abs(exp.expected - (x[-1] - 30.0)) < 3 * exp.band
    assert exp.deviation_sigma > 8
    sentence = exp.sentence()
    assert sentence.startswith('cpu{host="db-1"} at ')
    assert "level shift started" in sentence and "2 of 3 detectors agree" in sentence
    assert "\u03c3" in sentence


def test_single_high_point_is_a_spike_and_low_point_a_dip() -> None:
    t, x = seasonal(3)
    up, down = x.copy(), x.copy()
    up[-1] += 25.0
    down[-1] -= 25.0
    assert explain("m", t, up, 0.9, ["default"], 1).pattern is Pattern.SPIKE
    assert explain("m", t, down, 0.9, ["default"], 1).pattern is Pattern.DIP


def test_stuck_value_is_a_flat_line() -> None:
    t, x = seasonal(3)
    x[-40:] = x[-41]
    assert explain("m", t, x, 0.9, ["default"], 1).pattern is Pattern.FLAT_LINE


def test_ordinary_value_at_the_wrong_time_of_day_is_a_seasonality_break() -> None:
    t, x = seasonal(3)
    end = 2 * DAY + DAY // 4 + 1  # ends at 06:00, the daily peak
    t, x = t[:end], x[:end].copy()
    x[-1] = x[-1 - DAY // 2]  # the 18:00 trough value: ordinary overall, wrong for 06:00
    exp = explain("m", t, x, 0.9, ["default"], 1)
    assert exp.pattern is Pattern.SEASONALITY_BREAK


def test_attributions_are_listed_largest_first() -> None:
    t, x = seasonal(2)
    x[-1] += 25.0
    exp = explain("m", t, x, 0.9, ["isolation_forest"], 1, {"delta": 0.2, "value": 0.9})
    assert exp.sentence().endswith("driven by value (+0.90), delta (+0.20)")
    assert exp.attributions["value"] == pytest.approx(0.9)
    assert np.isfinite(exp.deviation_sigma)
