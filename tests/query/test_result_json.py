"""Results in Prometheus' HTTP API shape."""

from __future__ import annotations

import math

import pytest

from tests.query.support import TENANT, engine_with, samples
from watchkeeper.query import format_value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.5, "1.5"),
        (2.0, "2"),
        (-0.0, "-0"),
        (1e21, "1000000000000000000000"),
        (1e-7, "0.0000001"),
        (math.nan, "NaN"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
    ],
)
def test_values_are_formatted_like_go_strconv(value: float, text: str) -> None:
    assert format_value(value) == text


def test_vector_scalar_string_and_matrix_shapes() -> None:
    engine = engine_with(samples({"__name__": "up", "job": "a"}, [(0, 1), (15, 2)]))
    assert engine.instant_query(TENANT, "up", 15_500).to_json() == {
        "resultType": "vector",
        "result": [{"metric": {"__name__": "up", "job": "a"}, "value": [15.5, "2"]}],
    }
    assert engine.instant_query(TENANT, "1 + 1", 15_000).to_json() == {
        "resultType": "scalar",
        "result": [15, "2"],
    }
    assert engine.instant_query(TENANT, '"hi"', 15_000).to_json() == {
        "resultType": "string",
        "result": [15, "hi"],
    }
    assert engine.range_query(TENANT, "up * 2", 0, 15_000, 15_000).to_json() == {
        "resultType": "matrix",
        "result": [{"metric": {"job": "a"}, "values": [[0, "2"], [15, "4"]]}],
    }


def test_a_scalar_range_query_is_one_series_without_labels() -> None:
    engine = engine_with(samples({"__name__": "up"}, [(0, 1)]))
    data = engine.range_query(TENANT, "time()", 0, 20_000, 10_000).to_json()
    assert data["result"] == [{"metric": {}, "values": [[0, "0"], [10, "10"], [20, "20"]]}]
