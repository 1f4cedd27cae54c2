"""A rule evaluator over an in-memory store and a migrated database, driven by a manual clock."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, create_engine, select

from watchkeeper.alert.evaluator import GroupEvaluator, GroupResult
from watchkeeper.alert.rules import CompiledGroup, parse_group, parse_yaml
from watchkeeper.alert.state import FlapPolicy, pending_events
from watchkeeper.clock import ManualClock
from watchkeeper.config import load_settings
from watchkeeper.db import migrate
from watchkeeper.db.engine import build_engine
from watchkeeper.db.tables import AlertEvent, AlertInstance
from watchkeeper.domain.series import SeriesSamples, labels_from_dict
from watchkeeper.query import Engine as QueryEngine
from watchkeeper.store.memory import MemoryStore
from watchkeeper.tenancy.scope import SessionFactory
from watchkeeper.tenancy.service import create_tenant

START = 1_700_000_000.0


@dataclass
class Rig:
    store: MemoryStore
    sessions: SessionFactory
    clock: ManualClock
    tenant: str
    flap: FlapPolicy

    def evaluator(self) -> GroupEvaluator:
        """A new evaluator each call: nothing but the database carries state between them."""
        return GroupEvaluator(
            query=QueryEngine(self.store, clock=self.clock),
            store=self.store,
            sessions=self.sessions,
            clock=self.clock,
            flap=self.flap,
            external_url="http://wk.example",
        )

    def put(self, metric: str, value: float, /, **labels: str) -> None:
        """One sample at the clock's time."""
        series = labels_from_dict({"__name__": metric, **labels})
        now_ms = round(self.clock.time() * 1000)
        self.store.append(
            self.tenant,
            [SeriesSamples(series, np.array([now_ms], np.int64), np.array([value], np.float64))],
        )

    def evaluate(self, group: CompiledGroup | str) -> GroupResult:
        compiled = group if isinstance(group, CompiledGroup) else compile_yaml(group)
        return self.evaluator().evaluate(self.tenant, compiled)

    def step(
        self,
        group: CompiledGroup | str,
        seconds: float,
        metric: str,
        value: float,
        /,
        **labels: str,
    ) -> GroupResult:
        self.clock.advance(seconds)
        self.put(metric, value, **labels)
        return self.evaluate(group)

    def alerts(self) -> list[AlertInstance]:
        with self.sessions.tenant(self.tenant) as db:
            return list(db.scalars(select(AlertInstance).order_by(AlertInstance.rule_name)))

    def alert(self, rule: str) -> AlertInstance:
        (row,) = [a for a in self.alerts() if a.rule_name == rule]
        return row

    def notifications(self) -> list[AlertEvent]:
        with self.sessions.tenant(self.tenant) as db:
            return list(db.scalars(select(AlertEvent).order_by(AlertEvent.id)))

    def kinds(self) -> list[str]:
        return [n.kind for n in self.notifications()]

    def pending(self) -> list[AlertEvent]:
        with self.sessions.tenant(self.tenant) as db:
            return pending_events(db)


def compile_yaml(text: str) -> CompiledGroup:
    return parse_group(parse_yaml(text), default_interval=60.0)


def make_rig(engine: Engine, *, migrated: bool = False) -> Rig:
    if not migrated:
        migrate.upgrade(engine)
    sessions = SessionFactory(engine)
    clock = ManualClock(start=START)
    with sessions.system("test") as db:
        tenant = create_tenant(db, name="acme", now=clock.now()).id
    return Rig(
        MemoryStore(), sessions, clock, tenant, FlapPolicy(max_changes=4, window_seconds=600)
    )


@pytest.fixture
def rig(tmp_path: Path, migrated_sqlite: Path) -> Iterator[Rig]:
    """SQLite only: the state machine's logic does not depend on the database (a copy of
    the suite's migrated template, tests/conftest.py)."""
    shutil.copy(migrated_sqlite, tmp_path / "meta.db")
    engine = create_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    yield make_rig(engine, migrated=True)
    engine.dispose()


@pytest.fixture
def db_rig(database_url: str) -> Iterator[Rig]:
    """On SQLite and PostgreSQL: for what persistence must guarantee on both."""
    engine = build_engine(load_settings(), url=database_url)
    yield make_rig(engine)
    engine.dispose()
