"""A migrated database, a tenant, alerts written as the rule evaluator writes them (instance
row + transition), and a correlator driven by a manual clock."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select

from watchkeeper.alert.model import fingerprint
from watchkeeper.alert.state import record_transition
from watchkeeper.clock import ManualClock
from watchkeeper.config import load_settings
from watchkeeper.db import migrate
from watchkeeper.db.engine import build_engine
from watchkeeper.db.tables import AlertInstance, Incident, IncidentAlert, NotificationOutbox
from watchkeeper.incidents.classifier import IncidentClassifier
from watchkeeper.incidents.correlation import CorrelationReport, CorrelationRules, Correlator
from watchkeeper.incidents.lifecycle import Policy
from watchkeeper.tenancy.scope import SessionFactory
from watchkeeper.tenancy.service import create_tenant

START = 1_700_000_000.0


@dataclass
class Rig:
    sessions: SessionFactory
    clock: ManualClock
    tenant: str
    policy: Policy
    rules: CorrelationRules = field(default_factory=CorrelationRules)

    def fire(self, name: str, summary: str = "", /, **labels: str) -> str:
        """An alert of rule `name` starts firing now; returns its fingerprint."""
        full = {"alertname": name, **labels}
        fp = fingerprint(full)
        now = self.clock.now()
        with self.sessions.tenant(self.tenant) as db:
            row = db.scalar(
                select(AlertInstance).where(
                    AlertInstance.group_name == "g", AlertInstance.fingerprint == fp
                )
            )
            if row is None:
                row = AlertInstance(
                    group_name="g",
                    rule_name=name,
                    fingerprint=fp,
                    labels=full,
                    annotations={"summary": summary} if summary else {},
                    state="pending",
                    value=1.0,
                    active_at=now,
                    last_evaluation=now,
                )
                db.add(row)
            previous, row.state, row.fired_at, row.ends_at = row.state, "firing", now, None
            record_transition(db, row, previous, "firing", now)
        return fp

    def resolve(self, fp: str) -> None:
        now = self.clock.now()
        with self.sessions.tenant(self.tenant) as db:
            row = db.scalar(select(AlertInstance).where(AlertInstance.fingerprint == fp))
            assert row is not None
            row.state, row.ends_at = "resolved", now
            record_transition(db, row, "firing", "resolved", now)

    def run(self, rules: CorrelationRules | None = None) -> CorrelationReport:
        """One correlation pass by a fresh correlator: only the database carries state."""
        correlator = Correlator(rules or self.rules, self.policy)
        with self.sessions.tenant(self.tenant) as db:
            return correlator.run(db, self.clock.now())

    def incidents(self) -> list[Incident]:
        with self.sessions.tenant(self.tenant) as db:
            return list(db.scalars(select(Incident).order_by(Incident.number)))

    def members(self, number: int) -> list[IncidentAlert]:
        with self.sessions.tenant(self.tenant) as db:
            return list(
                db.scalars(
                    select(IncidentAlert)
                    .join(Incident, Incident.id == IncidentAlert.incident_id)
                    .where(Incident.number == number)
                    .order_by(IncidentAlert.id)
                )
            )

    def outbox(self) -> list[NotificationOutbox]:
        with self.sessions.tenant(self.tenant) as db:
            return list(db.scalars(select(NotificationOutbox).order_by(NotificationOutbox.id)))


@pytest.fixture(scope="session")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> IncidentClassifier:
    return IncidentClassifier(tmp_path_factory.mktemp("models"))


def make_rig(engine: Engine, classifier: IncidentClassifier, *, migrated: bool) -> Rig:
    if not migrated:
        migrate.upgrade(engine)
    sessions = SessionFactory(engine)
    clock = ManualClock(start=START)
    with sessions.system("test") as db:
        tenant = create_tenant(db, name="acme", now=clock.now()).id
    return Rig(sessions, clock, tenant, Policy(classifier, receiver="default"))


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("incident-db") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def rig(tmp_path: Path, migrated_sqlite: Path, classifier: IncidentClassifier) -> Iterator[Rig]:
    """SQLite only: the correlation logic does not depend on the database."""
    shutil.copy(migrated_sqlite, tmp_path / "meta.db")
    engine = create_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    yield make_rig(engine, classifier, migrated=True)
    engine.dispose()


@pytest.fixture
def db_rig(database_url: str, classifier: IncidentClassifier) -> Iterator[Rig]:
    """On SQLite and PostgreSQL."""
    engine = build_engine(load_settings(), url=database_url)
    yield make_rig(engine, classifier, migrated=False)
    engine.dispose()
