"""PromQL a caller sends is bounded before it reaches the parser (a Rust extension) and while
it runs: length and nesting depth, time parameters, samples in memory, and the deadline.

Before these bounds, `(` * 10000 killed the process inside the parser (a segfault, shown
here in a child process only), depth 1000 answered 500 (RecursionError), `time=1e300`
answered 500, `max_over_time(vector(1)[1y:1s])` took 1.9 GB and `[10y:1ms]` answered 500
(MemoryError).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.support import ADMIN_PASSWORD
from watchkeeper.clock import ManualClock
from watchkeeper.domain.series import SeriesSamples, labels_from_dict
from watchkeeper.query import Engine, QueryError, QueryTimeoutError, TooManySamplesError
from watchkeeper.store.memory import MemoryStore

SRC = Path(__file__).resolve().parents[2] / "src"
TENANT = "t"
NOW_S = 1_700_000_000.0


class TickingClock(ManualClock):
    """A manual clock that, while `tick` is set, moves that much at every read: what a
    query that takes time sees."""

    tick = 0.0

    def time(self) -> float:
        if self.tick:
            self.advance(self.tick)
        return super().time()


@dataclass
class Api:
    client: TestClient
    clock: TickingClock
    headers: dict[str, str]

    def query(self, query: str, **params: str) -> Any:
        return self.client.post(
            "/api/v1/query", data={"query": query, **params}, headers=self.headers
        )

    def query_range(self, query: str, **params: str) -> Any:
        return self.client.get(
            "/api/v1/query_range", params={"query": query, **params}, headers=self.headers
        )


def _start_api(tmp: Path, **query_settings: object) -> Iterator[Api]:
    """A running app on SQLite (PromQL does not touch the metadata database) with `up`."""
    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise

    clock = TickingClock(start=NOW_S)
    result = initialise(
        tmp / "data",
        clock=clock,
        admin_password=ADMIN_PASSWORD,
        database_url=f"sqlite:///{tmp / 'meta.db'}",
    )
    settings = result.settings
    if query_settings:
        query = settings.query.model_copy(update=query_settings)
        settings = settings.model_copy(update={"query": query})
    app = create_app(settings, clock=clock, config_file=result.config_file)
    with TestClient(app) as client:
        # Background workers sleep on the clock; a ticking clock would wake them all.
        client.portal.call(app.state.context.supervisor.stop)  # type: ignore[union-attr]
        login = client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        # `up` every 10 s for the last two hours.
        points = [[NOW_S - 7200 + 10 * i, float(i % 7)] for i in range(721)]
        body = [{"metric": "up", "labels": {"job": "node"}, "samples": points}]
        assert client.post("/api/v1/ingest", json=body, headers=headers).status_code == 200
        yield Api(client, clock, headers)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from _start_api(tmp_path_factory.mktemp("promql"), timeout_seconds=30.0)


def _bad_data(response: Any, limit: str) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "error" and body["errorType"] == "bad_data", body
    assert limit in body["error"], body
    message: str = body["error"]
    return message


# -- 1. length and nesting depth, before the parser ------------------------------------------


def test_the_parser_never_sees_text_that_crashes_it() -> None:
    """The one parse function refuses what segfaulted the Rust parser; run in a child process
    so that, on code without the guard, the crash cannot take pytest with it."""
    child = textwrap.dedent(
        """
        from watchkeeper.query.errors import QueryError
        from watchkeeper.query.syntax import parse
        shapes = [
            "(" * 10000 + "1" + ")" * 10000,
            "+".join(["vector(1)"] * 5000),
            " > bool ".join(["1"] * 5000),
            "-" * 10000 + "1",
            "abs(" * 10000,
            "x[" + "(" * 10000 + "]",
            "x" + "[1m:1m]" * 5000,
            "(" * 10000 + "# )\\n" + ")" * 10000,
        ]
        for text in shapes:
            try:
                parse(text)
                print("parsed")
            except QueryError as exc:
                print("refused:", exc.message)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", child], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"child died with {done.returncode}: {done.stderr[-500:]}"
    lines = done.stdout.splitlines()
    assert len(lines) == 8 and all("query.max_nesting_depth" in line for line in lines), lines


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("(" * 1000 + "1" + ")" * 1000, id="parentheses-1000"),
        pytest.param("+".join(["vector(1)"] * 1000), id="binary-chain-1000"),
        pytest.param(" or ".join(["vector(1)"] * 500), id="or-chain-500"),
        pytest.param("abs(" * 300 + "vector(1)" + ")" * 300, id="calls-300"),
        pytest.param("sum(" * 300 + "up" + ")" * 300, id="aggregations-300"),
        pytest.param("-" * 1000 + "vector(1)", id="unary-1000"),
    ],
)
def test_deep_queries_are_a_400_naming_the_limit(api: Api, query: str) -> None:
    _bad_data(api.query(query), "query.max_nesting_depth")


def test_an_overlong_query_is_a_400_naming_the_limit(api: Api) -> None:
    _bad_data(api.query(" " * 70_000 + "vector(1)"), "query.max_query_length")


def test_rules_refuse_deep_expressions(api: Api) -> None:
    deep = "(" * 1000 + "up" + ")" * 1000
    group = {"rules": [{"alert": "Deep", "expr": deep}]}
    response = api.client.post("/api/v1/rules/groups/deep", json=group, headers=api.headers)
    assert response.status_code == 422, response.text
    assert "query.max_nesting_depth" in response.text


def _at_depth(shape: str, depth: int) -> str:
    """A query of `shape` whose tree is exactly `depth` levels deep."""
    if shape == "parentheses":
        return "(" * depth + "up" + ")" * depth
    if shape == "binary-chain":
        return "+".join(["up"] * (depth + 1))
    if shape == "calls":
        return "abs(" * (depth - 1) + "vector(1)" + ")" * (depth - 1)
    if shape == "timestamps":  # the evaluator's deepest path per level
        return "timestamp(" * (depth - 1) + "vector(1)" + ")" * (depth - 1)
    if shape == "aggregations":
        return "sum(" * depth + "up" + ")" * depth
    if shape == "subqueries":  # three levels each: call, subquery, parentheses
        levels, rest = divmod(depth, 3)
        inner = "(" * rest + "up" + ")" * rest
        for _ in range(levels):
            inner = f"max_over_time(({inner})[1m:30s])"
        return inner
    raise AssertionError(shape)


SHAPES = ["parentheses", "binary-chain", "calls", "timestamps", "aggregations", "subqueries"]


@pytest.mark.parametrize("shape", SHAPES)
def test_queries_at_the_depth_limit_are_answered(api: Api, shape: str) -> None:
    from watchkeeper.query.limits import DEFAULT_MAX_NESTING_DEPTH, nesting_depth

    query = _at_depth(shape, DEFAULT_MAX_NESTING_DEPTH)
    assert nesting_depth(query) == DEFAULT_MAX_NESTING_DEPTH
    response = api.query(query)
    assert response.status_code == 200, response.text[:500]
    _bad_data(api.query(f"-{query}"), "query.max_nesting_depth")


def test_the_highest_configurable_depth_evaluates_without_recursion_error(
    tmp_path: Path,
) -> None:
    from watchkeeper.query.limits import NESTING_DEPTH_CAP, nesting_depth

    for running in _start_api(tmp_path, max_nesting_depth=NESTING_DEPTH_CAP):
        for shape in SHAPES:
            query = _at_depth(shape, NESTING_DEPTH_CAP)
            assert nesting_depth(query) == NESTING_DEPTH_CAP
            response = running.query(query)
            assert response.status_code == 200, (shape, response.text[:300])


def test_the_depth_limit_cannot_be_configured_above_what_is_safe() -> None:
    from pydantic import ValidationError

    from watchkeeper.config import QuerySettings
    from watchkeeper.query.limits import NESTING_DEPTH_CAP, QueryLimits

    with pytest.raises(ValidationError):
        QuerySettings(max_nesting_depth=NESTING_DEPTH_CAP + 1)
    with pytest.raises(ValueError, match="max_nesting_depth"):
        QueryLimits(max_nesting_depth=NESTING_DEPTH_CAP + 1)
    defaults = QuerySettings()
    assert (defaults.max_query_length, defaults.max_nesting_depth) == (
        QueryLimits().max_query_length,
        QueryLimits().max_nesting_depth,
    )


def _tree_depth(node: Any) -> int:
    import promql_parser as pp

    children = [
        child
        for name in ("expr", "lhs", "rhs", "param", "vector_selector")
        if isinstance(child := getattr(node, name, None), pp.Expr)
    ]
    children += list(getattr(node, "args", None) or [])
    return 1 + max(map(_tree_depth, children)) if children else 0


@pytest.mark.parametrize(
    "query",
    [
        "up",
        "((up))",
        'sum by (job) (rate(up{job=~"(a|b)+"}[5m]))',
        "a + b * c - d / e ^ f",
        "x and on(a) y or z unless w",
        "- - up",
        "max_over_time((up + 1)[5m:1m])",
        "min_over_time(rate(up[5m])[1h:])",
        "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))",
        'label_replace(up, "a", "$1", "b", "((((.*))))")',
        "up # a comment ((((\n + up",
        "topk(5, up) > bool 3",
        "a atan2 b AND c",
        "x^y^z^w",
        "clamp(up, 0, 1 + 2 + 3)",
    ],
)
def test_the_depth_estimate_is_never_below_the_parsed_tree(query: str) -> None:
    from watchkeeper.query.limits import nesting_depth
    from watchkeeper.query.syntax import parse

    assert nesting_depth(query) >= _tree_depth(parse(query))


def test_brackets_in_strings_and_comments_do_not_count() -> None:
    from watchkeeper.query.limits import nesting_depth

    assert nesting_depth('up{a="((((((("} # ))))((((((\n') == 0
    assert nesting_depth('label_join(up, `x`, \'(((\', "\\"(((")') == 1


def test_only_the_guarded_function_calls_the_parser() -> None:
    """Every caller goes through query.syntax.parse, which checks the limits first."""
    callers = []
    for path in (SRC / "watchkeeper").rglob("*.py"):
        text = path.read_text()
        if "promql_parser" in text and ".parse(" in text.replace("syntax.parse(", ""):
            for line in text.splitlines():
                if "pp.parse(" in line or "promql_parser.parse(" in line:
                    callers.append(path.relative_to(SRC).as_posix())
    assert callers == ["watchkeeper/query/syntax.py"]


# -- 2. time parameters ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e300", "-1e18", "9.3e15", "-9.3e12"])
def test_instant_query_times_out_of_range_are_a_400(api: Api, value: str) -> None:
    _bad_data(api.query("vector(1)", time=value), "time range")


@pytest.mark.parametrize(
    ("start", "end", "step"),
    [
        ("-1e16", "-1e16", "1"),
        ("1e300", "1e300", "1"),
        ("1e15", "1e15", "1"),
        ("0", "9.3e12", "1e12"),
    ],
)
def test_range_query_times_out_of_range_are_a_400(
    api: Api, start: str, end: str, step: str
) -> None:
    _bad_data(api.query_range("vector(1)", start=start, end=end, step=step), "time range")


@pytest.mark.parametrize("value", ["NaN", "Inf", "-Inf", "1e309"])
def test_non_finite_times_are_a_400(api: Api, value: str) -> None:
    _bad_data(api.query("vector(1)", time=value), "time")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("up offset -200000y", "time range"),
        ("up offset -200000000y", "duration"),
        ("up[200000000y]", "duration"),
        ("max_over_time(up[1h:200000000y])", "duration"),
    ],
)
def test_offsets_and_ranges_cannot_leave_the_time_range(api: Api, query: str, message: str) -> None:
    _bad_data(api.query(query, time="9e12"), message)


def test_friendly_endpoint_refuses_out_of_range_times(api: Api) -> None:
    response = api.client.get(
        "/metrics/query", params={"query": "vector(1)", "time": "1e300"}, headers=api.headers
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("value", ["9e12", "1e300", "-9e12"])
def test_anomaly_listing_refuses_times_beyond_calendar_years(api: Api, value: str) -> None:
    response = api.client.get("/ai/anomalies", params={"start": value}, headers=api.headers)
    assert response.status_code == 400, response.text


# -- 3. samples in memory --------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["max_over_time(vector(1)[1y:1s])", "max_over_time(vector(1)[10y:1ms])"],
)
def test_huge_subqueries_are_refused_naming_the_limit(api: Api, query: str) -> None:
    response = api.query(query)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["errorType"] == "execution"
    assert "too many samples" in body["error"] and "query.max_samples" in body["error"]
    assert "subquery" in body["error"]


def _engine(max_samples: int, clock: ManualClock | None = None, timeout_s: float = 120) -> Engine:
    """An engine over `up` (one sample a second for two hours) and 40 `load` series."""
    store = MemoryStore()
    seconds = np.arange(7200, dtype=np.int64)
    up = SeriesSamples(
        labels_from_dict({"__name__": "up"}), seconds * 1000, (seconds % 13).astype(np.float64)
    )
    load = [
        SeriesSamples(
            labels_from_dict({"__name__": "load", "cpu": str(i)}),
            seconds * 1000,
            seconds.astype(np.float64),
        )
        for i in range(40)
    ]
    store.append(TENANT, [up, *load])
    return Engine(store, max_samples=max_samples, timeout_s=timeout_s, clock=clock)


@pytest.mark.parametrize(
    ("query", "range_query"),
    [
        pytest.param("max_over_time(vector(1)[1d:10ms])", False, id="subquery-steps"),
        pytest.param('count_values("v", vector(time()))', True, id="count_values-groups"),
        pytest.param("quantile_over_time(0.5, up[1h])", True, id="quantile-window-padding"),
    ],
)
def test_the_sample_budget_is_counted_before_allocating(query: str, range_query: bool) -> None:
    engine = _engine(max_samples=1_000_000)
    # The same functions on a small input first: compiling kernels allocates too.
    engine.range_query(TENANT, query.replace("1d:", "1s:"), 3_600_000, 3_609_000, 1000)
    tracemalloc.start()
    try:
        with pytest.raises(TooManySamplesError):
            if range_query:  # 2,000 steps, one a second, over the second hour
                engine.range_query(TENANT, query, 3_600_000, 5_599_000, 1000)
            else:
                engine.instant_query(TENANT, query, 7_200_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A million float64 samples would be 8 MB; refused before any such allocation.
    assert peak < 4_000_000, f"peak {peak:,} bytes before refusing"


def test_samples_in_flight_count_both_operands() -> None:
    """`load + load` holds two 40-series operands and the result at once."""
    engine = _engine(max_samples=1000)
    one_side = 40 * 10  # 40 series x 10 steps
    engine.range_query(TENANT, "load", 0, 9000, 1000)  # 400 samples: fits
    with pytest.raises(TooManySamplesError):
        engine.range_query(TENANT, "load + load", 0, 9000, 1000)  # 3 x 400 in flight
    assert one_side * 3 > 1000


# -- 4. the deadline inside long loops -------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("stddev_over_time(up[1h])", id="window-folds"),
        pytest.param("rate(load[1h])", id="rate-batches"),
        pytest.param("quantile by (cpu) (0.5, load)", id="group-loop"),
    ],
)
def test_the_deadline_is_checked_inside_loops(query: str) -> None:
    """A clock that moves one second per read, a 6-second timeout: a query that only
    checked between nodes would finish (these have two or three nodes)."""
    clock = TickingClock(start=NOW_S)
    engine = _engine(max_samples=50_000_000, clock=clock, timeout_s=6)
    clock.tick = 1.0
    with pytest.raises(QueryTimeoutError):
        engine.range_query(TENANT, query, 3_600_000, 7_199_000, 60_000)


def test_a_timed_out_query_is_a_503_timeout(api: Api) -> None:
    api.clock.tick = 1.0  # 30 s timeout: 30 reads of the clock
    try:
        response = api.query("stddev_over_time(up[2h])", time=str(NOW_S))
    finally:
        api.clock.tick = 0.0
    assert response.status_code == 503, response.text
    assert response.json()["errorType"] == "timeout"


def test_queries_inside_the_bounds_still_work(api: Api) -> None:
    response = api.query("stddev_over_time(up[1h]) + max_over_time(up[5m:1m])", time=str(NOW_S))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["result"]
    with pytest.raises(QueryError):
        _engine(1000).instant_query(TENANT, "(" * 101 + "up" + ")" * 101, 0)


@pytest.mark.parametrize(
    "call",
    [
        "rate(load[10m])",
        "increase(load[10m])",
        "max_over_time(load[10m])",
        "avg_over_time(load[10m])",
        "stddev_over_time(load[10m])",
        "deriv(load[10m])",
        "quantile_over_time(0.3, load[10m])",
        "predict_linear(load[10m], 60)",
        "holt_winters(load[10m], 0.5, 0.5)",
    ],
)
def test_range_functions_in_batches_give_the_same_answer(
    call: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 series x 60 steps x 10-minute windows of one-second samples (1.4 M window
    samples) cut into batches of about 170 k (the block's size): the answer equals the one
    computed in one call."""
    from watchkeeper.query import evaluator

    engine = _engine(max_samples=50_000_000)
    monkeypatch.setattr(evaluator, "_BATCH_WORK", 1000)
    batched = engine.range_query(TENANT, call, 3_600_000, 7_140_000, 60_000).to_json()
    monkeypatch.setattr(evaluator, "_BATCH_WORK", 10**12)
    whole = engine.range_query(TENANT, call, 3_600_000, 7_140_000, 60_000).to_json()
    assert batched == whole and batched["result"]


def test_the_scan_stops_once_the_limit_is_certainly_exceeded() -> None:
    """A hostile nest is refused after its first hundred levels, not after a full pure-Python
    pass over 20,000 characters (which held the GIL and slowed every other request)."""
    from watchkeeper.query.limits import nesting_depth

    deep = "(" * 10000 + "1" + ")" * 10000
    chain = "+".join(["vector(1)"] * 5000)
    assert nesting_depth(deep, stop_above=100) == 101
    assert nesting_depth(chain, stop_above=100) == 101
    assert nesting_depth(deep) == 10000  # without a limit: the whole count
    shallow = "sum by (job) (rate(http_requests_total[5m])) / on (job) count(up)"
    assert nesting_depth(shallow, stop_above=100) == nesting_depth(shallow) <= 100
