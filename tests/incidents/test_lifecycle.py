"""Incident lifecycle through the service: status machine, MTTA/MTTR from the manual clock,
timeline, merge and split, operator category corrections that retrain the classifier."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from tests.incidents.conftest import Rig
from watchkeeper.db.tables import Incident
from watchkeeper.incidents import service
from watchkeeper.incidents.classifier import IncidentClassifier
from watchkeeper.incidents.lifecycle import Policy
from watchkeeper.tenancy.service import ConflictError


def _sample(name: str, severity: str) -> float:
    return REGISTRY.get_sample_value(name, {"severity": severity}) or 0.0


def test_acknowledge_then_resolve_measures_mtta_and_mttr(db_rig: Rig) -> None:
    rig = db_rig
    acks = _sample("watchkeeper_incident_time_to_acknowledge_seconds_sum", "high")
    with rig.sessions.tenant(rig.tenant) as db:
        incident = service.create(
            db,
            title="Checkout down",
            severity="high",
            now=rig.clock.now(),
            actor="alice",
            policy=rig.policy,
        )
        number = incident.number
    rig.clock.advance(90)
    with rig.sessions.tenant(rig.tenant) as db:
        incident = service.get(db, str(number))
        service.update(
            db,
            incident,
            service.IncidentChange(status="acknowledged"),
            now=rig.clock.now(),
            actor="alice",
            policy=rig.policy,
        )
    rig.clock.advance(510)
    with rig.sessions.tenant(rig.tenant) as db:
        incident = service.get(db, f"#{number}")
        service.update(
            db,
            incident,
            service.IncidentChange(status="resolved"),
            now=rig.clock.now(),
            actor="bob",
            policy=rig.policy,
        )
        events = [e.kind for e in service.timeline(db, incident)]
    assert incident.acknowledged_at is not None and incident.resolved_at is not None
    assert (incident.acknowledged_at - incident.created_at).total_seconds() == 90
    assert (incident.resolved_at - incident.created_at).total_seconds() == 600
    assert _sample("watchkeeper_incident_time_to_acknowledge_seconds_sum", "high") == acks + 90
    assert events.count("status_changed") == 2 and events.count("notification_queued") == 3
    assert [r.payload["event"] for r in rig.outbox()] == ["opened", "acknowledged", "resolved"]


def test_a_resolved_incident_is_reopened_not_acknowledged(rig: Rig) -> None:
    with rig.sessions.tenant(rig.tenant) as db:
        incident = service.create(db, title="x", now=rig.clock.now(), actor="a", policy=rig.policy)
        resolve = service.IncidentChange(status="resolved")
        service.update(db, incident, resolve, now=rig.clock.now(), actor="a", policy=rig.policy)
        with pytest.raises(ConflictError, match="reopen it with status=triggered"):
            service.update(
                db,
                incident,
                service.IncidentChange(status="acknowledged"),
                now=rig.clock.now(),
                actor="a",
                policy=rig.policy,
            )
        service.update(
            db,
            incident,
            service.IncidentChange(status="triggered"),
            now=rig.clock.now(),
            actor="a",
            policy=rig.policy,
        )
        assert incident.status == "triggered" and incident.resolved_at is None
    assert [r.payload["event"] for r in rig.outbox()] == ["opened", "resolved", "reopened"]


def test_bad_values_are_refused_before_anything_changes(rig: Rig) -> None:
    with rig.sessions.tenant(rig.tenant) as db:
        incident = service.create(db, title="x", now=rig.clock.now(), actor="a", policy=rig.policy)
        with pytest.raises(ValueError, match="not a user of this tenant"):
            service.update(
                db,
                incident,
                service.IncidentChange(title="new", assignee="nobody", assignee_set=True),
                now=rig.clock.now(),
                actor="a",
                policy=rig.policy,
            )
        assert incident.title == "x"
        with pytest.raises(ValueError, match="no alert with fingerprint"):
            service.create(
                db,
                title="y",
                fingerprints=["abcdef"],
                now=rig.clock.now(),
                actor="a",
                policy=rig.policy,
            )


def test_merge_moves_alerts_and_resolves_the_merged_incident(rig: Rig) -> None:
    rig.fire("HighLatency", service="api")
    rig.fire("SlowQueries", service="db", severity="critical")
    rig.run()
    with rig.sessions.tenant(rig.tenant) as db:
        target = service.get(db, "1")
        (source,) = service.merge(
            db, target, ["2"], now=rig.clock.now(), actor="alice", policy=rig.policy
        )
        assert source.status == "resolved" and source.merged_into == target.id
        assert target.severity == "critical"
        with pytest.raises(ValueError, match="into itself"):
            service.merge(db, target, ["1"], now=rig.clock.now(), actor="a", policy=rig.policy)
    members = rig.members(1)
    assert [m.alertname for m in members] == ["HighLatency", "SlowQueries"]
    assert members[1].reason.endswith("merged from #2 by alice")


def test_split_moves_named_alerts_to_a_new_incident(rig: Rig) -> None:
    rig.fire("HighLatency", service="api")
    moved = rig.fire("PodCrashLooping", service="api")
    rig.run()
    with rig.sessions.tenant(rig.tenant) as db:
        incident = service.get(db, "1")
        with pytest.raises(ValueError, match="at least one alert"):
            service.split(
                db,
                incident,
                [m.fingerprint for m in rig.members(1)],
                now=rig.clock.now(),
                actor="bob",
                policy=rig.policy,
            )
        with pytest.raises(ValueError, match="not in incident #1"):
            service.split(db, incident, ["ffff"], now=rig.clock.now(), actor="b", policy=rig.policy)
        new = service.split(
            db, incident, [moved], now=rig.clock.now(), actor="bob", policy=rig.policy
        )
        assert new.number == 2 and new.status == "triggered"
    assert [m.alertname for m in rig.members(1)] == ["HighLatency"]
    assert [m.reason for m in rig.members(2)] == ["split from #1 by bob"]
    # The alert now belongs to the new incident: when it fires on, it stays there.
    rig.run()
    assert [m.fingerprint for m in rig.members(2)] == [moved]


def test_an_operator_category_correction_retrains_the_tenant_model(
    rig: Rig, tmp_path: object
) -> None:
    from pathlib import Path

    models = Path(str(tmp_path)) / "models"
    policy = Policy(IncidentClassifier(models))
    text = "Quarterly batch window overran the reserved slot"
    with rig.sessions.tenant(rig.tenant) as db:
        first = service.create(db, title=text, now=rig.clock.now(), actor="a", policy=policy)
        assert first.category_source == "model"
        service.update(
            db,
            first,
            service.IncidentChange(category="capacity"),
            now=rig.clock.now(),
            actor="alice",
            policy=policy,
        )
        assert (first.category, first.category_confidence, first.category_source) == (
            "capacity",
            1.0,
            "operator",
        )
        events = [e.kind for e in service.timeline(db, first)]
        # Nothing is learned before the correction is committed.
        policy.classifier.wait_for_refits(timeout=30)
        assert not (models / "incidents" / f"{rig.tenant}.pickle").exists()
    assert "category_changed" in events
    policy.classifier.wait_for_refits(timeout=30)
    assert (models / "incidents" / f"{rig.tenant}.pickle").exists()
    # A new process (a fresh classifier) loads the tenant's model and has learned the lesson.
    relearned = IncidentClassifier(models).classify(rig.tenant, text)
    assert relearned.category == "capacity"
    # Other tenants keep the built-in model.
    assert IncidentClassifier(models).model_for("other") is IncidentClassifier(None).builtin()


def test_a_rolled_back_category_correction_teaches_nothing(rig: Rig, tmp_path: object) -> None:
    from pathlib import Path

    models = Path(str(tmp_path)) / "models"
    policy = Policy(IncidentClassifier(models))
    with rig.sessions.tenant(rig.tenant) as db:
        incident = service.create(
            db, title="Disk almost full", now=rig.clock.now(), actor="a", policy=policy
        )
    with pytest.raises(RuntimeError), rig.sessions.tenant(rig.tenant) as db:
        service.update(
            db,
            db.get_one(type(incident), incident.id),
            service.IncidentChange(category="security"),
            now=rig.clock.now(),
            actor="alice",
            policy=policy,
        )
        raise RuntimeError("the request failed after the change")
    policy.classifier.wait_for_refits(timeout=30)
    assert not (models / "incidents" / f"{rig.tenant}.pickle").exists()


def test_incidents_opened_at_once_get_distinct_numbers(db_rig: Rig) -> None:
    """An operator's POST racing the correlation worker: every incident opens, numbered 1..n."""
    import threading

    rig, threads, rounds = db_rig, 4, 6
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def open_some() -> None:
        for _ in range(rounds):
            barrier.wait(timeout=30)
            try:
                with rig.sessions.tenant(rig.tenant) as db:
                    service.create(db, title="x", now=rig.clock.now(), actor="a", policy=rig.policy)
            except BaseException as exc:
                failures.append(exc)

    workers = [threading.Thread(target=open_some) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert failures == []
    with rig.sessions.tenant(rig.tenant) as db:
        numbers = sorted(db.scalars(select(Incident.number)))
    assert numbers == list(range(1, threads * rounds + 1))
