"""The brief's figures as defined in detect/figures.py, on data small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.detect.figures import count_detections, pairwise_scores, share_within
from watchkeeper.detect.nab import NabScorer, NabSeries


def test_share_within_counts_points_inside_ten_percent_of_the_actual() -> None:
    actual = np.array([100.0, 100.0, 100.0, -50.0, 0.0])
    forecast = np.array([110.0, 89.0, 100.0, -54.0, 0.1])
    # within: 110 (exactly +10 %), 100, -54 (8 % of 50); outside: 89, and 0.1 against 0
    assert share_within(actual, forecast) == pytest.approx(3 / 5)


def test_share_within_on_generated_forecasts_matches_the_error_distribution() -> None:
    rng = np.random.default_rng(1)
    actual = rng.uniform(50, 150, 20_000)
    forecast = actual * (1 + rng.uniform(-0.2, 0.2, actual.size))  # relative error U(-20 %, 20 %)
    assert share_within(actual, forecast) == pytest.approx(0.5, abs=0.02)


def test_pairwise_scores_count_same_incident_pairs() -> None:
    truth = {"a": 1, "b": 1, "c": 1, "d": 2, "e": 2, "n": None}
    # a, b together; c split off; d, e merged with noise n
    predicted = {"a": "x", "b": "x", "c": "y", "d": "z", "e": "z", "n": "z"}
    scores = pairwise_scores(truth, predicted)
    # true pairs ab ac bc de (4); predicted ab de dn en (4); agreeing ab de (2)
    assert (scores.true_pairs, scores.predicted_pairs, scores.agreeing_pairs) == (4, 4, 2)
    assert scores.precision == scores.recall == scores.f1 == pytest.approx(0.5)


def test_pairwise_scores_of_a_perfect_grouping_with_unplaced_noise() -> None:
    truth = {"a": 1, "b": 1, "n1": None, "n2": None}
    predicted = {"a": 7, "b": 7, "n1": 8}  # n2 was placed nowhere
    assert pairwise_scores(truth, predicted).f1 == 1.0


def test_detections_are_points_after_probation_and_runs_count_once() -> None:
    n = 1000  # probation: the first 150 rows
    ts = np.datetime64("2024-01-01T00:00:00", "us") + np.arange(n) * np.timedelta64(5, "m")
    series = NabSeries("cat/a.csv", ts, np.zeros(n))
    scorer = NabScorer.from_files({"cat/a.csv": [(ts[400], ts[499])]}, [series])
    layout = scorer.layouts["cat/a.csv"]
    scores = np.zeros(n)
    scores[[10, 11]] = 1.0  # in probation: ignored
    scores[300:303] = 1.0  # a false run of 3 points
    scores[450:452] = 1.0  # a true run of 2 points
    points = count_detections(layout, scores, 0.5)
    runs = count_detections(layout, scores, 0.5, runs=True)
    assert (points.in_window, points.outside) == (2, 3) and points.precision == pytest.approx(0.4)
    assert (runs.in_window, runs.outside) == (1, 1) and runs.false_share == pytest.approx(0.5)
    assert points.window_recall == runs.window_recall == 1.0
