"""The escalation timer with a manual clock: levels at the right minute, stop on ack,
reminders, restart-safe idempotency. Incidents come through the worker's seam."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from tests.support import ADMIN_PASSWORD
from watchkeeper.auth import users
from watchkeeper.clock import ManualClock
from watchkeeper.db import migrate
from watchkeeper.db.tables import NotificationOutbox
from watchkeeper.oncall import service
from watchkeeper.oncall.incidents import IncidentView
from watchkeeper.oncall.policies import EscalationPolicy, Level, Target
from watchkeeper.oncall.worker import EscalationWorker
from watchkeeper.tenancy import service as tenancy
from watchkeeper.tenancy.scope import SessionFactory


class Incidents:
    """The worker's IncidentSource, held in memory by the test."""

    def __init__(self) -> None:
        self.items: dict[str, IncidentView] = {}

    def open_incidents(self, db: Session) -> list[IncidentView]:
        return [i for i in self.items.values() if i.status != "resolved"]


@pytest.fixture
def setup(database_url: str) -> Iterator[tuple[SessionFactory, str, ManualClock]]:
    engine = create_engine(database_url)
    migrate.upgrade(engine)
    sessions = SessionFactory(engine)
    clock = ManualClock(start=1_800_000_000.0)
    with sessions.system("test") as db:
        tenant = tenancy.create_tenant(db, name="acme", now=clock.now())
    with sessions.tenant(tenant.id) as db:  # policies may only name the tenant's users
        users.add_user(db, username="ana", password=ADMIN_PASSWORD, role="viewer", now=clock.now())
    yield sessions, tenant.id, clock
    engine.dispose()


def _rows(sessions: SessionFactory, tenant: str) -> list[NotificationOutbox]:
    with sessions.tenant(tenant) as db:
        return list(db.scalars(select(NotificationOutbox).order_by(NotificationOutbox.id)))


def _policy(sessions: SessionFactory, tenant: str, now: datetime, **kw: object) -> None:
    policy = EscalationPolicy(
        levels=[
            Level(targets=[Target(type="user", id="ana")], wait_minutes=10),
            Level(targets=[Target(type="receiver", id="ops")], wait_minutes=5),
        ],
        **kw,
    )
    with sessions.tenant(tenant) as db:
        service.save_policy(db, name="p", position=0, policy=policy, now=now)


def test_levels_fire_at_their_minute_and_stop_on_acknowledge(setup) -> None:
    sessions, tenant, clock = setup
    _policy(sessions, tenant, clock.now(), repeat=1)
    incidents = Incidents()
    incidents.items["i1"] = IncidentView("i1", tenant, "triggered", "critical", clock.now())
    worker = EscalationWorker(sessions, incidents, clock)
    worker.run_due()
    first = _rows(sessions, tenant)
    assert [(r.channel, r.recipients, r.receiver) for r in first] == [("email", ["ana"], "")]
    assert first[0].priority == "critical" and first[0].source == "escalation"
    clock.advance(9 * 60 + 59)
    worker.run_due()
    assert len(_rows(sessions, tenant)) == 1
    clock.advance(1)
    worker.run_due()
    rows = _rows(sessions, tenant)
    assert rows[-1].receiver == "ops" and rows[-1].channel == ""
    clock.advance(5 * 60)  # the repeat starts again at the first level
    worker.run_due()
    assert len(_rows(sessions, tenant)) == 3
    incidents.items["i1"] = replace(incidents.items["i1"], status="acknowledged")
    clock.advance(3600)
    worker.run_due()
    assert len(_rows(sessions, tenant)) == 3


def test_reminders_while_acknowledged_and_a_rerun_queues_nothing_twice(setup) -> None:
    sessions, tenant, clock = setup
    _policy(sessions, tenant, clock.now(), reminder_hours=2)
    incidents = Incidents()
    incidents.items["i1"] = IncidentView("i1", tenant, "triggered", "warning", clock.now())
    worker = EscalationWorker(sessions, incidents, clock)
    worker.run_due()
    worker.run_due()
    assert len(_rows(sessions, tenant)) == 1
    incidents.items["i1"] = replace(
        incidents.items["i1"], status="acknowledged", acknowledged_at=clock.now()
    )
    worker.run_due()
    clock.advance(2 * 3600 - 1)
    worker.run_due()
    assert len(_rows(sessions, tenant)) == 1
    clock.advance(1)
    worker.run_due()
    rows = _rows(sessions, tenant)
    assert len(rows) == 2 and rows[-1].idempotency_key.startswith("esc-remind:i1")
    assert "Reminder" in rows[-1].payload["alert"]["summary"]
    incidents.items["i1"] = replace(incidents.items["i1"], status="resolved")
    clock.advance(timedelta(hours=10).total_seconds())
    worker.run_due()
    assert len(_rows(sessions, tenant)) == 2


def test_a_schedule_target_pages_whoever_is_on_call(setup) -> None:
    from watchkeeper.oncall.schedules import Rotation, Schedule

    sessions, tenant, clock = setup
    start = clock.now().replace(tzinfo=None) - timedelta(hours=1)
    with sessions.tenant(tenant) as db:
        service.save_schedule(
            db,
            name="primary",
            schedule=Schedule(
                rotations=[Rotation(users=["bo", "cy"], length_hours=2, start=start)]
            ),
            now=clock.now(),
        )
        policy = EscalationPolicy(
            levels=[Level(targets=[Target(type="schedule", id="primary")], channels=["sms"])],
            severities=["critical"],
        )
        service.save_policy(db, name="p", position=0, policy=policy, now=clock.now())
    incidents = Incidents()
    incidents.items["low"] = IncidentView("low", tenant, "triggered", "info", clock.now())
    incidents.items["hot"] = IncidentView("hot", tenant, "triggered", "critical", clock.now())
    EscalationWorker(sessions, incidents, clock).run_due()
    rows = _rows(sessions, tenant)
    assert [(r.source_ref, r.channel, r.recipients) for r in rows] == [("hot", "sms", ["bo"])]


def test_email_goes_only_to_members_of_the_incidents_tenant(setup) -> None:
    sessions, tenant, clock = setup
    with sessions.tenant(tenant) as db:
        bob, _ = users.add_user(
            db,
            username="bob",
            password=ADMIN_PASSWORD,
            role="viewer",
            now=clock.now(),
            email="bob@acme.example",
        )
        bob_id = bob.id
    policy = EscalationPolicy(
        levels=[Level(targets=[Target(type="user", id="bob")], wait_minutes=10)], repeat=1
    )
    with sessions.tenant(tenant) as db:
        service.save_policy(db, name="p", position=0, policy=policy, now=clock.now())
    incidents = Incidents()
    incidents.items["i1"] = IncidentView("i1", tenant, "triggered", "critical", clock.now())
    worker = EscalationWorker(sessions, incidents, clock)
    worker.run_due()
    assert [r.recipients for r in _rows(sessions, tenant)] == [["bob@acme.example"]]
    # Bob leaves the tenant (he stays a user of others): the repeat no longer mails him.
    with sessions.tenant(tenant) as db:
        users.remove_member(db, bob_id, now=clock.now())
    clock.advance(10 * 60)
    worker.run_due()
    assert [r.recipients for r in _rows(sessions, tenant)] == [["bob@acme.example"], ["bob"]]
