"""Aggregation operators with by/without on four hand-written series."""

from __future__ import annotations

import math

import pytest

from tests.query.support import TENANT, engine_with, instant, key, only_value, result_of, samples
from watchkeeper.query import Engine, VectorResult

SERIES = [
    samples({"__name__": "m", "job": "a", "i": "1"}, [(0, 1)]),
    samples({"__name__": "m", "job": "a", "i": "2"}, [(0, 3)]),
    samples({"__name__": "m", "job": "b", "i": "3"}, [(0, 10)]),
    samples({"__name__": "m", "job": "b", "i": "4"}, [(0, 20)]),
]


@pytest.fixture
def engine() -> Engine:
    return engine_with(*SERIES)


def test_sum_by_groups_and_keeps_only_the_grouping_labels(engine: Engine) -> None:
    assert instant(engine, "sum by (job) (m)", 1) == {key(job="a"): 4.0, key(job="b"): 30.0}


def test_without_drops_the_listed_labels_and_the_name(engine: Engine) -> None:
    assert instant(engine, "max without (i) (m)", 1) == {key(job="a"): 3.0, key(job="b"): 20.0}


def test_simple_aggregations(engine: Engine) -> None:
    assert only_value(engine, "sum(m)", 1) == 34
    assert only_value(engine, "avg(m)", 1) == 8.5
    assert only_value(engine, "min(m)", 1) == 1
    assert only_value(engine, "max(m)", 1) == 20
    assert only_value(engine, "count(m)", 1) == 4
    assert only_value(engine, "group(m)", 1) == 1


def test_stddev_and_stdvar_use_the_population_formula(engine: Engine) -> None:
    variance = sum((v - 8.5) ** 2 for v in (1, 3, 10, 20)) / 4
    assert only_value(engine, "stdvar(m)", 1) == pytest.approx(variance)
    assert only_value(engine, "stddev(m)", 1) == pytest.approx(math.sqrt(variance))
    assert instant(engine, "stddev by (job) (m)", 1) == {key(job="a"): 1.0, key(job="b"): 5.0}


def test_quantile_interpolates_between_ranks(engine: Engine) -> None:
    assert only_value(engine, "quantile(0.5, m)", 1) == pytest.approx(6.5)
    assert only_value(engine, "quantile(0.9, m)", 1) == pytest.approx(17)
    assert only_value(engine, "quantile(2, m)", 1) == math.inf


def test_topk_and_bottomk_keep_whole_series_sorted_by_value(engine: Engine) -> None:
    top = result_of(engine, "topk(2, m)", 1)
    assert isinstance(top, VectorResult)
    assert [s.value for s in top.samples] == [20.0, 10.0]
    assert dict(top.samples[0].labels)["__name__"] == "m"
    assert set(instant(engine, "bottomk by (job) (1, m)", 1).values()) == {1.0, 10.0}


def test_topk_follows_the_ranking_at_each_step() -> None:
    engine = engine_with(
        samples({"__name__": "m", "i": "1"}, [(0, 1), (60, 5)]),
        samples({"__name__": "m", "i": "2"}, [(0, 2), (60, 4)]),
    )
    result = engine.range_query(TENANT, "topk(1, m)", 0, 60_000, 60_000)
    assert {dict(s.labels)["i"]: s.timestamps.tolist() for s in result.series} == {
        "1": [60_000],
        "2": [0],
    }
