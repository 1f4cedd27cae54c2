"""Kernels split over threads give exactly the single-thread answer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from watchkeeper.domain.series import SeriesSamples, labels_from_dict
from watchkeeper.query import Engine
from watchkeeper.runtime import kernels
from watchkeeper.store.memory import MemoryStore


def test_split_covers_every_item_once_in_balanced_ranges() -> None:
    weights = np.array([5, 1, 1, 1, 1, 1, 5, 0, 0, 5], dtype=np.int64)
    ranges = kernels.split(weights, 3)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(weights)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert all(first < past for first, past in ranges)
    assert kernels.split(weights, 1) == [(0, 10)]
    assert kernels.split(np.array([3], dtype=np.int64), 4) == [(0, 1)]


def test_parallel_query_equals_sequential(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    store = MemoryStore()
    series = []
    for i in range(60):
        n = int(rng.integers(0, 200))
        ts = np.sort(rng.choice(np.arange(0, 3_600_000, 5_000), size=n, replace=False))
        values = np.cumsum(rng.integers(0, 10, n)).astype(np.float64)
        if n > 10:
            values[n // 2 :] -= values[n // 2]  # a counter reset
        labels = labels_from_dict({"__name__": "c_total", "job": f"j{i % 4}", "i": str(i)})
        series.append(SeriesSamples(labels, ts.astype(np.int64), values))
    store.append("t", series)
    engine = Engine(store)
    queries = ["sum by (job) (rate(c_total[5m]))", "increase(c_total[2m])", "delta(c_total[90s])"]

    def answers() -> list[object]:
        return [engine.range_query("t", q, 600_000, 3_600_000, 30_000).to_json() for q in queries]

    monkeypatch.setattr(kernels, "MIN_WORK", 10**12)
    sequential = answers()
    monkeypatch.setattr(kernels, "MIN_WORK", 0)
    monkeypatch.setattr(kernels, "WORKERS", 3)
    assert answers() == sequential


def test_parallel_block_reads_equal_sequential(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    from pathlib import Path

    from watchkeeper.domain.series import Matcher, MatchOp
    from watchkeeper.store.embedded import EmbeddedStore

    rng = np.random.default_rng(11)
    store = EmbeddedStore(Path(str(tmp_path)) / "s", fsync="never")
    try:
        store.append(
            "t",
            [
                SeriesSamples(
                    labels_from_dict({"__name__": "g", "i": str(i)}),
                    np.arange(0, 600_000, 15_000, dtype=np.int64) + i,
                    rng.normal(size=40),
                )
                for i in range(50)
            ],
        )
        store.flush()
        matchers = [Matcher("__name__", MatchOp.EQUAL, "g")]

        def read() -> tuple[list[object], list[int], list[float]]:
            got = store.select_columns("t", matchers, 100_000, 500_000)
            return list(got.labels), got.timestamps.tolist(), got.values.tolist()

        monkeypatch.setattr(kernels, "MIN_WORK", 10**12)
        sequential = read()
        monkeypatch.setattr(kernels, "MIN_WORK", 0)
        monkeypatch.setattr(kernels, "WORKERS", 3)
        assert read() == sequential
        assert len(sequential[0]) == 50 and len(sequential[1]) > 0
    finally:
        store.close()
