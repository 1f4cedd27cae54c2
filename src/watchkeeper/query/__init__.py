"""PromQL evaluation over a MetricStore, vectorised over all series and all steps."""

from watchkeeper.query.engine import Engine
from watchkeeper.query.errors import (
    ErrorType,
    QueryError,
    QueryTimeoutError,
    TooManySamplesError,
    UnsupportedQueryError,
)
from watchkeeper.query.result import (
    MatrixResult,
    MatrixSeries,
    QueryResult,
    ScalarResult,
    StringResult,
    VectorResult,
    VectorSample,
    format_value,
)

__all__ = [
    "Engine",
    "ErrorType",
    "MatrixResult",
    "MatrixSeries",
    "QueryError",
    "QueryResult",
    "QueryTimeoutError",
    "ScalarResult",
    "StringResult",
    "TooManySamplesError",
    "UnsupportedQueryError",
    "VectorResult",
    "VectorSample",
    "format_value",
]
