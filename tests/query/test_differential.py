"""The engine against a real Prometheus 2.x on the same generated series.

A few hundred hand-written and generated queries over the supported subset, each evaluated
as instant queries at several times (inside the data, at a gap, after the data ends) and as
range queries; answers must carry the same series and labels and values within 1e-9
relative (NaN equals NaN). Prometheus is started once for the module.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from tests.query.conftest import TENANT, PrometheusServer
from tests.query.generated_series import SPAN_MS, T0_MS
from watchkeeper.query import Engine, QueryError, QueryResult
from watchkeeper.store.memory import MemoryStore

pytestmark = pytest.mark.services

INSTANT_TIMES_MS = [
    T0_MS + 200_000,
    T0_MS + 1_234_567,
    T0_MS + 2_700_000,
    T0_MS + SPAN_MS + 150_000,  # after the data ends, inside the lookback window
]
RANGES_MS = [
    (T0_MS + 300_000, T0_MS + SPAN_MS + 400_000, 60_000),
    (T0_MS + 1_000_000, T0_MS + 1_600_000, 17_000),
]
AT_S = (T0_MS + 1_800_000) // 1000

COUNTER = "http_requests_total"
GAUGE = "temperature_celsius"
SELECTORS = [
    COUNTER,
    f'{COUNTER}{{job="api"}}',
    f'{COUNTER}{{method!="GET"}}',
    f'{COUNTER}{{instance=~"a.*|c.*"}}',
    f'{COUNTER}{{instance!~"b.*",job="web"}}',
]
RANGES = ["1m", "5m", "10m"]

HAND_WRITTEN = [
    GAUGE,
    "up",
    "batch_job_progress",
    f"{GAUGE} offset 5m",
    f"{GAUGE} offset -2m",
    f"{GAUGE} @ {AT_S}",
    f"rate({COUNTER}[5m] @ {AT_S})",
    f"{GAUGE} @ start()",
    f"{GAUGE} @ end()",
    f"{GAUGE}[2m]",
    f"{COUNTER}[1m] offset 10m",
    "nonexistent_metric",
    "1",
    "-2.5 * 4",
    "2 ^ 3 ^ 2",
    "7 % 3",
    "1 / 0",
    "-1 / 0",
    "0 / 0",
    "1 > bool 2",
    "3 >= bool 3",
    "time()",
    "pi()",
    "vector(7)",
    f"scalar({GAUGE}{{job='api',instance='a:80'}})",
    f"scalar({GAUGE})",
    f"-{GAUGE}",
    f"abs({GAUGE})",
    f"ceil({GAUGE})",
    f"floor({GAUGE})",
    f"sqrt(abs({GAUGE}))",
    f"exp({GAUGE} / 10)",
    f"ln(abs({GAUGE}))",
    f"log2(abs({GAUGE}))",
    f"log10(abs({GAUGE}))",
    f"sgn({GAUGE})",
    f"clamp_min({GAUGE}, 0)",
    f"clamp_max({GAUGE}, 10)",
    f"clamp({GAUGE}, -5, 5)",
    f"clamp({GAUGE}, 5, -5)",
    f"round({GAUGE})",
    f"round({GAUGE}, 0.5)",
    f"round({GAUGE}, 3)",
    f"timestamp({GAUGE})",
    f"timestamp(abs({GAUGE}))",
    f"absent({GAUGE})",
    'absent(nonexistent{job="api",instance=~"a.*"})',
    'absent(nonexistent{job="api",job="web"})',
    f"absent_over_time({GAUGE}[5m])",
    'absent_over_time(nonexistent{job="x"}[5m])',
    "absent_over_time(batch_job_progress[5m])",
    f"{GAUGE} > 10",
    f"{GAUGE} > bool 10",
    f"10 < {GAUGE}",
    f"10 < bool {GAUGE}",
    f"{GAUGE} == {GAUGE}",
    f"{GAUGE} != bool {GAUGE}",
    f"{GAUGE} - {GAUGE} offset 5m",
    f"{GAUGE} / on(job, instance) up",
    f"{GAUGE} * ignoring(__name__) up",
    f"{GAUGE} > on(job, instance) up",
    f"{GAUGE} > bool on(job, instance) up",
    f"up * on(job, instance) group_left {GAUGE}",
    f"{GAUGE} + on(job) group_left sum by (job) ({GAUGE})",
    f"sum by (job) ({GAUGE}) - on(job) group_right {GAUGE}",
    f"{COUNTER} / on(job, instance) group_left(missing) up",
    f"rate({COUNTER}[5m]) / on(job, instance) group_left {GAUGE}",
    f"{COUNTER} * on(job) group_left(instance) max by (job, instance) (up)",
    f"{GAUGE} and up == 1",
    f"{GAUGE} and on(job) up == 0",
    f"{GAUGE} unless up == 0",
    f"{GAUGE} unless on(instance) up == 0",
    f"{GAUGE} or up",
    f"{GAUGE} > 20 or {GAUGE} < 0",
    f"up == 0 or on(job) {GAUGE}",
    f"{GAUGE} atan2 up",
    f"sum({COUNTER})",
    f"sum({COUNTER}) by (job, method)",
    f"max without (method) ({COUNTER})",
    f"topk(3, {GAUGE})",
    f"bottomk(2, {GAUGE})",
    f"topk by (job) (1, {GAUGE})",
    f"bottomk without (instance) (2, {GAUGE})",
    f"topk(0, {GAUGE})",
    f"topk(100, {GAUGE})",
    f"quantile(0.3, {GAUGE})",
    f"quantile by (job) (0.75, {GAUGE})",
    f"quantile(0, {GAUGE})",
    f"quantile(1, {GAUGE})",
    f"quantile(1.5, {GAUGE})",
    f"quantile(-1, {GAUGE})",
    f"count by (job) ({GAUGE} > 5)",
    f"group by (job) ({GAUGE})",
    f"stddev({GAUGE})",
    f"stdvar by (instance) ({GAUGE})",
    f"sum by (job) (rate({COUNTER}[5m]))",
    f"sum by (job) (increase({COUNTER}[10m]))",
    f"avg by (method) (irate({COUNTER}[2m]))",
    "histogram_quantile(0.9, rate(request_duration_seconds_bucket[5m]))",
    "histogram_quantile(0.5, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.99, sum by (le, job) (rate(request_duration_seconds_bucket[10m])))",
    "histogram_quantile(0, sum by (le) (request_duration_seconds_bucket))",
    "histogram_quantile(1, sum by (le) (request_duration_seconds_bucket))",
    "histogram_quantile(1.2, request_duration_seconds_bucket)",
    'histogram_quantile(0.5, request_duration_seconds_bucket{le!="+Inf"})',
    'histogram_quantile(0.5, request_duration_seconds_bucket{le=~"0.05|\\\\+Inf"})',
    "histogram_quantile(0.75, request_duration_seconds_bucket offset 10m)",
    "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
    f"max_over_time(rate({COUNTER}[1m])[10m:1m])",
    f"avg_over_time({GAUGE}[15m:30s])",
    f"min_over_time({GAUGE}[7m:])",
    f"rate({COUNTER}[5m:30s])",
    f"sum_over_time(sum by (job) ({GAUGE})[10m:2m] offset 3m)",
    f"max_over_time({GAUGE}[10m:1m] @ {AT_S})",
    f"{GAUGE}[5m:1m]",
    f'label_replace({GAUGE}, "host", "$1", "instance", "(.*):80")',
    f'label_replace({GAUGE}, "job", "", "job", "api")',
    f'label_replace({GAUGE}, "x", "${{1}}-$2", "instance", "(a|b):(.*)")',
    f"sort({GAUGE})",
    f"sort_desc({GAUGE})",
    f"predict_linear({GAUGE}[10m], 600)",
    f"predict_linear({GAUGE}[5m] offset 5m, -300)",
    f"quantile_over_time(0.9, {GAUGE}[10m])",
    f"quantile_over_time(0, {GAUGE}[3m])",
    f"quantile_over_time(2, {GAUGE}[3m])",
    "last_over_time(batch_job_progress[10m])",
    "changes(up[10m])",
    f"resets({COUNTER}[30m])",
    "count_over_time(up[2m])",
    "present_over_time(batch_job_progress[3m])",
    "deriv(up[5m])",
    "stddev_over_time(up[5m])",
    f"sum(rate({COUNTER}[5m])) / sum(rate({COUNTER}[5m] offset 10m))",
    "1 - avg by (job) (up)",
    f"sum by (job) ({GAUGE}) > bool 20",
    f"({GAUGE} + 1) * 2 - {GAUGE}",
    f"{GAUGE} or {GAUGE}",
    f"rate({COUNTER}[5m]) or rate({COUNTER}[5m] offset 1m)",
    "absent(up)",
    # Queries Prometheus refuses at run time: the engine must refuse them the same way.
    '{__name__=~"temperature_celsius|up"} + 1',
    'rate({__name__=~"temperature_celsius|up"}[5m])',
    '-{__name__=~"temperature_celsius|up"}',
    f"{GAUGE} + on(job) up",
    f"{GAUGE} + on(job) group_left up",
    f"up + on(job, instance) group_right {GAUGE}",
    f"{GAUGE}[5m] offset 1m",
    f'label_join({GAUGE}, "both", "/", "job", "instance")',
    f'label_join({GAUGE}, "job", "", "nonexistent")',
    'count_values("v", up)',
    'count_values by (job) ("v", up)',
    'count_values without (instance) ("up", up)',
    f'count_values("v", round({GAUGE}))',
    f"holt_winters({GAUGE}[10m], 0.5, 0.5)",
    f"holt_winters({GAUGE}[5m], 0.1, 0.9)",
    f"holt_winters({GAUGE}[5m], 1, 0.5)",
    "year()",
    "month()",
    "day_of_month()",
    "day_of_week()",
    "days_in_month()",
    "hour()",
    "minute()",
    f"hour({GAUGE} * 3600)",
    f"day_of_week(timestamp({GAUGE}))",
    "days_in_month(vector(1709251200))",
]
ODD = "odd_gauge"
HAND_WRITTEN += [
    ODD,
    f"{ODD} * 2",
    f"{ODD} > 0",
    f"{ODD} == bool {ODD}",
    f"sort({ODD})",
    f"sort_desc({ODD})",
    f"topk(2, {ODD})",
    f"bottomk(2, {ODD})",
    f"quantile(0.5, {ODD})",
    f"clamp({ODD}, -1, 1)",
    f"round({ODD})",
    f"abs({ODD})",
    f"sgn({ODD})",
    f"timestamp({ODD})",
    f"{ODD} % 3",
    f"{ODD} ^ 2",
    f"2 ^ {ODD}",
    f"{ODD} / {ODD}",
    f"{ODD} atan2 {ODD} offset 1m",
    f'histogram_quantile(0.5, label_replace({ODD}, "le", "$1", "instance", "(a|b)"))',
]
for _func in ("sum", "avg", "min", "max", "count", "stddev", "stdvar"):
    HAND_WRITTEN.append(f"{_func}({ODD})")
    HAND_WRITTEN.append(
        f"{_func}_over_time({ODD}[3m])" if _func != "stdvar" else f"stdvar_over_time({ODD}[3m])"
    )
for _func in (
    "rate",
    "irate",
    "delta",
    "deriv",
    "changes",
    "resets",
    "last_over_time",
    "quantile_over_time",
):
    arg = f"{ODD}[5m]" if _func != "quantile_over_time" else f"0.5, {ODD}[5m]"
    HAND_WRITTEN.append(f"{_func}({arg})")
HAND_WRITTEN.append(f"predict_linear({ODD}[5m], 60)")


def _generated() -> list[str]:
    queries = []
    for selector, window in itertools.product(SELECTORS, RANGES):
        for func in ("rate", "irate", "increase", "delta", "idelta", "resets", "changes"):
            queries.append(f"{func}({selector}[{window}])")
    for func in (
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "sum_over_time",
        "count_over_time",
        "last_over_time",
        "stddev_over_time",
        "stdvar_over_time",
        "deriv",
        "present_over_time",
    ):
        for window in ("1m", "5m", "10m"):
            queries.append(f"{func}({GAUGE}[{window}])")
        queries.append(f"{func}({GAUGE}[5m] offset 10m)")
    for agg in ("sum", "avg", "min", "max", "count", "stddev", "stdvar", "group"):
        queries.append(f"{agg}({GAUGE})")
        queries.append(f"{agg} by (job) ({GAUGE})")
        queries.append(f"{agg} without (instance) (rate({COUNTER}[5m]))")
    for op in ("+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<="):
        queries.append(f"{GAUGE} {op} 3")
        queries.append(f"3 {op} {GAUGE}")
        queries.append(f"{GAUGE} {op} on(job, instance) up")
        if op in ("==", "!=", ">", "<", ">=", "<="):
            queries.append(f"{GAUGE} {op} bool 3")
            queries.append(f"{GAUGE} {op} bool ignoring(__name__) {GAUGE} offset 1m")
        else:
            queries.append(f"{GAUGE} {op} {GAUGE} offset 1m")
    return queries


QUERIES = HAND_WRITTEN + _generated()


def _number(text: str) -> float:
    return float(text.replace("Inf", "inf"))


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _normalise(data: dict[str, Any]) -> tuple[str, Any]:
    kind = data["resultType"]
    result = data["result"]
    if kind in ("scalar", "string"):
        return kind, (float(result[0]), result[1])
    if kind == "vector":
        return kind, {frozenset(r["metric"].items()): [r["value"]] for r in result}
    return kind, {frozenset(r["metric"].items()): r["values"] for r in result}


def _compare(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    kind, mine = _normalise(ours)
    their_kind, prom = _normalise(theirs)
    assert kind == their_kind
    if kind == "string":
        assert mine == prom
        return
    if kind == "scalar":
        assert mine[0] == prom[0] and _same(_number(mine[1]), _number(prom[1])), (mine, prom)
        return
    assert set(mine) == set(prom), set(mine) ^ set(prom)
    for labels, points in prom.items():
        got = mine[labels]
        assert [float(t) for t, _ in got] == [float(t) for t, _ in points], labels
        bad = [
            (t, v, w)
            for (t, v), (_, w) in zip(points, got, strict=True)
            if not _same(_number(v), _number(w))
        ]
        assert not bad, f"{dict(labels)}: (t, prometheus, ours) {bad[:5]}"


def _check(
    prometheus: PrometheusServer,
    ours: Callable[[], QueryResult],
    path: str,
    params: dict[str, str],
) -> None:
    """Same answer as Prometheus, or the same kind of error."""
    theirs = prometheus.query(path, params)
    if theirs["status"] != "success":
        with pytest.raises(QueryError) as caught:
            ours()
        assert caught.value.error_type.value == theirs["errorType"], theirs["error"]
        return
    _compare(ours().to_json(), theirs["data"])


@pytest.mark.parametrize("query", QUERIES)
def test_same_answer_as_prometheus(
    query: str, prometheus: PrometheusServer, loaded_store: MemoryStore
) -> None:
    engine = Engine(loaded_store)
    for at in INSTANT_TIMES_MS:
        _check(
            prometheus,
            partial(engine.instant_query, TENANT, query, at),
            "/api/v1/query",
            {"query": query, "time": f"{at / 1000:.3f}"},
        )
    for start, end, step in RANGES_MS:
        _check(
            prometheus,
            partial(engine.range_query, TENANT, query, start, end, step),
            "/api/v1/query_range",
            {
                "query": query,
                "start": f"{start / 1000:.3f}",
                "end": f"{end / 1000:.3f}",
                "step": f"{step / 1000}",
            },
        )


def test_enough_queries_are_compared() -> None:
    assert len(QUERIES) >= 300
