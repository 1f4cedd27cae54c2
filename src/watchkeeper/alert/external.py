"""Alerts from an existing stack: Prometheus' notifier (Alertmanager API v2) and Alertmanager's
webhook (version 4), turned into the same `AlertInstance` rows and alert events as our own.

So Watchkeeper can sit behind Prometheus or Alertmanager: the dispatcher then routes, groups,
silences and inhibits these alerts exactly like the evaluator's. The lifecycle follows
Alertmanager's (`types.Alert.Resolved`): an alert is firing until its `endsAt` passes or a
sender says it is resolved. Prometheus re-sends every firing alert each evaluation with
`endsAt` a few intervals ahead, so one that stops being sent resolves by itself; an alert
sent without `endsAt` gets Alertmanager's `resolve_timeout` (5 minutes). Alertmanager's
webhook carries no end for firing alerts: those stay firing until it sends them resolved.

A re-send of a firing alert changes no state and queues no event (dedup by fingerprint);
the first resolved send (or expiry) queues one resolved event. There is no pending state:
the sender already applied its `for`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import anyio
import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from watchkeeper.alert.model import fingerprint
from watchkeeper.alert.state import FlapPolicy, Transitions, load_by_fingerprint
from watchkeeper.clock import Clock
from watchkeeper.db.tables import AlertInstance
from watchkeeper.runtime.worker import PeriodicWorker, Placement
from watchkeeper.tenancy.scope import SessionFactory

log = structlog.get_logger(__name__)

Source = Literal["prometheus", "alertmanager"]
GROUP_PREFIX = "external:"
RESOLVE_TIMEOUT_SECONDS = 300.0
"""Alertmanager's default `resolve_timeout`: the end of an alert sent without `endsAt`."""
MAX_ALERTS_PER_REQUEST = 10_000
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)
_RULE_NAME_MAX = 200  # the column's width


class ExternalAlertError(ValueError):
    """A body that is not what the sender's format allows, naming where (`[2].labels`)."""


@dataclass(frozen=True)
class ReceivedAlert:
    """One alert as a sender states it; times are aware datetimes, `ends_at` None = no end."""

    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    generator_url: str = ""
    resolved: bool = False
    fingerprint: str = field(default="")


@dataclass
class ReceiveResult:
    """What one request changed, for the response and tests."""

    received: int = 0
    fired: int = 0
    resolved: int = 0
    events: int = 0


def group_name(source: Source) -> str:
    return f"{GROUP_PREFIX}{source}"


# -- parsing ------------------------------------------------------------------------------


def parse_time(value: object, where: str) -> datetime | None:
    """An RFC 3339 time as Go writes it (nanoseconds allowed); Go's zero time and "" are None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ExternalAlertError(f"{where}: expected an RFC 3339 time string, got {value!r}")
    match = _RFC3339.match(value.strip())
    if match is None:
        raise ExternalAlertError(
            f"{where}: {value!r} is not an RFC 3339 time (e.g. 2026-11-28T10:00:00Z)"
        )
    day, clock_time, fraction, zone = match.groups()
    micro = (fraction or "0")[:6].ljust(6, "0")
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock_time}.{micro}{zone}")
    except ValueError as exc:
        raise ExternalAlertError(f"{where}: {value!r} is not a valid time: {exc}") from None
    if parsed.year <= 1:  # Go's zero time.Time: "no time"
        return None
    return parsed.astimezone(UTC)


def _string_map(value: object, where: str, *, names: bool) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ExternalAlertError(f"{where}: expected an object of strings")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise ExternalAlertError(f"{where}.{key}: values must be strings, got {item!r}")
        if names and not _LABEL_NAME.match(key):
            raise ExternalAlertError(f"{where}: invalid label name {key!r}")
        out[key] = item
    return out


def _alert(item: object, where: str, *, with_status: bool) -> ReceivedAlert:
    """One alert object; the checks are Alertmanager's `types.Alert.Validate`."""
    if not isinstance(item, Mapping):
        raise ExternalAlertError(f"{where}: expected an alert object")
    labels = {
        k: v for k, v in _string_map(item.get("labels"), f"{where}.labels", names=True).items() if v
    }
    if not labels:
        raise ExternalAlertError(f"{where}.labels: at least one non-empty label is required")
    annotations = _string_map(item.get("annotations"), f"{where}.annotations", names=False)
    starts_at = parse_time(item.get("startsAt"), f"{where}.startsAt")
    ends_at = parse_time(item.get("endsAt"), f"{where}.endsAt")
    if starts_at is not None and ends_at is not None and ends_at < starts_at:
        raise ExternalAlertError(f"{where}: endsAt is before startsAt")
    url = item.get("generatorURL", "")
    if not isinstance(url, str):
        raise ExternalAlertError(f"{where}.generatorURL: expected a string")
    resolved = False
    if with_status:
        status = item.get("status")
        if status not in ("firing", "resolved"):
            raise ExternalAlertError(f"{where}.status: expected 'firing' or 'resolved'")
        resolved = status == "resolved"
    return ReceivedAlert(
        labels, annotations, starts_at, ends_at, url, resolved, fingerprint(labels)
    )


def parse_postable_alerts(body: object) -> list[ReceivedAlert]:
    """Alertmanager API v2 `postableAlerts`: a JSON list of {labels, annotations, startsAt,
    endsAt, generatorURL}, as Prometheus' notifier sends it."""
    if not isinstance(body, list):
        raise ExternalAlertError("expected a JSON list of alerts (Alertmanager API v2)")
    if len(body) > MAX_ALERTS_PER_REQUEST:
        raise ExternalAlertError(f"at most {MAX_ALERTS_PER_REQUEST} alerts per request")
    return [_alert(item, f"[{i}]", with_status=False) for i, item in enumerate(body)]


def parse_webhook(body: object) -> list[ReceivedAlert]:
    """Alertmanager's webhook body, version "4": {version, status, alerts: [{status, labels,
    annotations, startsAt, endsAt, generatorURL, fingerprint}], ...}."""
    if not isinstance(body, Mapping):
        raise ExternalAlertError("expected Alertmanager's webhook object (version 4)")
    version = body.get("version")
    if version != "4":
        raise ExternalAlertError(
            f"version: only Alertmanager webhook version '4' is understood, got {version!r}"
        )
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise ExternalAlertError("alerts: expected a list of alerts")
    if len(alerts) > MAX_ALERTS_PER_REQUEST:
        raise ExternalAlertError(f"alerts: at most {MAX_ALERTS_PER_REQUEST} alerts per request")
    return [_alert(item, f"alerts[{i}]", with_status=True) for i, item in enumerate(alerts)]


# -- state --------------------------------------------------------------------------------


class ExternalAlerts:
    """Applies received alerts to the tenant's alert rows, one transaction per request."""

    def __init__(self, sessions: SessionFactory, clock: Clock, flap: FlapPolicy) -> None:
        self.sessions = sessions
        self.clock = clock
        self.flap = flap

    def receive(self, tenant_id: str, source: Source, alerts: list[ReceivedAlert]) -> ReceiveResult:
        """Apply the alerts; a concurrent first send of the same alert is retried once."""
        try:
            return self._receive(tenant_id, source, alerts)
        except IntegrityError:  # two requests created the same row: the second now updates it
            return self._receive(tenant_id, source, alerts)

    def _receive(
        self, tenant_id: str, source: Source, alerts: list[ReceivedAlert]
    ) -> ReceiveResult:
        now_s = self.clock.time()
        result = ReceiveResult(received=len(alerts))
        group = group_name(source)
        with self.sessions.tenant(tenant_id) as db:
            rows = load_by_fingerprint(db, group, {a.fingerprint for a in alerts})
            transitions = Transitions(db, now_s, self.flap)
            for alert in alerts:
                row = rows.get(alert.fingerprint)
                ends_at = self._ends_at(source, alert, transitions.now)
                if alert.resolved or (ends_at is not None and ends_at <= transitions.now):
                    if row is not None and _claim(db, row, "resolved"):
                        self._update(row, alert, transitions.now)
                        _resolve(transitions, row, ends_at or transitions.now)
                        result.resolved += 1
                    continue
                if row is None:
                    row = self._new_row(group, alert, transitions.now)
                    db.add(row)
                    db.flush()  # a concurrent first send fails here, on the unique key
                    rows[alert.fingerprint] = row
                self._update(row, alert, transitions.now)
                row.ends_at = ends_at  # when it resolves unless it is sent again
                if row.state != "firing" and _claim(db, row, "firing"):
                    started = min(alert.starts_at or transitions.now, transitions.now)
                    row.active_at = row.fired_at = started
                    row.keep_firing_since = None
                    transitions.change(row, "firing")
                    result.fired += 1
            result.events = transitions.queued
        return result

    @staticmethod
    def _ends_at(source: Source, alert: ReceivedAlert, now: datetime) -> datetime | None:
        if alert.ends_at is not None or source == "alertmanager":
            return alert.ends_at
        return now + timedelta(seconds=RESOLVE_TIMEOUT_SECONDS)

    @staticmethod
    def _new_row(group: str, alert: ReceivedAlert, now: datetime) -> AlertInstance:
        return AlertInstance(
            group_name=group,
            rule_name="",
            fingerprint=alert.fingerprint,
            labels=alert.labels,
            annotations={},
            state="inactive",
            value=0.0,  # senders do not say; NaN would be NULL in SQLite
            active_at=now,
            last_evaluation=now,
            flapping=False,
            changes=[],
            generator_url="",
        )

    @staticmethod
    def _update(row: AlertInstance, alert: ReceivedAlert, now: datetime) -> None:
        row.rule_name = alert.labels.get("alertname", "")[:_RULE_NAME_MAX]
        row.labels = alert.labels
        if row.annotations != alert.annotations:
            row.annotations = alert.annotations
        row.generator_url = alert.generator_url
        row.last_evaluation = now

    def expire(self) -> int:
        """Resolve firing external alerts whose endsAt has passed; returns how many."""
        now = self.clock.now()
        with self.sessions.system("external alerts: find expired") as db:
            tenants = sorted(
                set(
                    db.scalars(
                        select(AlertInstance.tenant_id).where(
                            AlertInstance.state == "firing",
                            AlertInstance.group_name.startswith(GROUP_PREFIX),
                            AlertInstance.ends_at.is_not(None),
                            AlertInstance.ends_at <= now,
                        )
                    )
                )
            )
        resolved = 0
        for tenant_id in tenants:
            with self.sessions.tenant(tenant_id) as db:
                resolved += self._expire_tenant(db, now)
        return resolved

    def _expire_tenant(self, db: Session, now: datetime) -> int:
        transitions = Transitions(db, now.timestamp(), self.flap)
        rows = db.scalars(
            select(AlertInstance).where(
                AlertInstance.state == "firing",
                AlertInstance.group_name.startswith(GROUP_PREFIX),
                AlertInstance.ends_at.is_not(None),
                AlertInstance.ends_at <= now,
            )
        ).all()
        resolved = 0
        for row in rows:
            assert row.ends_at is not None
            if _claim(db, row, "resolved"):
                _resolve(transitions, row, row.ends_at)
                resolved += 1
        return resolved


def _claim(db: Session, row: AlertInstance, to_state: str) -> bool:
    """Whether this transaction is the one that moves the row into `to_state`.

    Senders overlap (a Prometheus HA pair sends the same alerts; the expiry worker and a
    resolved webhook race), so the change is a compare-and-set in the database: the row lock
    (PostgreSQL) or the write lock (SQLite) makes a second claimant see the new state and
    back off, and only the first queues the event.
    """
    if row.state == to_state:
        return False
    wanted = ("firing",) if to_state == "resolved" else ("pending", "resolved", "inactive")
    claimed = db.execute(
        update(AlertInstance)
        .where(AlertInstance.id == row.id, AlertInstance.state.in_(wanted))
        .values(state=to_state)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(claimed, "rowcount", 0) or 0) == 1:
        return True
    db.refresh(row)  # another transaction changed it: work from what it wrote
    return False


def _resolve(transitions: Transitions, row: AlertInstance, ends_at: datetime) -> None:
    row.ends_at = min(ends_at, transitions.now)
    transitions.change(row, "resolved")


def webhook_summary(result: ReceiveResult) -> dict[str, Any]:
    return {
        "status": "success",
        "received": result.received,
        "fired": result.fired,
        "resolved": result.resolved,
    }


class ExternalAlertExpiry(PeriodicWorker):
    """Resolves external alerts whose `endsAt` passed without a re-send (Prometheus stopped
    sending them: the rule no longer fires, or Prometheus is gone)."""

    name = "external-alert-expiry"
    placement = Placement.RUN_ONCE

    def __init__(self, alerts: ExternalAlerts, clock: Clock, interval: float = 5.0) -> None:
        super().__init__(clock, interval)
        self.alerts = alerts

    async def tick(self) -> None:
        resolved = await anyio.to_thread.run_sync(self.alerts.expire)
        if resolved:
            log.info("external_alerts_expired", resolved=resolved)
