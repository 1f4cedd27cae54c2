"""Query errors, typed like Prometheus' HTTP API errors so the API maps them one to one.

Prometheus answers `bad_data` with 400, `execution` with 422, `timeout` with 503 and
`internal` with 500 (web/api/v1/api.go, returnAPIError); `http_status` carries that mapping.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorType(StrEnum):
    BAD_DATA = "bad_data"
    EXECUTION = "execution"
    TIMEOUT = "timeout"
    INTERNAL = "internal"


_HTTP_STATUS = {
    ErrorType.BAD_DATA: 400,
    ErrorType.EXECUTION: 422,
    ErrorType.TIMEOUT: 503,
    ErrorType.INTERNAL: 500,
}


class QueryError(Exception):
    """A query that cannot be answered; `error_type` is Prometheus' `errorType` field."""

    def __init__(self, message: str, error_type: ErrorType = ErrorType.EXECUTION) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self.error_type]


class UnsupportedQueryError(QueryError):
    """Valid PromQL using a construct this engine does not evaluate (answered with 422).

    `construct` names it, e.g. "function holt_winters()" or "count_values aggregation".
    """

    def __init__(self, construct: str) -> None:
        super().__init__(f"unsupported PromQL construct: {construct}", ErrorType.EXECUTION)
        self.construct = construct


class TooManySamplesError(QueryError):
    """The query would hold more samples in memory than the engine's limit."""

    def __init__(self, limit: int, detail: str = "") -> None:
        why = f": {detail}" if detail else ""
        super().__init__(
            "query processing would load too many samples into memory in query execution "
            f"(limit {limit:,}, query.max_samples){why}. Select fewer series, use a shorter "
            "range or a coarser step (subquery step, ?step=)",
            ErrorType.EXECUTION,
        )
        self.limit = limit


class QueryTimeoutError(QueryError):
    """The query ran past its deadline."""

    def __init__(self, where: str) -> None:
        super().__init__(f"query timed out in {where}", ErrorType.TIMEOUT)


def bad_data(message: str) -> QueryError:
    return QueryError(message, ErrorType.BAD_DATA)
