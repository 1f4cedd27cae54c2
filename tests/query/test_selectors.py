"""Instant and range selectors: lookback, staleness, offset, @, range-query steps."""

from __future__ import annotations

import math

from tests.query.support import TENANT, engine_with, instant, key, result_of, samples
from watchkeeper.domain.series import STALE_NAN
from watchkeeper.query import Engine, MatrixResult
from watchkeeper.store.memory import MemoryStore

UP = samples({"__name__": "up", "job": "a"}, [(0, 1), (60, 2), (120, 3)])


def test_instant_selector_takes_the_newest_sample_at_or_before_the_time() -> None:
    engine = engine_with(UP)
    assert instant(engine, "up", 90) == {key(__name__="up", job="a"): 2.0}
    assert instant(engine, "up", 120) == {key(__name__="up", job="a"): 3.0}


def test_a_sample_older_than_the_lookback_delta_is_not_seen() -> None:
    engine = engine_with(UP)
    assert instant(engine, "up", 120 + 300) != {}  # exactly 5 m old: still seen (2.x)
    assert instant(engine, "up", 120 + 300.001) == {}


def test_lookback_delta_is_configurable() -> None:
    engine = engine_with(UP, lookback_delta_ms=30_000)
    assert instant(engine, "up", 100) == {}


def test_a_staleness_marker_ends_the_series_until_the_next_sample() -> None:
    engine = engine_with(samples({"__name__": "up"}, [(0, 1), (10, STALE_NAN), (40, 5)]))
    assert instant(engine, "up", 5) == {key(__name__="up"): 1.0}
    assert instant(engine, "up", 20) == {}
    assert instant(engine, "up", 45) == {key(__name__="up"): 5.0}


def test_a_plain_nan_is_a_value_not_an_absence() -> None:
    engine = engine_with(samples({"__name__": "up"}, [(0, math.nan)]))
    assert math.isnan(instant(engine, "up", 1)[key(__name__="up")])


def test_label_matchers_filter_series() -> None:
    engine = engine_with(
        samples({"__name__": "m", "job": "api"}, [(0, 1)]),
        samples({"__name__": "m", "job": "web"}, [(0, 2)]),
        samples({"__name__": "m", "job": "db"}, [(0, 3)]),
    )
    assert set(instant(engine, 'm{job!="api"}', 1).values()) == {2.0, 3.0}
    assert set(instant(engine, 'm{job=~"a.*|w.*"}', 1).values()) == {1.0, 2.0}
    assert set(instant(engine, 'm{job!~"a.*"}', 1).values()) == {2.0, 3.0}
    assert set(instant(engine, '{__name__="m",job="db"}', 1).values()) == {3.0}


def test_offset_and_at_move_the_time_read() -> None:
    engine = engine_with(UP)
    assert instant(engine, "up offset 1m", 125) == {key(__name__="up", job="a"): 2.0}
    assert instant(engine, "up @ 60", 1000) == {key(__name__="up", job="a"): 2.0}
    assert instant(engine, "up @ 120 offset 2m", 5) == {key(__name__="up", job="a"): 1.0}


def test_a_range_query_evaluates_every_step_and_keeps_the_name() -> None:
    engine = engine_with(UP)
    result = engine.range_query(TENANT, "up", 0, 180_000, 30_000)
    assert isinstance(result, MatrixResult)
    (series,) = result.series
    assert dict(series.labels) == {"__name__": "up", "job": "a"}
    assert series.timestamps.tolist() == [0, 30_000, 60_000, 90_000, 120_000, 150_000, 180_000]
    assert series.values.tolist() == [1, 1, 2, 2, 3, 3, 3]


def test_at_start_and_end_refer_to_the_range_query_bounds() -> None:
    engine = engine_with(UP)
    start = engine.range_query(TENANT, "up @ start()", 60_000, 120_000, 60_000).series[0]
    end = engine.range_query(TENANT, "up @ end()", 60_000, 120_000, 60_000).series[0]
    assert start.values.tolist() == [2, 2]
    assert end.values.tolist() == [3, 3]


def test_an_instant_query_of_a_range_selector_returns_the_raw_samples() -> None:
    engine = engine_with(UP)
    result = result_of(engine, "up[1m]", 120)
    assert isinstance(result, MatrixResult)
    assert result.series[0].timestamps.tolist() == [60_000, 120_000]  # both ends included


def test_a_subquery_samples_its_inner_expression_on_aligned_steps() -> None:
    engine = engine_with(UP)
    result = result_of(engine, "up[2m:30s]", 120)
    assert isinstance(result, MatrixResult)
    assert result.series[0].timestamps.tolist() == [0, 30_000, 60_000, 90_000, 120_000]
    assert result.series[0].values.tolist() == [1, 1, 2, 2, 3]


class _RowsOnly:
    """A MetricStore without `select_columns`: the engine must read it series by series."""

    def __init__(self, inner: MemoryStore) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        if name == "select_columns":
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_row_and_column_reads_give_the_same_answers() -> None:
    store = MemoryStore()
    store.append(
        TENANT,
        [
            UP,
            samples({"__name__": "up", "job": "b"}, [(30, 7), (90, STALE_NAN), (150, 8)]),
            samples({"__name__": "other"}, [(0, 1)]),
        ],
    )
    columns = Engine(store)
    rows = Engine(_RowsOnly(store))  # type: ignore[arg-type]
    for query in ("up", "rate(up[2m])", "sum by (job) (up)", "max_over_time(up[1m:20s])"):
        assert (
            rows.range_query(TENANT, query, 0, 180_000, 20_000).to_json()
            == columns.range_query(TENANT, query, 0, 180_000, 20_000).to_json()
        ), query
