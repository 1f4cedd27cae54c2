"""The live detection loop on generated metrics in a real store, driven by a manual clock."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, select

from watchkeeper.clock import ManualClock
from watchkeeper.config import DetectionSettings, DetectorName
from watchkeeper.db import migrate
from watchkeeper.db.tables import AnomalyRecord, DetectionModel
from watchkeeper.detect import DETECTORS
from watchkeeper.detect.persistence import ModelStore
from watchkeeper.detect.runner import DetectionLoop
from watchkeeper.detect.series_input import detector_input
from watchkeeper.detect.training import Trainer
from watchkeeper.domain.series import Matcher, MatchOp, SeriesSamples, labels_from_dict
from watchkeeper.query import Engine, VectorResult
from watchkeeper.store.memory import MemoryStore
from watchkeeper.tenancy.scope import SessionFactory
from watchkeeper.tenancy.service import create_tenant

STEP_S = 60
START = 1_700_000_040  # a whole minute
CPU = labels_from_dict({"__name__": "cpu_usage", "host": "db-1", "job": "watchkeeper"})


def gauge(first: int, count: int, seed: int = 1) -> np.ndarray:
    """A 15-minute cycle (50 ± 5) with bounded noise, points `first` .. `first + count - 1`."""
    rng = np.random.default_rng(seed)
    i = np.arange(first + count)
    values = 50 + 5 * np.sin(2 * np.pi * i / 15) + rng.uniform(-0.5, 0.5, len(i))
    return np.asarray(values[first:], dtype=np.float64)


def timestamps(first: int, count: int) -> np.ndarray:
    return (START + STEP_S * np.arange(first, first + count)) * 1000


@dataclass
class Rig:
    store: MemoryStore
    sessions: SessionFactory
    clock: ManualClock
    tenant: str
    models: Path

    def loop(self, **settings: object) -> DetectionLoop:
        detection = DetectionSettings.model_validate({"checkpoint_interval_seconds": 0, **settings})
        models = ModelStore(self.models, self.clock)
        return DetectionLoop(
            store=self.store,
            sessions=self.sessions,
            models=models,
            trainer=Trainer(self.store, self.sessions, models, self.clock, 168.0),
            clock=self.clock,
            settings=detection,
            retrain_interval_hours=24.0,
        )

    def push(self, labels: tuple[tuple[str, str], ...], first: int, values: np.ndarray) -> None:
        """Append points `first`.. and move the clock to just after the last one."""
        ts = timestamps(first, len(values))
        self.store.append(self.tenant, [SeriesSamples(labels, ts.astype(np.int64), values)])
        self.clock.set(ts[-1] / 1000 + 1)

    def events(self) -> list[AnomalyRecord]:
        with self.sessions.tenant(self.tenant) as db:
            return list(db.scalars(select(AnomalyRecord).order_by(AnomalyRecord.at)))

    def scores(self, metric: str) -> SeriesSamples:
        matchers = [
            Matcher("__name__", MatchOp.EQUAL, "watchkeeper_anomaly_score"),
            Matcher("metric", MatchOp.EQUAL, metric),
        ]
        (found,) = self.store.select(self.tenant, matchers, 0, 2**62)
        return found


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    engine = create_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    migrate.upgrade(engine)
    sessions = SessionFactory(engine)
    clock = ManualClock(start=START)
    with sessions.system("test") as db:
        tenant = create_tenant(db, name="acme", now=clock.now()).id
    yield Rig(MemoryStore(), sessions, clock, tenant, tmp_path / "models")
    engine.dispose()


def test_normal_period_raises_no_event_and_scores_every_point(rig: Rig) -> None:
    loop = rig.loop()
    rig.push(CPU, 0, gauge(0, 600))
    stats = loop.run_pass()
    assert (stats.series, stats.points, stats.events) == (1, 600, 0)
    assert rig.events() == []
    assert len(rig.scores("cpu_usage").values) == 600


def test_injected_spike_and_level_shift_become_explained_events(rig: Rig) -> None:
    loop = rig.loop()
    rig.push(CPU, 0, gauge(0, 600))
    loop.run_pass()
    anomalous = gauge(600, 300)
    anomalous[100] = 90.0  # point 700: a spike
    anomalous[250:] += 20.0  # from point 850: a level shift
    for hour in range(5):  # the loop keeps up hour by hour
        rig.push(CPU, 600 + 60 * hour, anomalous[60 * hour : 60 * (hour + 1)])
        loop.run_pass()
    events = rig.events()
    # The spike pages at its point; the shift within 5 points (its first points sit only
    # 4-8 long-level scales off on this oscillating series, under the range-break gate).
    times = [e.at.timestamp() for e in events]
    assert len(times) == 2 and times[0] == START + 700 * STEP_S
    assert START + 850 * STEP_S <= times[1] <= START + 855 * STEP_S
    spike, shift = events
    assert spike.pattern == "spike"
    assert spike.explanation["observed"] == pytest.approx(90.0)
    assert spike.explanation["deviation_sigma"] > 5
    assert spike.labels == dict(CPU)
    assert spike.sentence.startswith('cpu_usage{host="db-1",job="watchkeeper"} at 90')
    assert shift.explanation["detectors_agreeing"] == ["default"]


def test_scores_are_series_that_promql_reads(rig: Rig) -> None:
    loop = rig.loop()
    values = gauge(0, 600)
    values[-1] = 95.0
    rig.push(CPU, 0, values)
    loop.run_pass()
    engine = Engine(rig.store, clock=rig.clock)
    result = engine.instant_query(
        rig.tenant,
        'watchkeeper_anomaly_score{metric="cpu_usage"} >= 0.5',
        int(timestamps(599, 1)[0]),
    )
    assert isinstance(result, VectorResult)
    (sample,) = result.samples
    assert dict(sample.labels) == {
        "__name__": "watchkeeper_anomaly_score",
        "host": "db-1",
        "job": "watchkeeper",
        "metric": "cpu_usage",
    }
    assert sample.value == 1.0


def test_counters_are_scored_as_rates_and_resets_are_not_anomalies(rig: Rig) -> None:
    counter = labels_from_dict(
        {"__name__": "node_cpu_seconds_total", "cpu": "0", "mode": "user", "job": "watchkeeper"}
    )
    rate = gauge(0, 900) / 100.0  # busy seconds per second
    rate[700] *= 8  # one minute eight times busier
    values = np.cumsum(rate * STEP_S)
    values[800:] -= values[799]  # the host rebooted: the counter restarts from zero
    loop = rig.loop()
    rig.push(counter, 0, values)
    stats = loop.run_pass()
    assert stats.points == 899  # one rate per interval
    assert [e.at.timestamp() for e in rig.events()] == [START + 700 * STEP_S]
    scored = rig.scores("node_cpu_seconds_total")
    assert scored.timestamps[0] == timestamps(1, 1)[0]


def test_restart_resumes_from_saved_state_with_the_same_scores(rig: Rig) -> None:
    values = gauge(0, 900)
    first = rig.loop()
    rig.push(CPU, 0, values[:600])
    first.run_pass()  # checkpoint_interval_seconds=0: state saved after each pass
    rig.push(CPU, 600, values[600:])
    second = rig.loop()  # a new process: same models path and database
    stats = second.run_pass()
    assert stats.points == 300  # resumed after point 600, not relearned from the start
    uninterrupted = DETECTORS["default"]()
    whole = detector_input(SeriesSamples(CPU, timestamps(0, 900).astype(np.int64), values))
    expected = uninterrupted.update_many(whole.seconds, whole.values)
    np.testing.assert_allclose(rig.scores("cpu_usage").values, expected)


def test_checkpoint_records_model_rows(rig: Rig) -> None:
    loop = rig.loop()
    rig.push(CPU, 0, gauge(0, 120))
    loop.run_pass()
    with rig.sessions.tenant(rig.tenant) as db:
        (row,) = db.scalars(select(DetectionModel))
        assert (row.detector, row.points, row.revision) == ("default", 120, 1)
        assert row.last_sample_at.timestamp() == START + 119 * STEP_S


def test_training_replaces_the_live_model_on_the_next_pass(rig: Rig) -> None:
    loop = rig.loop()
    rig.push(CPU, 0, gauge(0, 300))
    loop.run_pass()
    rig.clock.advance(60)
    (history,) = loop.trainer.history(rig.tenant, [Matcher("host", MatchOp.EQUAL, "db-1")])
    trained = loop.trainer.train_series(rig.tenant, history, "isolation_forest")
    assert trained is not None and trained.revision == 1
    rig.push(CPU, 300, gauge(300, 60))
    stats = loop.run_pass()
    assert stats.points == 60
    (live,) = loop._live[rig.tenant].values()
    assert live.detector.name == "isolation_forest"


def test_selected_output_series_are_not_scored_again(rig: Rig) -> None:
    loop = rig.loop()
    rig.push(CPU, 0, gauge(0, 100))
    loop.run_pass()
    rig.clock.advance(60)
    assert loop.run_pass().series == 0  # the score series carry job="watchkeeper" too


def test_configurable_detector_names_are_the_registry() -> None:
    assert set(typing.get_args(DetectorName)) == set(DETECTORS)


def test_configurable_forecaster_names_are_the_registry() -> None:
    from watchkeeper.config import ForecasterName
    from watchkeeper.detect.forecast import FORECASTERS

    assert set(typing.get_args(ForecasterName)) == set(FORECASTERS)
