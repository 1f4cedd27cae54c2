"""Instant-vector functions: math, clamp, round, absent, histogram_quantile, label_replace."""

from __future__ import annotations

import math

import pytest

from tests.query.support import TENANT, engine_with, instant, key, only_value, samples
from watchkeeper.domain.series import SeriesSamples
from watchkeeper.query import QueryError, ScalarResult

G = samples({"__name__": "g", "x": "1"}, [(0, -2.5)])


def test_math_functions_drop_the_metric_name() -> None:
    engine = engine_with(G)
    assert instant(engine, "abs(g)", 1) == {key(x="1"): 2.5}
    assert only_value(engine, "ceil(g)", 1) == -2
    assert only_value(engine, "floor(g)", 1) == -3
    assert math.isnan(only_value(engine, "sqrt(g)", 1))


def test_clamp_min_max_and_clamp() -> None:
    engine = engine_with(G)
    assert only_value(engine, "clamp_min(g, 0)", 1) == 0
    assert only_value(engine, "clamp_max(g, -3)", 1) == -3
    assert only_value(engine, "clamp(g, -1, 1)", 1) == -1
    assert instant(engine, "clamp(g, 1, -1)", 1) == {}  # max < min: no output


def test_round_breaks_ties_upwards_and_rounds_to_a_multiple() -> None:
    engine = engine_with(G, samples({"__name__": "h"}, [(0, 7.3)]))
    assert only_value(engine, "round(g)", 1) == -2  # floor(-2.5 + 0.5)
    assert only_value(engine, "round(h, 5)", 1) == 5
    assert only_value(engine, "round(h, 0.5)", 1) == 7.5


def test_absent_labels_come_from_equality_matchers() -> None:
    engine = engine_with(G)
    assert instant(engine, 'absent(nope{job="a", env=~"p.*"})', 1) == {key(job="a"): 1.0}
    assert instant(engine, "absent(g)", 1) == {}


def test_scalar_vector_and_time() -> None:
    engine = engine_with(G)
    result = engine.instant_query(TENANT, "scalar(g) * 2", 1000)
    assert isinstance(result, ScalarResult)
    assert result.value == -5
    assert instant(engine, "vector(time())", 12) == {key(): 12.0}


def _buckets(counts: dict[str, float], **labels: str) -> list[SeriesSamples]:
    return [
        samples({"__name__": "h_bucket", "le": le, **labels}, [(0, count)])
        for le, count in counts.items()
    ]


def test_histogram_quantile_interpolates_inside_the_bucket() -> None:
    engine = engine_with(*_buckets({"1": 10, "2": 20, "+Inf": 20}))
    assert only_value(engine, "histogram_quantile(0.5, h_bucket)", 1) == pytest.approx(1.0)
    assert only_value(engine, "histogram_quantile(0.75, h_bucket)", 1) == pytest.approx(1.5)
    assert only_value(engine, "histogram_quantile(1, h_bucket)", 1) == pytest.approx(2.0)
    assert set(instant(engine, "histogram_quantile(0.5, h_bucket)", 1)) == {key()}


def test_histogram_quantile_in_the_inf_bucket_returns_the_highest_finite_bound() -> None:
    engine = engine_with(*_buckets({"1": 1, "2": 2, "+Inf": 10}))
    assert only_value(engine, "histogram_quantile(0.9, h_bucket)", 1) == 2


def test_histogram_quantile_edge_cases() -> None:
    engine = engine_with(
        *_buckets({"1": 10, "2": 20}, h="no_inf"),
        *_buckets({"+Inf": 5}, h="one_bucket"),
        *_buckets({"1": 0, "+Inf": 0}, h="empty"),
        *_buckets({"1": 5, "2": 3, "+Inf": 8}, h="not_monotonic"),
    )
    got = instant(engine, "histogram_quantile(0.5, h_bucket)", 1)
    assert math.isnan(got[key(h="no_inf")])
    assert math.isnan(got[key(h="one_bucket")])
    assert math.isnan(got[key(h="empty")])
    assert got[key(h="not_monotonic")] == pytest.approx(0.8)  # counts read as 5, 5, 8
    assert only_value(engine, 'histogram_quantile(-1, h_bucket{h="empty"})', 1) == -math.inf


def test_label_replace_uses_go_style_templates() -> None:
    engine = engine_with(samples({"__name__": "up", "instance": "host-7:9100"}, [(0, 1)]))
    got = instant(
        engine, 'label_replace(up, "host", "$1 #${2}", "instance", "(.*)-(\\\\d+):.*")', 1
    )
    assert got == {key(__name__="up", instance="host-7:9100", host="host #7"): 1.0}
    unchanged = instant(engine, 'label_replace(up, "host", "$1", "instance", "nomatch")', 1)
    assert unchanged == {key(__name__="up", instance="host-7:9100"): 1.0}


def test_functions_that_collapse_series_onto_one_label_set_are_an_error() -> None:
    engine = engine_with(samples({"__name__": "a"}, [(0, 1)]), samples({"__name__": "b"}, [(0, 2)]))
    with pytest.raises(QueryError, match="same labelset"):
        engine.instant_query(TENANT, 'abs({__name__=~"a|b"})', 1000)
