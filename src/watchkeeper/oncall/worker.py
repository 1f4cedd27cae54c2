"""The escalation timer: walks each open incident up its policy's levels, writing outbox rows.

Per tenant and tick, in one transaction: new triggered incidents get an `EscalationState`
from the first policy that takes them; a level whose time has come queues one outbox row per
target and channel (idempotency key `esc:<incident>:<cycle>:<repeat>:<level>:<n>`, so a tick
re-run after a crash queues nothing twice) and schedules the next level `wait_minutes`
after its own due time (no drift from the tick interval). Acknowledging stops the walk;
an acknowledged incident is reminded every `reminder_hours`; resolving ends it. An incident
triggered again (un-acknowledged or reopened) starts over in a new `cycle`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
import structlog
from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from watchkeeper.clock import Clock
from watchkeeper.db.tables import EscalationState, Membership, Tenant, User
from watchkeeper.incidents.lifecycle import PRIORITY as INCIDENT_PRIORITY
from watchkeeper.notify.outbox import OutboxMessage, enqueue
from watchkeeper.runtime.worker import PeriodicWorker, Placement
from watchkeeper.tenancy.scope import SessionFactory

from . import service
from .incidents import IncidentSource, IncidentView
from .policies import EscalationPolicy, Level, choose_policy
from .schedules import who_is_on_call

log = structlog.get_logger(__name__)

# Incident severities (critical/high/medium/low) as the incidents stage maps them, plus the
# alert-style names a hand-made IncidentSource may use.
PRIORITY_BY_SEVERITY = {**INCIDENT_PRIORITY, "warning": "high", "info": "low"}


@dataclass(frozen=True)
class TickReport:
    notified: int  # outbox rows queued
    started: int  # escalations begun


class EscalationWorker(PeriodicWorker):
    name = "escalation"
    placement = Placement.RUN_ONCE

    def __init__(
        self,
        sessions: SessionFactory,
        incidents: IncidentSource,
        clock: Clock,
        *,
        interval: float = 15.0,
    ) -> None:
        super().__init__(clock, interval)
        self.sessions = sessions
        self.incidents = incidents

    async def tick(self) -> None:
        await anyio.to_thread.run_sync(self.run_due)

    def run_due(self) -> TickReport:
        with self.sessions.system("escalation: list tenants") as db:
            tenants = list(db.scalars(select(Tenant.id).where(Tenant.disabled.is_(False))))
        notified = started = 0
        for tenant_id in tenants:
            try:
                with self.sessions.tenant(tenant_id) as db:
                    step = _TenantStep(db, self.clock.now())
                    step.run(self.incidents.open_incidents(db))
                    notified, started = notified + step.notified, started + step.started
            except Exception as exc:  # one tenant's bad data must not stop the others' pages
                log.error("escalation_failed", tenant=tenant_id, exc_info=exc)
        return TickReport(notified, started)


class _TenantStep:
    def __init__(self, db: Session, now: datetime) -> None:
        self.db = db
        self.now = now
        self.notified = 0
        self.started = 0
        self.policies: dict[str, EscalationPolicy] = {}
        for row in service.list_policies(db):
            try:
                self.policies[row.id] = service.policy_of(row)
            except ValidationError as exc:
                log.warning("escalation_policy_invalid", policy=row.name, error=str(exc))

    def run(self, incidents: Sequence[IncidentView]) -> None:
        states = {s.incident_id: s for s in self.db.scalars(select(EscalationState))}
        open_ids = set()
        for incident in incidents:
            open_ids.add(incident.id)
            self.advance(incident, states.get(incident.id))
        for incident_id, state in states.items():
            if incident_id not in open_ids and state.status != "done":
                state.status, state.next_at, state.updated_at = "done", None, self.now

    def advance(self, incident: IncidentView, state: EscalationState | None) -> None:
        if state is None:
            ordered = list(self.policies.items())
            policy_id = choose_policy(ordered, incident.severity, incident.labels)
            if policy_id is None:
                return
            state = EscalationState(
                incident_id=incident.id,
                policy_id=policy_id,
                status="escalating",
                cycle=0,
                level=0,
                repeat=0,
                next_at=incident.created_at,
                last_level=-1,
                reminders=0,
                updated_at=self.now,
            )
            self.db.add(state)
            self.started += 1
        policy = self.policies.get(state.policy_id)
        if policy is None:  # the policy was deleted: nothing left to walk
            state.status, state.next_at = "done", None
            return
        if incident.status == "acknowledged":
            self._acknowledged(incident, state, policy)
        elif incident.status == "triggered":
            if state.status in ("acknowledged", "done"):
                state.cycle += 1
                state.status, state.level, state.repeat, state.reminders = "escalating", 0, 0, 0
                state.next_at = self.now
            self._escalate(incident, state, policy)
        state.updated_at = self.now

    def _escalate(
        self, incident: IncidentView, state: EscalationState, policy: EscalationPolicy
    ) -> None:
        budget = len(policy.levels) * (policy.repeat + 1)
        while state.status == "escalating" and state.next_at is not None:
            if state.next_at > self.now or budget <= 0:
                return
            budget -= 1
            level = policy.levels[state.level]
            key = f"esc:{incident.id}:{state.cycle}:{state.repeat}:{state.level}"
            self._notify(incident, level, key, state, kind="escalation")
            state.last_level = state.level
            due: datetime | None = state.next_at + timedelta(minutes=level.wait_minutes)
            state.level += 1
            if state.level == len(policy.levels):
                if state.repeat < policy.repeat:
                    state.repeat += 1
                    state.level = 0
                else:
                    state.status, due = "exhausted", None
            state.next_at = due

    def _acknowledged(
        self, incident: IncidentView, state: EscalationState, policy: EscalationPolicy
    ) -> None:
        if state.status in ("escalating", "exhausted", "done"):
            state.status, state.reminders = "acknowledged", 0
            since = incident.acknowledged_at or self.now
            state.next_at = (
                since + timedelta(hours=policy.reminder_hours) if policy.reminder_hours else None
            )
            return
        if state.next_at is None or state.next_at > self.now or not policy.reminder_hours:
            return
        level = policy.levels[max(state.last_level, 0)]
        key = f"esc-remind:{incident.id}:{state.cycle}:{state.reminders}"
        self._notify(incident, level, key, state, kind="reminder")
        state.reminders += 1
        step = timedelta(hours=policy.reminder_hours)
        state.next_at = max(state.next_at + step, self.now + step / 2)

    def _notify(
        self, incident: IncidentView, level: Level, key: str, state: EscalationState, kind: str
    ) -> None:
        payload = _variables(incident, state, kind)
        priority = PRIORITY_BY_SEVERITY.get(incident.severity, "normal")
        n = 0
        for target in level.targets:
            messages: list[tuple[str, str, tuple[str, ...]]]
            if target.type == "receiver":
                messages = [("", target.id, ())]
            else:
                users = self._users(target.type, target.id)
                messages = [
                    (channel.value, "", (self._address(user, channel.value),))
                    for user in users
                    for channel in level.channels
                ]
            for channel, receiver, recipients in messages:
                message = OutboxMessage(
                    idempotency_key=f"{key}:{n}",
                    channel=channel,
                    receiver=receiver,
                    recipients=recipients,
                    priority=priority,
                    payload=payload,
                    source="escalation",
                    source_ref=incident.id,
                )
                n += 1
                if enqueue(self.db, message, self.now) is not None:
                    self.notified += 1

    def _users(self, kind: str, ident: str) -> list[str]:
        if kind == "user":
            return [ident]
        try:
            row = service.find_schedule(self.db, ident)
            return who_is_on_call(service.schedule_of(row), self.now)
        except Exception as exc:  # a missing schedule must not stop the rest of the level
            log.warning("escalation_schedule_unusable", schedule=ident, error=str(exc))
            return []

    def _address(self, user: str, channel: str) -> str:
        """Email goes to the address of a member of this tenant; other channels get the name.

        Users are global: without the membership join (filtered to this tenant by the
        session) a user removed from the tenant after the policy was saved, or another
        tenant's user of that name, would still be mailed this tenant's incident.
        """
        if channel != "email" or "@" in user:
            return user
        email = self.db.scalar(
            select(User.email)
            .join(Membership, Membership.user_id == User.id)
            .where(or_(User.id == user, User.username == user))
        )
        return email or user


def _variables(incident: IncidentView, state: EscalationState, kind: str) -> dict[str, Any]:
    """Template variables: the incident, the escalation step, and an `alert` view of both so
    the default templates render a sensible page."""
    title = incident.title or f"Incident {incident.id}"
    label = f"#{incident.number} " if incident.number is not None else ""
    prefix = "Reminder: still acknowledged, not resolved: " if kind == "reminder" else ""
    return {
        "incident": {
            "id": incident.id,
            "number": incident.number,
            "title": title,
            "status": incident.status,
            "severity": incident.severity,
            "labels": dict(incident.labels),
            "created_at": incident.created_at.isoformat(),
        },
        "escalation": {
            "kind": kind,
            "level": state.level,
            "repeat": state.repeat,
            "cycle": state.cycle,
            "reminder": state.reminders,
        },
        "alert": {
            "name": title,
            "status": incident.status,
            "severity": incident.severity,
            "summary": f"{prefix}incident {label}{title}",
            "labels": dict(incident.labels),
            "starts_at": incident.created_at.isoformat(),
        },
        "status": incident.status,
    }
