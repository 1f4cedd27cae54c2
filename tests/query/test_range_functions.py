"""Range-vector functions on hand-computed series (Prometheus 2.42 semantics)."""

from __future__ import annotations

import math

import pytest

from tests.query.support import engine_with, instant, key, only_value, samples

# A counter scraped every 10 s that resets once: 0 10 20 | 5 15.
COUNTER = samples({"__name__": "c", "job": "a"}, [(0, 0), (10, 10), (20, 20), (30, 5), (40, 15)])
GAUGE = samples({"__name__": "g"}, [(0, 4), (10, 2), (20, 8), (30, 6)])


def test_increase_adds_back_the_value_before_a_reset() -> None:
    engine = engine_with(COUNTER)
    # Window [0, 40] covers every sample: 15 - 0 + 20 = 35, no extrapolation needed.
    assert only_value(engine, "increase(c[40s])", 40) == pytest.approx(35)
    assert only_value(engine, "rate(c[40s])", 40) == pytest.approx(35 / 40)


def test_rate_extrapolates_to_the_window_edges() -> None:
    engine = engine_with(samples({"__name__": "c"}, [(5, 5), (15, 15), (25, 25)]))
    # Window [0, 30]: 20 over 20 s sampled, 5 s to each edge (< 1.1 x 10 s): 20 * 30/20.
    assert only_value(engine, "increase(c[30s])", 30) == pytest.approx(30)


def test_rate_does_not_extrapolate_a_counter_below_zero() -> None:
    engine = engine_with(samples({"__name__": "c"}, [(5, 1), (15, 11), (25, 21)]))
    # Zero is reached 1 s before the first sample, so only 1 s is added at the start.
    assert only_value(engine, "increase(c[30s])", 30) == pytest.approx(20 * 26 / 20)


def test_rate_extrapolates_only_half_an_interval_across_a_long_gap() -> None:
    engine = engine_with(samples({"__name__": "c"}, [(40, 100), (50, 110), (60, 120)]))
    # 40 s to the start edge > 1.1 x 10 s: add 5 s there, nothing at the end.
    assert only_value(engine, "increase(c[60s])", 60) == pytest.approx(20 * 25 / 20)


def test_rate_needs_two_samples_and_drops_the_metric_name() -> None:
    engine = engine_with(COUNTER)
    assert instant(engine, "rate(c[5s])", 40) == {}
    assert set(instant(engine, "rate(c[20s])", 40)) == {key(job="a")}


def test_irate_and_idelta_use_the_last_two_samples() -> None:
    engine = engine_with(COUNTER, GAUGE)
    assert only_value(engine, "irate(c[1m])", 40) == pytest.approx(1.0)
    assert only_value(engine, "irate(c[1m])", 30) == pytest.approx(0.5)  # reset: 5 / 10 s
    assert only_value(engine, "idelta(g[1m])", 30) == pytest.approx(-2)


def test_delta_extrapolates_without_counter_semantics() -> None:
    engine = engine_with(GAUGE)
    assert only_value(engine, "delta(g[30s])", 30) == pytest.approx(2)


def test_deriv_and_predict_linear_fit_a_least_squares_line() -> None:
    engine = engine_with(samples({"__name__": "g"}, [(0, 1), (10, 3), (20, 5)]))
    assert only_value(engine, "deriv(g[20s])", 20) == pytest.approx(0.2)
    assert only_value(engine, "predict_linear(g[20s], 100)", 20) == pytest.approx(25)


def test_over_time_aggregations() -> None:
    engine = engine_with(GAUGE)
    at = 30
    assert only_value(engine, "avg_over_time(g[30s])", at) == pytest.approx(5)
    assert only_value(engine, "sum_over_time(g[30s])", at) == pytest.approx(20)
    assert only_value(engine, "min_over_time(g[30s])", at) == 2
    assert only_value(engine, "max_over_time(g[30s])", at) == 8
    assert only_value(engine, "count_over_time(g[30s])", at) == 4
    assert only_value(engine, "last_over_time(g[30s])", at) == 6
    assert only_value(engine, "stdvar_over_time(g[30s])", at) == pytest.approx(5)
    assert only_value(engine, "stddev_over_time(g[30s])", at) == pytest.approx(math.sqrt(5))
    assert only_value(engine, "quantile_over_time(0.5, g[30s])", at) == pytest.approx(5)
    assert only_value(engine, "quantile_over_time(0.25, g[30s])", at) == pytest.approx(3.5)


def test_changes_and_resets_count_within_the_window() -> None:
    engine = engine_with(COUNTER, GAUGE)
    assert only_value(engine, "changes(g[30s])", 30) == 3
    assert only_value(engine, "resets(c[40s])", 40) == 1
    assert only_value(engine, "resets(c[15s])", 20) == 0


def test_last_over_time_keeps_the_metric_name() -> None:
    engine = engine_with(GAUGE)
    assert set(instant(engine, "last_over_time(g[1m])", 30)) == {key(__name__="g")}


def test_absent_over_time_reports_an_empty_window_with_the_selector_labels() -> None:
    engine = engine_with(GAUGE)
    assert instant(engine, 'absent_over_time(g{x="y"}[1m])', 30) == {key(x="y"): 1.0}
    assert instant(engine, "absent_over_time(g[1m])", 30) == {}
    assert instant(engine, "absent_over_time(g[10s])", 100) == {key(): 1.0}
