"""Small hand-written series for the engine's unit tests."""

from __future__ import annotations

import numpy as np

from watchkeeper.domain.series import SeriesSamples, labels_from_dict
from watchkeeper.query import Engine, QueryResult, VectorResult
from watchkeeper.store.memory import MemoryStore

TENANT = "t"


def samples(labels: dict[str, str], points: list[tuple[float, float]]) -> SeriesSamples:
    """A series from (seconds, value) pairs."""
    ts = np.array([round(t * 1000) for t, _ in points], dtype=np.int64)
    vs = np.array([v for _, v in points], dtype=np.float64)
    return SeriesSamples(labels_from_dict(labels), ts, vs)


def engine_with(
    *series: SeriesSamples, lookback_delta_ms: int = 300_000, max_samples: int = 50_000_000
) -> Engine:
    store = MemoryStore()
    store.append(TENANT, list(series))
    return Engine(store, lookback_delta_ms=lookback_delta_ms, max_samples=max_samples)


def instant(engine: Engine, query: str, at_s: float) -> dict[frozenset[tuple[str, str]], float]:
    """An instant vector as {labels: value}."""
    result = engine.instant_query(TENANT, query, round(at_s * 1000))
    assert isinstance(result, VectorResult), result
    return {frozenset(s.labels): s.value for s in result.samples}


def only_value(engine: Engine, query: str, at_s: float) -> float:
    values = list(instant(engine, query, at_s).values())
    assert len(values) == 1, values
    return values[0]


def key(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


def result_of(engine: Engine, query: str, at_s: float) -> QueryResult:
    return engine.instant_query(TENANT, query, round(at_s * 1000))
