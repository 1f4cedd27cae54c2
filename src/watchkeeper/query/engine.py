"""The query engine the HTTP API calls: instant and range PromQL queries over a MetricStore.

Example:
    engine = Engine(store)
    result = engine.range_query("acme", 'sum by (job) (rate(http_requests_total[5m]))',
                                start_ms, end_ms, 15_000)
    body = {"status": "success", "data": result.to_json()}
"""

from __future__ import annotations

import numpy as np
import promql_parser as pp

from watchkeeper.clock import Clock, SystemClock
from watchkeeper.query.budget import applying
from watchkeeper.query.errors import bad_data
from watchkeeper.query.evaluator import EvalSettings, Evaluator
from watchkeeper.query.limits import QueryLimits
from watchkeeper.query.params import MAX_TIME_MS, MIN_TIME_MS
from watchkeeper.query.result import (
    MatrixResult,
    MatrixSeries,
    QueryResult,
    ScalarResult,
    StringResult,
    VectorResult,
    VectorSample,
)
from watchkeeper.query.syntax import parse, unwrap_parens
from watchkeeper.query.values import InstantVector, RangeVector, Scalar, StringValue, Value
from watchkeeper.query.windows import Windows
from watchkeeper.store.base import MetricStore

# Prometheus' API refuses range queries with more points per series than this.
MAX_POINTS_PER_SERIES = 11_000


class Engine:
    """Evaluates PromQL with Prometheus 2.42 semantics (see docs/design/query.md).

    `lookback_delta_ms` is how far back an instant selector looks for a sample;
    `max_samples` bounds the samples one query holds in memory at once, counted before the
    big allocations (Prometheus' --query.max-samples); `timeout_s` is checked at every node
    and inside the loops that grow with the data; `subquery_step_ms` is the step of a
    subquery written without one (Prometheus' global evaluation_interval); `limits` bound
    the query text before it is parsed.
    """

    def __init__(
        self,
        store: MetricStore,
        *,
        lookback_delta_ms: int = 300_000,
        max_samples: int = 50_000_000,
        timeout_s: float = 120.0,
        subquery_step_ms: int = 60_000,
        clock: Clock | None = None,
        limits: QueryLimits | None = None,
    ) -> None:
        self._store = store
        self._lookback_ms = lookback_delta_ms
        self._max_samples = max_samples
        self._timeout_s = timeout_s
        self._subquery_step_ms = subquery_step_ms
        self._clock = clock or SystemClock()
        self._limits = limits or QueryLimits()

    def instant_query(self, tenant_id: str, query: str, time_ms: int) -> QueryResult:
        """Evaluate `query` at one time; raises QueryError (or a subclass) on failure."""
        _check_query_time("time", time_ms)
        root = parse(query, self._limits)
        steps = np.array([time_ms], dtype=np.int64)
        value = self._evaluate(tenant_id, time_ms, time_ms, root, steps)
        if isinstance(value, Scalar):
            return ScalarResult(time_ms, float(value.values[0]))
        if isinstance(value, StringValue):
            return StringResult(time_ms, value.value)
        if isinstance(value, RangeVector):
            return _raw_samples(value)
        return VectorResult(_ordered_samples(root, value, time_ms))

    def range_query(
        self, tenant_id: str, query: str, start_ms: int, end_ms: int, step_ms: int
    ) -> MatrixResult:
        """Evaluate `query` at start, start+step, ... <= end; always a matrix."""
        _check_query_time("start", start_ms)
        _check_query_time("end", end_ms)
        if step_ms <= 0:
            raise bad_data("zero or negative query resolution step widths are not accepted")
        if end_ms < start_ms:
            raise bad_data("end timestamp must not be before start time")
        if (end_ms - start_ms) // step_ms + 1 > MAX_POINTS_PER_SERIES:
            raise bad_data(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
        root = parse(query, self._limits)
        steps = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        value = self._evaluate(tenant_id, start_ms, end_ms, root, steps)
        if isinstance(value, Scalar):
            return MatrixResult([MatrixSeries((), steps, value.values)])
        if not isinstance(value, InstantVector):
            kind = "range vector" if isinstance(value, RangeVector) else "string"
            raise bad_data(
                f'invalid expression type "{kind}" for range query, must be Scalar or instant Vector'
            )
        series = []
        for row in np.argsort(_label_keys(value.labels), kind="stable"):
            present = value.present[row]
            if present.any():
                series.append(
                    MatrixSeries(value.labels[row], steps[present], value.values[row, present])
                )
        return MatrixResult(series)

    def _evaluate(
        self, tenant_id: str, start_ms: int, end_ms: int, root: pp.Expr, steps: np.ndarray
    ) -> Value:
        settings = EvalSettings(
            lookback_ms=self._lookback_ms,
            max_samples=self._max_samples,
            subquery_step_ms=self._subquery_step_ms,
            deadline=self._clock.time() + self._timeout_s,
            clock=self._clock,
        )
        evaluator = Evaluator(self._store, tenant_id, start_ms, end_ms, settings)
        # IEEE results (NaN, ±Inf), as Go computes them.
        with applying(evaluator.budget), np.errstate(all="ignore"):
            return evaluator.eval(root, steps)


def _check_query_time(name: str, ms: int) -> None:
    """Times outside Prometheus' range are refused before they reach int64 arithmetic."""
    if not MIN_TIME_MS <= ms <= MAX_TIME_MS:
        raise bad_data(
            f'invalid parameter "{name}": {ms / 1000:g} is outside the representable time '
            f"range [{MIN_TIME_MS // 1000}, {MAX_TIME_MS // 1000}] (Unix seconds)"
        )


def _label_keys(labels: list[tuple[tuple[str, str], ...]]) -> np.ndarray:
    """Sort keys that order label sets as Prometheus' labels.Compare does."""
    order = sorted(range(len(labels)), key=labels.__getitem__)
    keys = np.empty(len(labels), dtype=np.int64)
    keys[order] = np.arange(len(labels))
    return keys


def _ordered_samples(root: pp.Expr, vector: InstantVector, time_ms: int) -> list[VectorSample]:
    """An instant vector's samples: by label set, or by value for sort()/topk()/bottomk()."""
    rows = [i for i in range(len(vector)) if vector.present[i, 0]]
    samples = [VectorSample(vector.labels[i], time_ms, float(vector.values[i, 0])) for i in rows]
    samples.sort(key=lambda s: s.labels)
    node = unwrap_parens(root)
    descending = None
    if isinstance(node, pp.Call) and node.func.name in ("sort", "sort_desc"):
        descending = node.func.name == "sort_desc"
    elif isinstance(node, pp.AggregateExpr) and str(node.op) in ("topk", "bottomk"):
        descending = str(node.op) == "topk"
    if descending is not None:
        # NaN goes last either way, as in Prometheus' sort functions.
        samples.sort(key=lambda s: (np.isnan(s.value), -s.value if descending else s.value))
    return samples


def _raw_samples(value: RangeVector) -> MatrixResult:
    """An instant query of a range vector: each series' samples inside the window."""
    windows = Windows.of(value)
    block = value.block
    series = []
    for row in np.argsort(_label_keys(block.labels), kind="stable"):
        start, end = int(windows.start[row, 0]), int(windows.end[row, 0])
        if end > start:
            series.append(
                MatrixSeries(
                    block.labels[row],
                    block.timestamps[start:end].copy(),
                    block.values[start:end].copy(),
                )
            )
    return MatrixResult(series)
