"""Aggregation groups: alerts batched per route and `group_by` values, flushed on a timer.

Timing mirrors Alertmanager's `dispatch.aggrGroup`: a new group waits `group_wait` (or flushes
at once when its first alert started more than `group_wait` ago), then is flushed every
`group_interval`; a flush notifies only when something changed, or when `repeat_interval` has
passed since the group's last notification and alerts are still firing.

What a notification carries differs on purpose (prometheus/alertmanager#2686): Alertmanager
re-sends the whole group whenever one alert changes; here a `Notification` lists only the
alerts that are newly firing, newly resolved or newly flapping since this group's previous
notification, plus `reminders` when the repeat interval is due, and a `GroupSummary` counting
the rest. The group remembers which alerts the receiver was told are firing (`notified`), so a
resolution is sent exactly for those; with the route's `send_resolved_after_silence` that also
holds for alerts silenced or inhibited after they were notified (prometheus/alertmanager#226).

A group's state must survive restarts (alerts, `notified`, timing): `to_dict`/`from_dict`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from watchkeeper.alert.model import Alert
from watchkeeper.alert.mute import MuteReason
from watchkeeper.alert.routing import Route


class NotifyReason(StrEnum):
    CHANGED = "changed"
    REPEAT = "repeat"


@dataclass(frozen=True)
class GroupSummary:
    """Counts for the group at flush time, so a receiver sees the whole without a resend."""

    firing: int
    unchanged: int
    muted: int
    flapping: int

    def to_dict(self) -> dict[str, int]:
        return {
            "firing": self.firing,
            "unchanged": self.unchanged,
            "muted": self.muted,
            "flapping": self.flapping,
        }


@dataclass(frozen=True)
class Notification:
    """What one flush of one group asks the receiver to be told."""

    group_key: str
    route_id: str
    receiver: str
    group_labels: dict[str, str]
    at: float
    reason: NotifyReason
    firing: tuple[Alert, ...] = ()
    resolved: tuple[Alert, ...] = ()
    flapping: tuple[Alert, ...] = ()
    reminders: tuple[Alert, ...] = ()
    summary: GroupSummary = field(default_factory=lambda: GroupSummary(0, 0, 0, 0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "group_key": self.group_key,
            "route": self.route_id,
            "receiver": self.receiver,
            "group_labels": dict(self.group_labels),
            "at": self.at,
            "reason": self.reason.value,
            "firing": [a.to_dict() for a in self.firing],
            "resolved": [a.to_dict() for a in self.resolved],
            "flapping": [a.to_dict() for a in self.flapping],
            "reminders": [a.to_dict() for a in self.reminders],
            "summary": self.summary.to_dict(),
        }


MuteCheck = Callable[[Alert], MuteReason | None]
FlapCheck = Callable[[Alert], bool]


class AggregationGroup:
    """The alerts of one (route, group labels) pair and what its receiver was last told."""

    def __init__(self, route: Route, labels: dict[str, str], *, created_at: float) -> None:
        self.route = route
        self.key = route.group_key(labels)
        self.labels = route.group_labels(labels)
        self.alerts: dict[str, Alert] = {}
        self.notified: set[str] = set()  # fingerprints the receiver believes are firing
        self.flap_notified: set[str] = set()  # flapping notice already sent
        self.last_notified_at: float | None = None
        self.next_flush_at = created_at + route.group_wait
        self.has_flushed = False

    def insert(self, alert: Alert, now: float) -> None:
        """Add or update an alert (dedup by fingerprint, keeping the first `starts_at`)."""
        current = self.alerts.get(alert.fingerprint)
        if (
            current is not None
            and not current.resolved_at(now)
            and current.starts_at < alert.starts_at
        ):
            alert = replace(alert, starts_at=current.starts_at)
        self.alerts[alert.fingerprint] = alert
        # Alertmanager: an alert that has already waited group_wait is not delayed further.
        if not self.has_flushed and alert.starts_at + self.route.group_wait <= now:
            self.next_flush_at = min(self.next_flush_at, now)

    def is_empty(self) -> bool:
        return not self.alerts

    def flush(
        self,
        now: float,
        *,
        muted: MuteCheck,
        flapping: FlapCheck,
        time_muted: MuteReason | None = None,
    ) -> Notification | None:
        """One tick of the group timer: the notification it calls for, if any.

        While the route is muted by its time intervals nothing is sent and nothing is
        forgotten: resolutions wait in the group until the route is active again.
        """
        self.next_flush_at = now + self.route.group_interval
        self.has_flushed = True
        if time_muted is not None:
            return None
        new_firing: list[Alert] = []
        new_resolved: list[Alert] = []
        new_flapping: list[Alert] = []
        unchanged: list[Alert] = []
        firing_total = muted_count = flapping_count = 0
        settled: list[str] = []
        for alert in sorted(self.alerts.values(), key=lambda a: (a.starts_at, a.fingerprint)):
            fp = alert.fingerprint
            resolved = alert.resolved_at(now)
            if not resolved:
                firing_total += 1
            if alert.flapping or flapping(alert):
                flapping_count += 1
                if fp not in self.flap_notified and muted(alert) is None:
                    new_flapping.append(alert.with_status_at(now))
                continue
            self.flap_notified.discard(fp)
            if resolved:
                settled.append(fp)
                if fp in self.notified and self._announces_resolution(alert, muted):
                    new_resolved.append(alert.with_status_at(now))
                else:
                    self.notified.discard(fp)
                continue
            if muted(alert) is not None:
                muted_count += 1
            elif fp in self.notified:
                unchanged.append(alert)
            else:
                new_firing.append(alert.with_status_at(now))
        for fp in settled:
            del self.alerts[fp]
        repeat_due = bool(unchanged) and (
            self.last_notified_at is None
            or now - self.last_notified_at >= self.route.repeat_interval
        )
        reminders = unchanged if repeat_due else []
        if not (new_firing or new_resolved or new_flapping or reminders):
            return None
        self.notified |= {a.fingerprint for a in new_firing + new_flapping}
        self.notified -= {a.fingerprint for a in new_resolved}
        self.flap_notified |= {a.fingerprint for a in new_flapping}
        self.last_notified_at = now
        changed = new_firing or new_resolved or new_flapping
        return Notification(
            group_key=self.key,
            route_id=self.route.id,
            receiver=self.route.receiver,
            group_labels=dict(self.labels),
            at=now,
            reason=NotifyReason.CHANGED if changed else NotifyReason.REPEAT,
            firing=tuple(new_firing),
            resolved=tuple(new_resolved),
            flapping=tuple(new_flapping),
            reminders=tuple(a.with_status_at(now) for a in reminders),
            summary=GroupSummary(
                firing=firing_total,
                unchanged=len(unchanged) - len(reminders),
                muted=muted_count,
                flapping=flapping_count,
            ),
        )

    def _announces_resolution(self, alert: Alert, muted: MuteCheck) -> bool:
        if not self.route.send_resolved:
            return False
        # Alertmanager drops the resolution of a still-silenced alert (prometheus/alertmanager#226); the route may ask
        # for it, since the receiver was told this alert was firing.
        return self.route.send_resolved_after_silence or muted(alert) is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route.id,
            "labels": dict(self.labels),
            "alerts": [a.to_dict() for a in self.alerts.values()],
            "notified": sorted(self.notified),
            "flap_notified": sorted(self.flap_notified),
            "last_notified_at": self.last_notified_at,
            "next_flush_at": self.next_flush_at,
            "has_flushed": self.has_flushed,
        }

    @classmethod
    def from_dict(cls, route: Route, data: dict[str, Any]) -> AggregationGroup:
        group = cls(route, dict(data["labels"]), created_at=0.0)
        group.alerts = {a.fingerprint: a for a in map(Alert.from_dict, data["alerts"])}
        group.notified = set(data.get("notified", []))
        group.flap_notified = set(data.get("flap_notified", []))
        last = data.get("last_notified_at")
        group.last_notified_at = None if last is None else float(last)
        group.next_flush_at = float(data["next_flush_at"])
        group.has_flushed = bool(data.get("has_flushed", False))
        return group
