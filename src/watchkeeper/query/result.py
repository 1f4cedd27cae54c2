"""Query results as the HTTP API returns them: vector, matrix, scalar or string.

`to_json()` gives Prometheus' `data` object: `{"resultType": ..., "result": ...}`, with
timestamps in float seconds and values as strings formatted like Go's
`strconv.FormatFloat(v, 'f', -1, 64)` ("1.5", "NaN", "+Inf", "-Inf", never an exponent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from watchkeeper.domain.series import Labels

JSONValue = Any


def format_value(value: float) -> str:
    """A float as Prometheus writes it in JSON: shortest digits, no exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(float(value))
    if "e" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text


def _finish(text: str) -> str:
    """repr() of a float turned into Go's 'f' formatting (the common cases stay cheap)."""
    if text[-2:] == ".0":
        return text[:-2]
    if "e" in text or "n" in text:  # exponent, nan, inf
        return format_value(float(text))
    return text


def format_values(values: npt.NDArray[np.float64]) -> list[str]:
    """format_value over an array, without a Python call per value in the common case."""
    return [_finish(text) for text in map(repr, values.tolist())]


def format_timestamps(timestamps_ms: npt.NDArray[np.int64]) -> list[float | int]:
    """format_timestamp over an array."""
    if not (timestamps_ms % 1000).any():
        return (timestamps_ms // 1000).tolist()  # type: ignore[no-any-return]
    return [format_timestamp(t) for t in timestamps_ms.tolist()]


def format_timestamp(timestamp_ms: int) -> float | int:
    """Seconds since the epoch with millisecond precision, an int when whole."""
    seconds, millis = divmod(timestamp_ms, 1000)
    return seconds if millis == 0 else timestamp_ms / 1000


def _metric(labels: Labels) -> dict[str, str]:
    return dict(labels)


@dataclass(frozen=True)
class VectorSample:
    labels: Labels
    timestamp_ms: int
    value: float


@dataclass(frozen=True)
class VectorResult:
    """An instant vector: one sample per series, all at the evaluation time."""

    samples: list[VectorSample]
    result_type: Literal["vector"] = "vector"

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "resultType": "vector",
            "result": [
                {
                    "metric": _metric(s.labels),
                    "value": [format_timestamp(s.timestamp_ms), format_value(s.value)],
                }
                for s in self.samples
            ],
        }


@dataclass(frozen=True)
class MatrixSeries:
    labels: Labels
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


@dataclass(frozen=True)
class MatrixResult:
    """A range vector (instant query of `x[5m]`) or a range query's answer."""

    series: list[MatrixSeries]
    result_type: Literal["matrix"] = "matrix"

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "resultType": "matrix",
            "result": [
                {
                    "metric": _metric(s.labels),
                    "values": list(
                        map(
                            list,
                            zip(
                                format_timestamps(s.timestamps),
                                format_values(s.values),
                                strict=True,
                            ),
                        )
                    ),
                }
                for s in self.series
            ],
        }


@dataclass(frozen=True)
class ScalarResult:
    timestamp_ms: int
    value: float
    result_type: Literal["scalar"] = "scalar"

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "resultType": "scalar",
            "result": [format_timestamp(self.timestamp_ms), format_value(self.value)],
        }


@dataclass(frozen=True)
class StringResult:
    timestamp_ms: int
    value: str
    result_type: Literal["string"] = "string"

    def to_json(self) -> dict[str, JSONValue]:
        return {"resultType": "string", "result": [format_timestamp(self.timestamp_ms), self.value]}


QueryResult = VectorResult | MatrixResult | ScalarResult | StringResult
