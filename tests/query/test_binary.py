"""Binary operators between scalars and vectors, with vector matching."""

from __future__ import annotations

import math

import pytest

from tests.query.support import engine_with, instant, key, only_value, samples
from watchkeeper.query import Engine, QueryError, ScalarResult

REQ = [
    samples({"__name__": "req", "job": "a", "code": "200"}, [(0, 8)]),
    samples({"__name__": "req", "job": "a", "code": "500"}, [(0, 2)]),
    samples({"__name__": "req", "job": "b", "code": "200"}, [(0, 5)]),
]
LIMIT = [
    samples({"__name__": "limit", "job": "a"}, [(0, 4)]),
    samples({"__name__": "limit", "job": "b"}, [(0, 10)]),
]


@pytest.fixture
def engine() -> Engine:
    return engine_with(*REQ, *LIMIT)


def test_scalar_arithmetic_follows_ieee_and_precedence(engine: Engine) -> None:
    result = engine.instant_query("t", "2 ^ 3 ^ 2 - 1 / 0", 1000)
    assert isinstance(result, ScalarResult)
    assert result.value == -math.inf
    remainder = engine.instant_query("t", "-7 % 3", 1000)
    assert isinstance(remainder, ScalarResult)
    assert remainder.value == -1.0


def test_vector_scalar_arithmetic_drops_the_name(engine: Engine) -> None:
    assert instant(engine, "limit * 2", 1) == {key(job="a"): 8.0, key(job="b"): 20.0}


def test_comparison_filters_and_keeps_the_name(engine: Engine) -> None:
    assert instant(engine, "limit > 5", 1) == {key(__name__="limit", job="b"): 10.0}
    assert instant(engine, "5 < limit", 1) == {key(__name__="limit", job="b"): 10.0}


def test_bool_comparison_returns_zero_or_one_without_the_name(engine: Engine) -> None:
    assert instant(engine, "limit > bool 5", 1) == {key(job="a"): 0.0, key(job="b"): 1.0}


def test_one_to_one_matching_drops_ignored_labels_and_keeps_only_on_labels(engine: Engine) -> None:
    assert instant(engine, 'req{code="200"} / ignoring(code) limit', 1) == {
        key(job="a"): 2.0,
        key(job="b"): 0.5,
    }
    assert instant(engine, 'req{code="200"} - on(job) limit', 1) == {
        key(job="a"): 4.0,
        key(job="b"): -5.0,
    }


def test_many_to_one_needs_group_left(engine: Engine) -> None:
    with pytest.raises(QueryError, match="many-to-one matching must be explicit"):
        engine.instant_query("t", "req / on(job) limit", 1000)
    assert instant(engine, "req / on(job) group_left limit", 1) == {
        key(job="a", code="200"): 2.0,
        key(job="a", code="500"): 0.5,
        key(job="b", code="200"): 0.5,
    }


def test_group_left_copies_labels_from_the_one_side() -> None:
    engine = engine_with(
        samples({"__name__": "cpu", "host": "h1"}, [(0, 2)]),
        samples({"__name__": "info", "host": "h1", "team": "x"}, [(0, 1)]),
    )
    assert instant(engine, "cpu * on(host) group_left(team) info", 1) == {
        key(host="h1", team="x"): 2.0
    }


def test_group_right_keeps_the_right_hand_series(engine: Engine) -> None:
    assert set(instant(engine, "limit / on(job) group_right req", 1)) == {
        key(job="a", code="200"),
        key(job="a", code="500"),
        key(job="b", code="200"),
    }


def test_duplicate_series_on_the_one_side_is_an_error(engine: Engine) -> None:
    with pytest.raises(QueryError, match="many-to-many matching not allowed"):
        engine.instant_query("t", "limit / on(job) group_left req", 1000)


def test_set_operators(engine: Engine) -> None:
    assert set(instant(engine, "req and on(job) limit > 5", 1)) == {
        key(__name__="req", job="b", code="200")
    }
    assert set(instant(engine, "req unless on(job) limit > 5", 1)) == {
        key(__name__="req", job="a", code="200"),
        key(__name__="req", job="a", code="500"),
    }
    assert len(instant(engine, 'limit or req{code="500"}', 1)) == 3


def test_atan2_keeps_the_name(engine: Engine) -> None:
    assert only_value(engine, 'limit{job="a"} atan2 limit{job="a"}', 1) == pytest.approx(
        math.pi / 4
    )
