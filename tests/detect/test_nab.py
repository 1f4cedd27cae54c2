"""NAB v1.1 scoring on tiny generated files whose scores can be worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from watchkeeper.detect.nab import (
    STANDARD_PROFILES,
    NabScorer,
    NabSeries,
    file_layout,
    probation_length,
    scaled_sigmoid,
)

STANDARD = STANDARD_PROFILES[0]
LOW_FN = STANDARD_PROFILES[2]


def _series(name: str, n: int) -> NabSeries:
    ts = np.datetime64("2024-01-01T00:00:00", "us") + np.arange(n) * np.timedelta64(5, "m")
    return NabSeries(name, ts, np.zeros(n))


def _window(series: NabSeries, start: int, end: int) -> tuple[np.datetime64, np.datetime64]:
    return series.timestamps[start], series.timestamps[end]


@pytest.fixture
def corpus() -> tuple[NabScorer, int]:
    """One 1000-row file (probation 150 rows) with windows [400, 499] and [700, 799]."""
    s = _series("cat/a.csv", 1000)
    windows = {"cat/a.csv": [_window(s, 400, 499), _window(s, 700, 799)]}
    return NabScorer.from_files(windows, [s]), 1000


def _detect_at(n: int, *rows: int) -> dict[str, np.ndarray]:
    scores = np.zeros(n)
    scores[list(rows)] = 1.0
    return {"cat/a.csv": scores}


def test_probation_is_15_percent_capped_at_750_rows() -> None:
    assert probation_length(1000) == 150
    assert probation_length(20000) == 750


def test_reward_curve_matches_nab() -> None:
    values = scaled_sigmoid(np.array([-1.0, -0.5, 0.0, 1.0, 3.0]))
    np.testing.assert_allclose(values, [0.98661, 0.84828, 0.0, -0.98661, -1.0], atol=1e-5)


def test_null_detector_scores_zero(corpus: tuple[NabScorer, int]) -> None:
    scorer, n = corpus
    result = scorer.score(_detect_at(n), STANDARD, 0.5)
    assert (result.raw, result.normalised, result.fn) == (-2.0, 0.0, 2)


def test_detection_at_each_window_start_scores_100(corpus: tuple[NabScorer, int]) -> None:
    scorer, n = corpus
    for profile in STANDARD_PROFILES:
        assert scorer.score(_detect_at(n, 400, 700), profile, 0.5).normalised == pytest.approx(100)


def test_only_the_first_detection_in_a_window_counts(corpus: tuple[NabScorer, int]) -> None:
    scorer, n = corpus
    once = scorer.score(_detect_at(n, 450, 700), STANDARD, 0.5).raw
    twice = scorer.score(_detect_at(n, 450, 460, 490, 700), STANDARD, 0.5).raw
    expected_first = 2 / (1 + math.exp(5 * -(499 - 450 + 1) / 100)) - 1
    assert once == twice == pytest.approx(expected_first / 0.98661 + 1.0, rel=1e-4)


def test_false_positive_costs_grow_with_distance_after_a_window(
    corpus: tuple[NabScorer, int],
) -> None:
    scorer, n = corpus
    base = scorer.score(_detect_at(n, 400, 700), STANDARD, 0.5).raw
    near = scorer.score(_detect_at(n, 400, 505, 700), STANDARD, 0.5).raw - base
    far = scorer.score(_detect_at(n, 400, 690, 700), STANDARD, 0.5).raw - base
    assert 0 > near > far >= -STANDARD.fp_weight
    before_any = scorer.score(_detect_at(n, 300, 400, 700), STANDARD, 0.5).raw - base
    assert before_any == pytest.approx(-STANDARD.fp_weight)


def test_detections_in_the_probationary_period_are_ignored(corpus: tuple[NabScorer, int]) -> None:
    scorer, n = corpus
    base = scorer.score(_detect_at(n, 400), STANDARD, 0.5).raw
    assert scorer.score(_detect_at(n, 10, 149, 400), STANDARD, 0.5).raw == base


def test_missed_windows_cost_the_profiles_fn_weight(corpus: tuple[NabScorer, int]) -> None:
    scorer, n = corpus
    assert scorer.score(_detect_at(n, 400), LOW_FN, 0.5).raw == pytest.approx(1.0 - 2.0)


def test_optimiser_finds_the_threshold_that_excludes_false_alarms(
    corpus: tuple[NabScorer, int],
) -> None:
    scorer, n = corpus
    scores = np.zeros(n)
    scores[[400, 700]] = 0.9  # both window starts
    scores[[200, 900, 950]] = 0.6  # false alarms, lower
    best = scorer.optimise({"cat/a.csv": scores}, STANDARD)
    assert (best.threshold, best.tp, best.fp) == (0.9, 2, 0)
    assert best.normalised == pytest.approx(100)
    assert scorer.score({"cat/a.csv": scores}, STANDARD, 0.5).normalised < 100


def test_optimised_score_equals_fixed_score_at_that_threshold(
    corpus: tuple[NabScorer, int],
) -> None:
    scorer, n = corpus
    scores = {"cat/a.csv": np.random.default_rng(3).random(n)}
    best = scorer.optimise(scores, STANDARD)
    assert scorer.score(scores, STANDARD, best.threshold).raw == pytest.approx(best.raw)


def test_window_layout_positions() -> None:
    s = _series("cat/b.csv", 200)
    layout = file_layout(s.timestamps, [_window(s, 100, 109)])
    assert layout.tp_unit[100] == pytest.approx(1.0)
    assert layout.fp_unit[50] == -1.0
    assert layout.window[0] < 0 and layout.window[105] == 0
