"""The live forecast loop on generated metrics in a real store: forecasts become series."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine

from watchkeeper.clock import ManualClock
from watchkeeper.config import DetectionSettings
from watchkeeper.db import migrate
from watchkeeper.detect.forecast_runner import ForecastLoop
from watchkeeper.domain.series import SeriesSamples, labels_from_dict
from watchkeeper.query import Engine, VectorResult
from watchkeeper.store.memory import MemoryStore
from watchkeeper.tenancy.scope import SessionFactory
from watchkeeper.tenancy.service import create_tenant

STEP_S = 60
START = 1_700_000_040
HOURS = 12


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[MemoryStore, SessionFactory, ManualClock, str]]:
    engine = create_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    migrate.upgrade(engine)
    sessions = SessionFactory(engine)
    clock = ManualClock(start=START)
    with sessions.system("test") as db:
        tenant = create_tenant(db, name="acme", now=clock.now()).id
    yield MemoryStore(), sessions, clock, tenant
    engine.dispose()


def push(store: MemoryStore, tenant: str, labels: dict[str, str], values: np.ndarray) -> None:
    ts = (START + STEP_S * np.arange(len(values))) * 1000
    store.append(tenant, [SeriesSamples(labels_from_dict(labels), ts.astype(np.int64), values)])


def loop_for(
    store: MemoryStore, sessions: SessionFactory, clock: ManualClock, *, in_child: bool = False
) -> ForecastLoop:
    # In the test process by default: a child per pass costs seconds; the first test below
    # runs the shipped default (a child process per pass) end to end.
    settings = DetectionSettings.model_validate(
        {
            "selectors": ['{job="node"}'],
            "forecast_horizons": ["1h", "6h"],
            "forecast_history_hours": HOURS,
            "forecast_model": "capacity",
            "forecast_in_child": in_child,
        }
    )
    return ForecastLoop(
        store=store, engine=Engine(store), sessions=sessions, clock=clock, settings=settings
    )


def test_forecasts_are_written_as_series_that_promql_reads(
    rig: tuple[MemoryStore, SessionFactory, ManualClock, str],
) -> None:
    store, sessions, clock, tenant = rig
    n = HOURS * 60
    rng = np.random.default_rng(3)
    # A disk filling at 2 %/hour from 40 %, with a little noise: 1 h ahead is +2, 6 h is +12.
    disk = 40 + 2 * np.arange(n) / 60 + rng.normal(0, 0.05, n)
    push(store, tenant, {"__name__": "disk_used_percent", "job": "node", "mount": "/"}, disk)
    push(store, tenant, {"__name__": "http_requests_total", "job": "node"}, np.arange(n) * 5.0)
    clock.set(START + (n - 1) * STEP_S + 1)

    stats = loop_for(store, sessions, clock, in_child=True).run_pass()

    assert stats.series == 1, stats  # the counter is left out
    assert stats.samples_written == 2 * 5
    engine = Engine(store)
    now_ms = round(clock.time() * 1000)
    last = disk[-1]
    for horizon, ahead in (("1h", 2.0), ("6h", 12.0)):
        result = engine.instant_query(
            tenant,
            f'watchkeeper_forecast{{metric="disk_used_percent", horizon="{horizon}"}}',
            now_ms,
        )
        assert isinstance(result, VectorResult)
        by_bound = {dict(s.labels)["bound"]: s.value for s in result.samples}
        assert set(by_bound) == {"mean", "lo80", "hi80", "lo95", "hi95"}
        assert all(dict(s.labels)["mount"] == "/" for s in result.samples)
        assert by_bound["mean"] == pytest.approx(last + ahead, abs=0.5)
        assert by_bound["lo95"] <= by_bound["lo80"] <= by_bound["mean"]
        assert by_bound["mean"] <= by_bound["hi80"] <= by_bound["hi95"]
    # The alert-rule form: predicted above 70 % six hours from now, not one hour from now.
    crossing = engine.instant_query(
        tenant, 'watchkeeper_forecast{metric="disk_used_percent", bound="mean"} > 70', now_ms
    )
    assert isinstance(crossing, VectorResult)
    assert [dict(s.labels)["horizon"] for s in crossing.samples] == ["6h"]


def test_a_later_pass_appends_and_output_series_are_not_forecast(
    rig: tuple[MemoryStore, SessionFactory, ManualClock, str],
) -> None:
    store, sessions, clock, tenant = rig
    n = HOURS * 60
    push(store, tenant, {"__name__": "load1", "job": "node"}, np.full(n, 1.5))
    clock.set(START + (n - 1) * STEP_S + 1)
    loop = loop_for(store, sessions, clock)
    loop.run_pass()
    clock.advance(900)
    second = loop.run_pass()
    assert second.series == 1  # its own forecast series (job="node" too) are not forecast
    written = store.select(
        tenant,
        [
            *labels_matchers({"__name__": "watchkeeper_forecast", "horizon": "1h"}),
            *labels_matchers({"bound": "mean"}),
        ],
        0,
        2**62,
    )
    assert len(written) == 1
    assert len(written[0].values) == 2
    assert np.allclose(written[0].values, 1.5, atol=0.05)


def test_series_too_short_to_forecast_are_skipped_not_fatal(
    rig: tuple[MemoryStore, SessionFactory, ManualClock, str],
) -> None:
    store, sessions, clock, tenant = rig
    push(store, tenant, {"__name__": "load1", "job": "node"}, np.array([1.0, 2.0]))
    clock.set(START + STEP_S + 1)
    stats = loop_for(store, sessions, clock).run_pass()
    assert stats.series == 0
    assert stats.tenant_errors == []
    assert len(stats.skipped) == 1 and "fewer than 3 samples" in stats.skipped[0]


def test_bad_forecast_settings_are_rejected_with_the_key() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="forecast_horizons"):
        DetectionSettings.model_validate({"forecast_horizons": ["soon"]})
    with pytest.raises(ValidationError, match="forecast_model"):
        DetectionSettings.model_validate({"forecast_model": "crystal_ball"})


def labels_matchers(labels: dict[str, str]) -> list:  # type: ignore[type-arg]
    from watchkeeper.domain.series import Matcher, MatchOp

    return [Matcher(k, MatchOp.EQUAL, v) for k, v in labels.items()]
