"""Error paths: syntax errors, unsupported constructs, limits, timeouts, bad ranges."""

from __future__ import annotations

import pytest

from tests.query.support import TENANT, engine_with, samples
from watchkeeper.clock import ManualClock
from watchkeeper.query import (
    Engine,
    ErrorType,
    QueryError,
    QueryTimeoutError,
    TooManySamplesError,
    UnsupportedQueryError,
)
from watchkeeper.store.memory import MemoryStore

UP = samples({"__name__": "up"}, [(t, 1) for t in range(0, 600, 15)])


@pytest.mark.parametrize(
    "query", ["sum(", "up{", "rate(up)", "nosuchfunc(up)", "1 > 2", "up[5m] + 1"]
)
def test_a_syntax_error_is_bad_data(query: str) -> None:
    with pytest.raises(QueryError) as caught:
        engine_with(UP).instant_query(TENANT, query, 0)
    assert caught.value.error_type is ErrorType.BAD_DATA
    assert caught.value.http_status == 400


@pytest.mark.parametrize(
    ("query", "construct"),
    [
        (
            "double_exponential_smoothing(up[5m], 0.5, 0.5)",
            "function double_exponential_smoothing()",
        ),
        ('sort_by_label(up, "job")', "function sort_by_label()"),
        ("up + fill(0) up", "fill() vector matching modifier"),
        ('{__name__="up" or job="x"}', "'or' inside selector braces"),
    ],
)
def test_an_unsupported_construct_is_named_and_maps_to_422(query: str, construct: str) -> None:
    with pytest.raises(UnsupportedQueryError) as caught:
        engine_with(UP).instant_query(TENANT, query, 60_000)
    assert caught.value.construct == construct
    assert caught.value.http_status == 422
    assert construct in caught.value.message


def test_too_many_samples_is_an_execution_error() -> None:
    engine = engine_with(UP, max_samples=10)
    with pytest.raises(TooManySamplesError) as caught:
        engine.instant_query(TENANT, "up[10m]", 600_000)
    assert caught.value.error_type is ErrorType.EXECUTION


class _TickingClock(ManualClock):
    """A clock that moves one second each time it is read, as a slow query would see."""

    def time(self) -> float:
        self.advance(1.0)
        return super().time()


def test_a_query_past_its_deadline_times_out() -> None:
    store = MemoryStore()
    store.append(TENANT, [UP])
    engine = Engine(store, timeout_s=2.5, clock=_TickingClock())
    with pytest.raises(QueryTimeoutError) as caught:
        engine.instant_query(TENANT, "sum(rate(up[1m])) + sum(up)", 600_000)
    assert caught.value.http_status == 503


@pytest.mark.parametrize(
    ("start", "end", "step", "message"),
    [
        (0, 100_000, 0, "zero or negative"),
        (100_000, 0, 1_000, "end timestamp"),
        (0, 86_400_000, 1, "11,000 points"),
    ],
)
def test_bad_range_parameters_are_bad_data(start: int, end: int, step: int, message: str) -> None:
    with pytest.raises(QueryError, match=message) as caught:
        engine_with(UP).range_query(TENANT, "up", start, end, step)
    assert caught.value.error_type is ErrorType.BAD_DATA


@pytest.mark.parametrize("query", ["up[5m]", '"text"'])
def test_a_range_query_must_yield_a_vector_or_scalar(query: str) -> None:
    with pytest.raises(QueryError, match="invalid expression type") as caught:
        engine_with(UP).range_query(TENANT, query, 0, 60_000, 15_000)
    assert caught.value.error_type is ErrorType.BAD_DATA


def test_many_to_many_matching_is_an_execution_error() -> None:
    engine = engine_with(
        samples({"__name__": "a", "job": "x", "i": "1"}, [(0, 1)]),
        samples({"__name__": "a", "job": "x", "i": "2"}, [(0, 1)]),
    )
    with pytest.raises(QueryError) as caught:
        engine.instant_query(TENANT, "a + on(job) a", 1000)
    assert caught.value.error_type is ErrorType.EXECUTION
