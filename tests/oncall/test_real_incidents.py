"""Escalation over the real incidents tables: an incident opened and acknowledged through the
incidents service drives `EscalationWorker` + `TableIncidents`, timed by a manual clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from tests.support import ADMIN_PASSWORD
from watchkeeper.auth import users
from watchkeeper.clock import ManualClock
from watchkeeper.db import migrate
from watchkeeper.db.tables import Incident, NotificationOutbox
from watchkeeper.incidents import service as incidents
from watchkeeper.incidents.classifier import IncidentClassifier
from watchkeeper.incidents.lifecycle import Policy
from watchkeeper.oncall import service
from watchkeeper.oncall.incidents import TableIncidents
from watchkeeper.oncall.policies import EscalationPolicy, Level, Target
from watchkeeper.oncall.worker import EscalationWorker
from watchkeeper.tenancy import service as tenancy
from watchkeeper.tenancy.scope import SessionFactory


@dataclass
class Rig:
    sessions: SessionFactory
    tenant: str
    clock: ManualClock
    policy: Policy

    def open(self, title: str, severity: str) -> str:
        with self.sessions.tenant(self.tenant) as db:
            row = incidents.create(
                db,
                title=title,
                severity=severity,
                now=self.clock.now(),
                actor="test",
                policy=self.policy,
            )
            return row.id

    def set_status(self, incident_id: str, status: str) -> None:
        with self.sessions.tenant(self.tenant) as db:
            incidents.update(
                db,
                incidents.get(db, incident_id),
                incidents.IncidentChange(status=status),
                now=self.clock.now(),
                actor="ana",
                policy=self.policy,
            )

    def pages(self) -> list[NotificationOutbox]:
        """The escalation's outbox rows (the incident's own notifications are left out)."""
        with self.sessions.tenant(self.tenant) as db:
            return list(
                db.scalars(
                    select(NotificationOutbox)
                    .where(NotificationOutbox.source == "escalation")
                    .order_by(NotificationOutbox.id)
                )
            )


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> IncidentClassifier:
    return IncidentClassifier(tmp_path_factory.mktemp("models"))


@pytest.fixture
def rig(database_url: str, classifier: IncidentClassifier, tmp_path: Path) -> Iterator[Rig]:
    engine = create_engine(database_url)
    migrate.upgrade(engine)
    sessions = SessionFactory(engine)
    clock = ManualClock(start=1_800_000_000.0)
    with sessions.system("test") as db:
        tenant = tenancy.create_tenant(db, name="acme", now=clock.now())
    policy = EscalationPolicy(
        levels=[
            Level(targets=[Target(type="user", id="ana")], wait_minutes=10),
            Level(targets=[Target(type="receiver", id="ops")], wait_minutes=5),
        ],
        reminder_hours=1,
        severities=["critical"],
    )
    with sessions.tenant(tenant.id) as db:  # policies may only name the tenant's users
        users.add_user(db, username="ana", password=ADMIN_PASSWORD, role="viewer", now=clock.now())
        service.save_policy(db, name="critical", position=0, policy=policy, now=clock.now())
    yield Rig(sessions, tenant.id, clock, Policy(classifier, receiver="default"))
    engine.dispose()


def test_acknowledging_through_the_incidents_service_stops_the_escalation(rig: Rig) -> None:
    worker = EscalationWorker(rig.sessions, TableIncidents(), rig.clock)
    incident_id = rig.open("Checkout is down", "critical")
    rig.open("Disk filling slowly", "low")  # no policy takes a low incident

    report = worker.run_due()
    first = rig.pages()
    assert report.started == 1
    assert [(p.channel, p.recipients, p.source_ref) for p in first] == [
        ("email", ["ana"], incident_id)
    ]
    assert first[0].priority == "critical"
    assert first[0].payload["incident"]["number"] == 1
    assert first[0].payload["incident"]["title"] == "Checkout is down"

    rig.clock.advance(4 * 60)
    rig.set_status(incident_id, "acknowledged")
    rig.clock.advance(11 * 60)  # level 2 was due 10 minutes after level 1
    worker.run_due()
    assert len(rig.pages()) == 1

    rig.clock.advance(49 * 60 - 1)  # the reminder is due an hour after the acknowledgement
    worker.run_due()
    assert len(rig.pages()) == 1
    rig.clock.advance(1)
    worker.run_due()
    pages = rig.pages()
    assert len(pages) == 2 and pages[-1].idempotency_key.startswith(f"esc-remind:{incident_id}")

    rig.set_status(incident_id, "resolved")
    rig.clock.advance(3 * 3600)
    worker.run_due()
    assert len(rig.pages()) == 2


def test_a_reopened_incident_escalates_again_and_labels_come_from_its_alerts(rig: Rig) -> None:
    worker = EscalationWorker(rig.sessions, TableIncidents(), rig.clock)
    incident_id = rig.open("Checkout is down", "critical")
    worker.run_due()
    rig.set_status(incident_id, "resolved")
    rig.clock.advance(60)
    worker.run_due()
    rig.set_status(incident_id, "triggered")
    worker.run_due()
    pages = rig.pages()
    assert [p.idempotency_key.split(":")[2] for p in pages] == ["0", "1"]  # a new cycle
    with rig.sessions.tenant(rig.tenant) as db:
        views = TableIncidents().open_incidents(db)
        number = db.scalar(select(Incident.number).where(Incident.id == incident_id))
    assert [(v.id, v.number, v.status) for v in views] == [(incident_id, number, "triggered")]
