"""MemoryStore: Prometheus head-block append rules, matchers, windows, retention."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from watchkeeper.domain.series import Matcher, MatchOp, SeriesSamples, labels_from_dict
from watchkeeper.store.base import CardinalityLimitError
from watchkeeper.store.memory import MemoryStore

NAME = Matcher("__name__", MatchOp.EQUAL, "m")


def _series(points: list[tuple[int, float]], **labels: str) -> SeriesSamples:
    ts = np.array([t for t, _ in points], dtype=np.int64)
    vs = np.array([v for _, v in points], dtype=np.float64)
    return SeriesSamples(labels_from_dict({"__name__": "m", **labels}), ts, vs)


def test_select_returns_the_window_of_each_matching_series_in_label_order() -> None:
    store = MemoryStore()
    store.append("t", [_series([(1, 1.0), (2, 2.0), (3, 3.0)], a="z"), _series([(2, 9.0)], a="b")])
    found = store.select("t", [NAME], 2, 3)
    assert [s.label_dict()["a"] for s in found] == ["b", "z"]
    assert found[1].timestamps.tolist() == [2, 3]
    assert found[1].values.tolist() == [2.0, 3.0]


def test_out_of_order_samples_are_rejected_and_duplicates_ignored() -> None:
    store = MemoryStore()
    store.append("t", [_series([(10, 1.0), (20, 2.0)])])
    result = store.append("t", [_series([(5, 0.0), (20, 2.0), (20, 3.0), (30, 4.0)])])
    assert (result.appended, result.out_of_order, result.duplicates) == (1, 1, 1)
    assert len(result.errors) == 1
    assert store.select("t", [NAME], 0, 100)[0].values.tolist() == [1.0, 2.0, 4.0]


def test_a_batch_over_the_cardinality_limit_writes_nothing() -> None:
    store = MemoryStore(max_series_per_tenant=2)
    store.append("t", [_series([(1, 1.0)], a="1")])
    with pytest.raises(CardinalityLimitError):
        store.append(
            "t",
            [_series([(2, 1.0)], a="1"), _series([(1, 1.0)], a="2"), _series([(1, 1.0)], a="3")],
        )
    assert store.series_count("t") == 1
    assert store.select("t", [NAME], 0, 10)[0].timestamps.tolist() == [1]


def test_matchers_treat_a_missing_label_as_empty() -> None:
    store = MemoryStore()
    store.append("t", [_series([(1, 1.0)], a="x"), _series([(1, 2.0)])])
    empty = store.select("t", [NAME, Matcher("a", MatchOp.EQUAL, "")], 0, 10)
    regex = store.select("t", [NAME, Matcher("a", MatchOp.REGEX, "x|")], 0, 10)
    not_x = store.select("t", [NAME, Matcher("a", MatchOp.NOT_REGEX, "x")], 0, 10)
    assert [s.values.tolist() for s in empty] == [[2.0]]
    assert len(regex) == 2
    assert [s.values.tolist() for s in not_x] == [[2.0]]


def test_tenants_do_not_see_each_other() -> None:
    store = MemoryStore()
    store.append("a", [_series([(1, 1.0)])])
    assert store.select("b", [NAME], 0, 10) == []
    assert store.series_count("b") == 0


def test_delete_before_leaves_earlier_answers_intact() -> None:
    store = MemoryStore()
    store.append("t", [_series([(1, 1.0), (2, 2.0), (3, 3.0)])])
    before = store.select("t", [NAME], 0, 10)[0]
    assert store.delete_before(3) == 2
    assert before.values.tolist() == [1.0, 2.0, 3.0]
    assert store.select("t", [NAME], 0, 10)[0].timestamps.tolist() == [3]


def test_select_columns_matches_select() -> None:
    store = MemoryStore()
    store.append(
        "t", [_series([(t, float(t)) for t in range(0, 100, 7)], a=str(i)) for i in range(5)]
    )
    store.append("t", [_series([(200, 1.0)], a="late")])
    rows = store.select("t", [NAME], 20, 80)
    cols = store.select_columns("t", [NAME], 20, 80)
    assert cols.labels == [s.labels for s in rows]
    assert cols.timestamps.tolist() == np.concatenate([s.timestamps for s in rows]).tolist()
    assert np.diff(cols.offsets).tolist() == [len(s.timestamps) for s in rows]


def test_label_names_and_values_cover_series_with_samples_in_range() -> None:
    store = MemoryStore()
    store.append("t", [_series([(1, 1.0)], a="x"), _series([(100, 1.0)], b="y")])
    assert store.label_names("t", [NAME], 0, 10) == ["__name__", "a"]
    assert store.label_values("t", "b", [NAME], 0, 1000) == ["y"]


def test_concurrent_appends_lose_nothing() -> None:
    store = MemoryStore()

    def write(worker: int) -> None:
        for t in range(200):
            store.append("t", [_series([(t, float(t))], w=str(worker))])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(s.timestamps) for s in store.select("t", [NAME], 0, 1000)) == 800
