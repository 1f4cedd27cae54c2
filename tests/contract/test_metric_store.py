"""One behavioural suite for every registered MetricStore (`store.registry.STORE_BACKENDS`).

Behaviour a remote TSDB decides for itself is declared per backend in `StoreCapabilities` and
tested only where the backend promises it. Remote backends run against a local VictoriaMetrics.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from tests.support import missing
from watchkeeper.domain.series import (
    STALE_NAN_BITS,
    Labels,
    Matcher,
    MatchOp,
    SeriesSamples,
    labels_from_dict,
)
from watchkeeper.store.base import CardinalityLimitError, MetricStore
from watchkeeper.store.registry import STORE_BACKENDS, StoreCapabilities, StoreOptions
from watchkeeper.store.remote.victoria import DEFAULT_BINARY, LocalVictoriaMetrics

# Remote TSDBs refuse samples far from now, so every test writes around the current time.
NOW_MS = (int(time.time()) - 3600) * 1000

BACKENDS = sorted(STORE_BACKENDS)


@dataclass
class Subject:
    """A store under test, a way to build another with a series limit, and what it promises."""

    store: MetricStore
    make_limited: Callable[[int], MetricStore]
    can: StoreCapabilities
    settle: Callable[[], None] = lambda: None  # make acknowledged writes searchable


@pytest.fixture(scope="module")
def victoria() -> Iterator[LocalVictoriaMetrics]:
    if not os.path.exists(DEFAULT_BINARY):
        missing(f"{DEFAULT_BINARY} is not installed")
    with LocalVictoriaMetrics() as vm:
        yield vm


_counter = iter(range(1_000_000))


@pytest.fixture(params=BACKENDS)
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    backend = STORE_BACKENDS[request.param]
    # A small head makes the embedded store cut blocks, so reads cross blocks and the head.
    options = StoreOptions(path=tmp_path / "store", head_max_samples=50)
    vm: LocalVictoriaMetrics | None = None
    if backend.remote:
        vm = request.getfixturevalue("victoria")
        # A fresh tenant label value per test keeps tests apart on one server.
        label = f"wk_test_{next(_counter)}"
        options = replace(options, remote_url=vm.url, remote_tenant_label=label)

    def make_limited(limit: int) -> MetricStore:
        limited = replace(options, path=tmp_path / "limited", max_series_per_tenant=limit)
        return backend.build(limited)

    subject = Subject(backend.build(options), make_limited, backend.can)
    if vm is not None:
        subject.settle = vm.flush
    yield subject
    subject.store.close()


def backends_with(capability: str) -> pytest.MarkDecorator:
    """Run the test on the backends that own `capability` (a remote TSDB applies its own)."""
    names = [name for name in BACKENDS if getattr(STORE_BACKENDS[name].can, capability)]
    return pytest.mark.parametrize("subject", names, indirect=True)


def series(labels: dict[str, str], offsets_s: list[int], values: list[float]) -> SeriesSamples:
    return SeriesSamples(
        labels_from_dict(labels),
        NOW_MS + 1000 * np.asarray(offsets_s, dtype=np.int64),
        np.asarray(values, dtype=np.float64),
    )


def by_labels(result: list[SeriesSamples]) -> dict[Labels, tuple[list[int], list[float]]]:
    return {s.labels: ([int(t) - NOW_MS for t in s.timestamps], s.values.tolist()) for s in result}


EQ, NE, RE, NRE = MatchOp.EQUAL, MatchOp.NOT_EQUAL, MatchOp.REGEX, MatchOp.NOT_REGEX
UP = {"__name__": "up", "job": "api", "instance": "a:1"}
UP_B = {"__name__": "up", "job": "api", "instance": "b:1", "zone": "eu"}
LOAD = {"__name__": "node_load1", "job": "node", "instance": "a:1"}


def _write_three(subject: Subject) -> None:
    result = subject.store.append(
        "t1",
        [
            series(UP, [0, 15, 30], [1, 1, 0]),
            series(UP_B, [0, 15], [1, 0]),
            series(LOAD, [5], [0.25]),
        ],
    )
    assert result.appended == 6
    subject.settle()


def test_select_returns_what_was_appended(subject: Subject) -> None:
    _write_three(subject)
    got = by_labels(
        subject.store.select("t1", [Matcher("job", EQ, "api")], NOW_MS, NOW_MS + 60_000)
    )
    assert got == {
        labels_from_dict(UP): ([0, 15_000, 30_000], [1.0, 1.0, 0.0]),
        labels_from_dict(UP_B): ([0, 15_000], [1.0, 0.0]),
    }


@pytest.mark.parametrize(
    ("matcher", "instances"),
    [
        (Matcher("instance", NE, "a:1"), {"b:1"}),
        (Matcher("instance", RE, "a:.*|b:1"), {"a:1", "b:1"}),
        (Matcher("instance", NRE, "a.*"), {"b:1"}),
        (Matcher("zone", EQ, ""), {"a:1"}),  # a missing label has the empty value
        (Matcher("zone", NE, "eu"), {"a:1"}),
    ],
)
def test_matchers_follow_prometheus(
    subject: Subject, matcher: Matcher, instances: set[str]
) -> None:
    _write_three(subject)
    result = subject.store.select(
        "t1", [Matcher("__name__", EQ, "up"), matcher], NOW_MS, NOW_MS + 60_000
    )
    assert {dict(s.labels)["instance"] for s in result} == instances


def test_time_window_is_inclusive_at_both_ends(subject: Subject) -> None:
    _write_three(subject)
    result = subject.store.select(
        "t1",
        [Matcher("__name__", EQ, "up"), Matcher("instance", EQ, "a:1")],
        NOW_MS + 15_000,
        NOW_MS + 30_000,
    )
    assert by_labels(result) == {labels_from_dict(UP): ([15_000, 30_000], [1.0, 0.0])}


def test_tenants_do_not_see_each_other(subject: Subject) -> None:
    _write_three(subject)
    assert subject.store.select("t2", [Matcher("job", EQ, "api")], NOW_MS, NOW_MS + 60_000) == []
    assert subject.store.series_count("t2") == 0
    assert subject.store.series_count("t1") == 3


def test_series_and_label_metadata(subject: Subject) -> None:
    _write_three(subject)
    window = (NOW_MS, NOW_MS + 60_000)
    store = subject.store
    assert sorted(store.series("t1", [Matcher("job", EQ, "api")], *window)) == sorted(
        [labels_from_dict(UP), labels_from_dict(UP_B)]
    )
    assert store.label_names("t1", [Matcher("__name__", RE, ".+")], *window) == [
        "__name__",
        "instance",
        "job",
        "zone",
    ]
    assert store.label_values("t1", "job", [Matcher("__name__", RE, ".+")], *window) == [
        "api",
        "node",
    ]
    assert store.label_values("t1", "instance", [Matcher("job", EQ, "node")], *window) == ["a:1"]


def test_special_values_survive(subject: Subject) -> None:
    stale = float(np.array([STALE_NAN_BITS], np.uint64).view(np.float64)[0])
    values = [math.inf, -math.inf, stale] + ([math.nan] if subject.can.exact_nan_bits else [])
    subject.store.append("t1", [series(UP, list(range(len(values))), values)])
    subject.settle()
    (got,) = subject.store.select("t1", [Matcher("__name__", EQ, "up")], NOW_MS, NOW_MS + 60_000)
    assert got.values[:2].tolist() == [math.inf, -math.inf]
    if subject.can.exact_nan_bits:
        sent = np.asarray(values).view(np.uint64)
        assert got.values.view(np.uint64).tolist() == sent.tolist()
    else:
        assert math.isnan(got.values[2])


@backends_with("sample_policy")
def test_duplicates_and_out_of_order_follow_prometheus(subject: Subject) -> None:
    subject.store.append("t1", [series(UP, [10, 20], [1, 2])])
    result = subject.store.append(
        "t1",
        [series(UP, [20], [2]), series(UP, [20], [5]), series(UP, [5], [0]), series(UP, [30], [3])],
    )
    assert result.appended == 1
    assert any("duplicate" in error for error in result.errors)  # same time, new value
    (got,) = subject.store.select("t1", [Matcher("__name__", EQ, "up")], NOW_MS, NOW_MS + 60_000)
    assert got.values.tolist() == [1.0, 2.0, 3.0]


@backends_with("cardinality_limit")
def test_cardinality_limit_writes_nothing(subject: Subject) -> None:
    store = subject.make_limited(2)
    try:
        store.append("t1", [series(UP, [0], [1])])
        with pytest.raises(CardinalityLimitError):
            store.append(
                "t1", [series(UP, [1], [1]), series(UP_B, [0], [1]), series(LOAD, [0], [1])]
            )
        (got,) = store.select("t1", [Matcher("__name__", RE, ".+")], NOW_MS, NOW_MS + 60_000)
        assert got.timestamps.tolist() == [NOW_MS] and store.series_count("t1") == 1
        assert store.series_count("other") == 0
    finally:
        store.close()


@backends_with("retention")
def test_delete_before_drops_old_samples(subject: Subject) -> None:
    _write_three(subject)
    subject.store.delete_before(NOW_MS + 10_000)
    got = by_labels(
        subject.store.select("t1", [Matcher("job", EQ, "api")], NOW_MS, NOW_MS + 60_000)
    )
    assert got == {
        labels_from_dict(UP): ([15_000, 30_000], [1.0, 0.0]),
        labels_from_dict(UP_B): ([15_000], [0.0]),
    }


def test_concurrent_appends_all_land(subject: Subject) -> None:
    def writer(worker: int) -> None:
        for step in range(20):
            labels = {"__name__": "work", "worker": str(worker)}
            subject.store.append("t1", [series(labels, [step], [float(step)])])

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    subject.settle()
    result = subject.store.select("t1", [Matcher("__name__", EQ, "work")], NOW_MS, NOW_MS + 60_000)
    assert sorted(len(s.timestamps) for s in result) == [20, 20, 20, 20]


@backends_with("columnar")
def test_select_columns_equals_select(subject: Subject) -> None:
    """The columnar answer the query engine uses holds exactly what `select` returns."""
    store = subject.store
    rng = np.random.default_rng(7)
    for batch in range(6):  # several appends: blocks, frozen heads and the head all take part
        store.append(
            "t1",
            [
                series(
                    {"__name__": "m", "i": str(i)},
                    [batch * 10 + k for k in range(10)],
                    rng.normal(size=10).tolist(),
                )
                for i in range(12)
            ],
        )
    matchers = [Matcher("__name__", EQ, "m"), Matcher("i", RE, "1.*|3")]
    window = (NOW_MS + 5_000, NOW_MS + 45_000)
    expected = store.select("t1", matchers, *window)
    columns = store.select_columns("t1", matchers, *window)  # type: ignore[attr-defined]
    got = [
        (
            columns.labels[i],
            columns.timestamps[columns.offsets[i] : columns.offsets[i + 1]].tolist(),
            columns.values[columns.offsets[i] : columns.offsets[i + 1]].tolist(),
        )
        for i in range(len(columns.labels))
    ]
    assert sorted(got) == sorted(
        (s.labels, s.timestamps.tolist(), s.values.tolist()) for s in expected
    )
    assert len(got) == 4
