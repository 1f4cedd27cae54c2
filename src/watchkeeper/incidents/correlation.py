"""The correlator: firing alerts become incidents, resolved alerts close them.

It reads each tenant's alert transitions (append-only, so a watermark on their id makes
it incremental and restart-safe; the watermark, the alerts waiting for `min_alerts` and the
recent firings are stored with it in `incident_correlation_cursors`, in the same
transaction as the incidents they produce). For a firing alert, first match wins:

1. it is already a member: an open incident keeps it; a recently resolved one is reopened;
2. shared labels: an open incident with the same correlation key (the values of `group_by`
   labels, else the alertname) that saw an alert within the window;
3. learned co-occurrence: an open incident, active within the window, holding an alertname
   that fired with this one often enough (see cooccurrence.py);
4. otherwise it opens an incident, once `min_alerts` alerts with its key fired in the window.

Each joining alert records why it joined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.clock import Clock
from watchkeeper.config import IncidentSettings
from watchkeeper.db.tables import (
    AlertInstance,
    AlertTransition,
    CorrelationCursor,
    Incident,
    IncidentAlert,
    Tenant,
)
from watchkeeper.incidents import cooccurrence
from watchkeeper.incidents.lifecycle import (
    OPEN_STATUSES,
    Member,
    Policy,
    add_member,
    change_status,
    classify,
    members_of,
    open_incident,
    record,
)
from watchkeeper.incidents.metrics import refresh_open_gauge
from watchkeeper.runtime.worker import PeriodicWorker, Placement
from watchkeeper.tenancy.scope import SessionFactory

log = structlog.get_logger(__name__)

ACTOR = "correlation"


@dataclass(frozen=True)
class CorrelationRules:
    window_seconds: float = 600.0
    group_by: tuple[str, ...] = ("service", "cluster")
    min_alerts: int = 1
    auto_resolve: bool = True
    reopen_window_seconds: float = 1800.0
    cooccurrence_min_count: int = 3
    cooccurrence_min_confidence: float = 0.6

    @classmethod
    def from_settings(cls, settings: IncidentSettings) -> CorrelationRules:
        return cls(
            window_seconds=settings.window_seconds,
            group_by=tuple(settings.group_by),
            min_alerts=settings.min_alerts,
            auto_resolve=settings.auto_resolve,
            reopen_window_seconds=settings.reopen_window_seconds,
            cooccurrence_min_count=settings.cooccurrence_min_count,
            cooccurrence_min_confidence=settings.cooccurrence_min_confidence,
        )


@dataclass
class CorrelationReport:
    transitions: int = 0
    opened: list[int] = field(default_factory=list)
    joined: int = 0
    resolved: int = 0
    reopened: int = 0


def correlation_key(labels: Mapping[str, str], group_by: Sequence[str]) -> tuple[str, str]:
    """(key, how to say it): shared `group_by` values, else the alertname."""
    shared = [(name, labels[name]) for name in group_by if labels.get(name)]
    if shared:
        text = ", ".join(f"{name}={value}" for name, value in shared)
        return text, f"shares {text}"
    name = labels.get("alertname", "")
    return f"alertname={name}", f"same alertname {name} (no {'/'.join(group_by)} label)"


def _member(item: Mapping[str, Any], reason: str) -> Member:
    return Member(
        fingerprint=item["fingerprint"],
        alertname=item["alertname"],
        labels=item["labels"],
        annotations=item["annotations"],
        group_name=item["group_name"],
        reason=reason,
    )


class Correlator:
    """Applies the rules to one tenant's new transitions; `run` is one incremental pass."""

    def __init__(self, rules: CorrelationRules, policy: Policy) -> None:
        self.rules = rules
        self.policy = policy
        self._to_classify: dict[str, Incident] = {}

    def _cursor(self, db: Session, now: datetime) -> CorrelationCursor:
        cursor = db.scalar(select(CorrelationCursor))
        if cursor is None:
            cursor = CorrelationCursor(last_transition_id=0, pending={}, recent=[], updated_at=now)
            db.add(cursor)
        return cursor

    def run(self, db: Session, now: datetime, batch: int = 1000) -> CorrelationReport:
        self._to_classify = {}
        report = self._run(db, now, batch)
        for incident in self._to_classify.values():
            classify(db, incident, self.policy)
        self._to_classify = {}
        return report

    def _run(self, db: Session, now: datetime, batch: int) -> CorrelationReport:
        report = CorrelationReport()
        cursor = self._cursor(db, now)
        transitions = db.scalars(
            select(AlertTransition)
            .where(
                AlertTransition.id > cursor.last_transition_id,
                AlertTransition.to_state.in_(("firing", "resolved")),
            )
            .order_by(AlertTransition.id)
            .limit(batch)
        ).all()
        for transition in transitions:
            alert = db.scalar(
                select(AlertInstance).where(
                    AlertInstance.group_name == transition.group_name,
                    AlertInstance.fingerprint == transition.fingerprint,
                )
            )
            labels = dict(alert.labels) if alert else {}
            labels.setdefault("alertname", transition.rule_name)
            item = {
                "fingerprint": transition.fingerprint,
                "alertname": labels["alertname"],
                "labels": labels,
                "annotations": dict(alert.annotations) if alert else {},
                "group_name": transition.group_name,
                "at": transition.at.timestamp(),
            }
            if transition.to_state == "firing":
                self._firing(db, cursor, item, transition.at, report)
            else:
                self._resolved(db, cursor, item, transition.at, report)
            cursor.last_transition_id = transition.id
            report.transitions += 1
        cursor.updated_at = now
        return report

    # -- firing ------------------------------------------------------------------------

    def _firing(
        self,
        db: Session,
        cursor: CorrelationCursor,
        item: dict[str, Any],
        at: datetime,
        report: CorrelationReport,
    ) -> None:
        window = self.rules.window_seconds
        name = item["alertname"]
        recent = [r for r in cursor.recent if r[1] >= item["at"] - window]
        cooccurrence.record_firing(db, name, [r[0] for r in recent if r[2] != item["fingerprint"]])
        cursor.recent = [*recent, [name, item["at"], item["fingerprint"]]][-1000:]

        if self._known(db, item, at, report):
            return
        since = at - timedelta(seconds=window)
        key, shared = correlation_key(item["labels"], self.rules.group_by)
        open_recent = list(
            db.scalars(
                select(Incident)
                .where(Incident.status.in_(OPEN_STATUSES), Incident.last_alert_at >= since)
                .order_by(Incident.last_alert_at.desc(), Incident.number.desc())
            )
        )
        for incident in open_recent:
            if incident.correlation_key == key:
                reason = f"{shared} with incident #{incident.number} (within {window:g}s)"
                self._join(db, incident, _member(item, reason), at, report)
                return
        best: tuple[cooccurrence.Link, Incident] | None = None
        for incident in open_recent:
            names = {m.alertname for m in members_of(db, incident.id)}
            link = cooccurrence.best_link(
                db,
                name,
                names,
                min_count=self.rules.cooccurrence_min_count,
                min_confidence=self.rules.cooccurrence_min_confidence,
            )
            if link and (best is None or link.confidence > best[0].confidence):
                best = (link, incident)
        if best is not None:
            link, incident = best
            self._join(db, incident, _member(item, link.reason(name)), at, report)
            return
        self._wait_or_open(db, cursor, item, key, shared, at, report)

    def _known(
        self, db: Session, item: Mapping[str, Any], at: datetime, report: CorrelationReport
    ) -> bool:
        """Handle an alert that already belongs to an incident; False when it belongs nowhere
        it can go back to."""
        rows = db.execute(
            select(IncidentAlert, Incident)
            .join(Incident, Incident.id == IncidentAlert.incident_id)
            .where(IncidentAlert.fingerprint == item["fingerprint"])
            .order_by(IncidentAlert.joined_at.desc(), IncidentAlert.id.desc())
        ).all()
        for member, incident in rows:
            if incident.merged_into is not None:
                continue
            if incident.status in OPEN_STATUSES:
                if member.state != "firing":
                    member.state, member.resolved_at = "firing", None
                    incident.last_alert_at = max(incident.last_alert_at, at)
                    record(
                        db,
                        incident,
                        "alert_firing",
                        actor=ACTOR,
                        message=f"{member.alertname} fired again",
                        now=at,
                        data={"fingerprint": member.fingerprint},
                    )
                return True
            reopen_after = at - timedelta(seconds=self.rules.reopen_window_seconds)
            if incident.resolved_at is not None and incident.resolved_at >= reopen_after:
                member.state, member.resolved_at = "firing", None
                incident.last_alert_at = max(incident.last_alert_at, at)
                gap = (at - incident.resolved_at).total_seconds()
                change_status(
                    db,
                    incident,
                    "triggered",
                    now=at,
                    actor=ACTOR,
                    policy=self.policy,
                    reason=f"{member.alertname} fired again {gap:g}s after the incident resolved",
                )
                report.reopened += 1
                return True
            return False
        return False

    def _join(
        self,
        db: Session,
        incident: Incident,
        member: Member,
        at: datetime,
        report: CorrelationReport,
    ) -> None:
        add_member(db, incident, member, now=at, actor=ACTOR)
        # Classified once per pass, after every join (see `run`): per join it re-read and
        # re-vectorised all members, quadratic in a burst (147 joins stalled a pass 3.6 s).
        self._to_classify[incident.id] = incident
        report.joined += 1

    def _wait_or_open(
        self,
        db: Session,
        cursor: CorrelationCursor,
        item: dict[str, Any],
        key: str,
        shared: str,
        at: datetime,
        report: CorrelationReport,
    ) -> None:
        window = self.rules.window_seconds
        pending = {
            k: [p for p in items if p["at"] >= item["at"] - window]
            for k, items in cursor.pending.items()
        }
        waiting = [p for p in pending.get(key, []) if p["fingerprint"] != item["fingerprint"]]
        waiting.append(item)
        if len(waiting) < self.rules.min_alerts:
            pending[key] = waiting
            cursor.pending = {k: v for k, v in pending.items() if v}
            return
        pending.pop(key, None)
        cursor.pending = {k: v for k, v in pending.items() if v}
        if self.rules.min_alerts > 1:
            reason = (
                f"{len(waiting)} alerts with {key} fired within {window:g}s "
                f"(min_alerts {self.rules.min_alerts})"
            )
        else:
            reason = f"first alert with {key}"
        first = waiting[0]
        summary = first["annotations"].get("summary", "")
        title = f"{first['alertname']} ({key})" + (f": {summary}" if summary else "")
        incident = open_incident(
            db,
            title=title,
            members=[_member(p, f"opened the incident: {reason}") for p in waiting],
            now=at,
            actor=ACTOR,
            policy=self.policy,
            correlation_key=key,
            reason=reason,
        )
        report.opened.append(incident.number)

    # -- resolved ----------------------------------------------------------------------

    def _resolved(
        self,
        db: Session,
        cursor: CorrelationCursor,
        item: Mapping[str, Any],
        at: datetime,
        report: CorrelationReport,
    ) -> None:
        fingerprint = item["fingerprint"]
        if any(p["fingerprint"] == fingerprint for v in cursor.pending.values() for p in v):
            cursor.pending = {
                k: kept
                for k, v in cursor.pending.items()
                if (kept := [p for p in v if p["fingerprint"] != fingerprint])
            }
        rows = db.execute(
            select(IncidentAlert, Incident)
            .join(Incident, Incident.id == IncidentAlert.incident_id)
            .where(IncidentAlert.fingerprint == fingerprint, IncidentAlert.state == "firing")
        ).all()
        for member, incident in rows:
            member.state, member.resolved_at = "resolved", at
            record(
                db,
                incident,
                "alert_resolved",
                actor=ACTOR,
                message=f"{member.alertname} resolved",
                now=at,
                data={"fingerprint": fingerprint},
            )
            if not self.rules.auto_resolve or incident.status not in OPEN_STATUSES:
                continue
            db.flush()
            members = members_of(db, incident.id)
            if all(m.state == "resolved" for m in members):
                change_status(
                    db,
                    incident,
                    "resolved",
                    now=at,
                    actor=ACTOR,
                    policy=self.policy,
                    reason=f"all {len(members)} member alerts resolved",
                )
                report.resolved += 1


class CorrelationWorker(PeriodicWorker):
    """Runs the correlator over every enabled tenant each interval, then recounts the open
    incidents gauge. Lists all tenants; a lease would narrow that to this replica's share."""

    name = "incidents"
    placement = Placement.RUN_ONCE

    def __init__(
        self, *, correlator: Correlator, sessions: SessionFactory, clock: Clock, interval: float
    ) -> None:
        super().__init__(clock, interval)
        self.correlator = correlator
        self.sessions = sessions

    def run_once(self) -> dict[str, CorrelationReport]:
        with self.sessions.system("incident correlation: list tenants") as db:
            tenants = list(db.scalars(select(Tenant.id).where(Tenant.disabled.is_(False))))
        reports = {}
        for tenant_id in tenants:
            try:
                with self.sessions.tenant(tenant_id) as db:
                    reports[tenant_id] = self.correlator.run(db, self.clock.now())
            except Exception as exc:  # one tenant's failure must not starve the others
                log.error("incident_correlation_failed", tenant=tenant_id, exc_info=exc)
        refresh_open_gauge(self.sessions)
        return reports

    async def tick(self) -> None:
        await anyio.to_thread.run_sync(self.run_once)
