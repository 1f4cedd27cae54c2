"""The alert-handling pipeline without I/O: route, group, mute, and say when to notify.

`HandlingConfig` reads the Alertmanager-style configuration (`route`, `inhibit_rules`,
`time_intervals`, optional `receivers` names). `Dispatcher` is Alertmanager's dispatcher in one
object: `receive` puts an alert into the aggregation groups of every route it matches,
`flush_due` runs the group timers that are due and returns the notifications they call for,
and `explain` answers `POST /api/v1/alerts/route-test`. It takes its time from a Clock, holds
no connections, and its state round-trips through `to_dict`/`from_dict` so the caller can
persist it (with the silences) in the same transaction as the outbox rows it writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.alert.flapping import FlapTracker
from watchkeeper.alert.grouping import AggregationGroup, FlapCheck, Notification
from watchkeeper.alert.model import Alert, ConfigError
from watchkeeper.alert.mute import (
    Inhibitor,
    InhibitRule,
    MuteKind,
    Muter,
    MuteReason,
    Silences,
    inhibit_rules_from_config,
)
from watchkeeper.alert.routing import Route, RouteTree, RoutingExplanation
from watchkeeper.alert.timeintervals import NamedTimeIntervals, time_intervals_from_config
from watchkeeper.clock import Clock

_TOP_LEVEL = frozenset(
    {"route", "inhibit_rules", "time_intervals", "mute_time_intervals", "receivers", "global"}
)


@dataclass(frozen=True)
class HandlingConfig:
    """The validated routing tree, inhibition rules and named time intervals."""

    tree: RouteTree
    inhibit_rules: tuple[InhibitRule, ...] = ()
    time_intervals: Mapping[str, NamedTimeIntervals] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, config: object) -> HandlingConfig:
        """Validate an Alertmanager-style mapping; `ConfigError.path` points at the problem.

        `receivers` (a list of `{name: ...}`) is optional: when present, routes must name one
        of them; the receivers' own settings belong to the notification channels.
        """
        if not isinstance(config, dict):
            raise ConfigError("(root)", "expected a map with a 'route'")
        for key in config:
            if key not in _TOP_LEVEL:
                raise ConfigError(str(key), f"unknown field (expected one of {sorted(_TOP_LEVEL)})")
        intervals = time_intervals_from_config("time_intervals", config.get("time_intervals"))
        legacy = time_intervals_from_config(
            "mute_time_intervals", config.get("mute_time_intervals")
        )
        for name in legacy:
            if name in intervals:
                raise ConfigError("mute_time_intervals", f"time interval {name!r} is defined twice")
        intervals.update(legacy)
        receivers = _receiver_names(config.get("receivers"))
        if "route" not in config:
            raise ConfigError("route", "a root route is required")
        tree = RouteTree.from_config(
            config["route"], time_intervals=set(intervals), receivers=receivers
        )
        rules = inhibit_rules_from_config("inhibit_rules", config.get("inhibit_rules"))
        return cls(tree, tuple(rules), intervals)


def _receiver_names(value: object) -> set[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ConfigError("receivers", "expected a list of receivers")
    names: set[str] = set()
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ConfigError(f"receivers[{index}]", "a receiver needs a name")
        if item["name"] in names:
            raise ConfigError(
                f"receivers[{index}].name", f"receiver {item['name']!r} is defined twice"
            )
        names.add(item["name"])
    return names


@dataclass(frozen=True)
class RouteDecision:
    """One destination route for an alert, with the group it lands in and its time muting."""

    route: Route
    group_key: str
    time_muted: MuteReason | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route.id,
            "receiver": self.route.receiver,
            "group_key": self.group_key,
            "group_wait": self.route.group_wait,
            "group_interval": self.route.group_interval,
            "repeat_interval": self.route.repeat_interval,
            "time_muted": None if self.time_muted is None else self.time_muted.to_dict(),
        }


@dataclass(frozen=True)
class AlertExplanation:
    """The answer to "where would this alert go, and would it be notified now?"."""

    labels: dict[str, str]
    at: float
    routing: RoutingExplanation
    decisions: tuple[RouteDecision, ...]
    mutes: tuple[MuteReason, ...]

    @property
    def notified(self) -> bool:
        """Whether some destination would notify it now (ignoring group timing)."""
        return not self.mutes and any(d.time_muted is None for d in self.decisions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": dict(self.labels),
            "at": self.at,
            "routes": [d.to_dict() for d in self.decisions],
            "steps": [s.to_dict() for s in self.routing.steps],
            "muted_by": [m.to_dict() for m in self.mutes],
            "would_notify": self.notified,
        }


class Dispatcher:
    """Routes alerts into aggregation groups and turns due group timers into notifications."""

    def __init__(
        self,
        config: HandlingConfig,
        *,
        clock: Clock,
        silences: Silences | None = None,
        flaps: FlapTracker | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.silences = silences if silences is not None else Silences()
        self.muter = Muter(self.silences, Inhibitor(config.inhibit_rules))
        self.flaps = flaps
        self.groups: dict[str, AggregationGroup] = {}

    def receive(self, alert: Alert) -> list[str]:
        """Take in a new or updated alert; the keys of the groups it now belongs to."""
        now = self.clock.time()
        self.muter.observe(alert)
        if self.flaps is not None:
            self.flaps.observe(alert.fingerprint, alert.status_at(now), now)
        keys: list[str] = []
        for route in self.config.tree.route_for(alert.labels):
            key = route.group_key(alert.labels)
            group = self.groups.get(key)
            if group is None:
                group = AggregationGroup(route, alert.labels, created_at=now)
                self.groups[key] = group
            group.insert(alert, now)
            keys.append(key)
        return keys

    def next_flush_at(self) -> float | None:
        """When the earliest group timer fires (for a worker to sleep until), if any."""
        return min((g.next_flush_at for g in self.groups.values()), default=None)

    def flush_due(self) -> list[Notification]:
        """Flush every group whose timer is due; drop groups left empty."""
        now = self.clock.time()
        notifications: list[Notification] = []
        for key, group in sorted(self.groups.items(), key=lambda item: item[1].next_flush_at):
            if group.next_flush_at > now:
                continue
            notification = group.flush(
                now,
                muted=lambda alert: self.muter.muted_by(alert, now),
                flapping=self._flapping_check(now),
                time_muted=self.time_muted(group.route, now),
            )
            if notification is not None:
                notifications.append(notification)
            if group.is_empty():
                del self.groups[key]
        if self.flaps is not None:
            live = {fp for g in self.groups.values() for fp in g.alerts}
            self.flaps.forget_stale(now, live)
        return notifications

    def _flapping_check(self, now: float) -> FlapCheck:
        flaps = self.flaps
        if flaps is None:
            return lambda alert: False
        return lambda alert: flaps.is_flapping(alert.fingerprint, now)

    def time_muted(self, route: Route, now: float) -> MuteReason | None:
        """Whether the route's mute/active time intervals hold its notifications at `now`."""
        intervals = self.config.time_intervals
        muting = [n for n in route.mute_time_intervals if intervals[n].contains(now)]
        if muting:
            return MuteReason(MuteKind.TIME_INTERVAL, time_intervals=tuple(muting))
        active = route.active_time_intervals
        if active and not any(intervals[n].contains(now) for n in active):
            return MuteReason(MuteKind.TIME_INTERVAL, time_intervals=tuple(active))
        return None

    def explain(self, labels: Mapping[str, str]) -> AlertExplanation:
        """Which routes, why, and which silences, inhibitions and time intervals apply now."""
        now = self.clock.time()
        routing = self.config.tree.explain(labels)
        decisions = tuple(
            RouteDecision(r, r.group_key(labels), self.time_muted(r, now)) for r in routing.routes
        )
        mutes = tuple(self.muter.reasons(labels, now=now))
        return AlertExplanation(dict(labels), now, routing, decisions, mutes)

    def to_dict(self) -> dict[str, Any]:
        """Group and flap state for persistence (silences persist separately via `silences`)."""
        return {
            "groups": [g.to_dict() for g in self.groups.values()],
            "flaps": None if self.flaps is None else self.flaps.to_dict(),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Load state saved by `to_dict`, under the current configuration.

        Groups whose route no longer exists (the config changed) are dissolved and their alerts
        routed again; those alerts may then be notified again under their new route.
        """
        self.groups.clear()
        if state.get("flaps") is not None:
            self.flaps = FlapTracker.from_dict(state["flaps"])
        orphans: list[Alert] = []
        known = {route.id for route in self.config.tree}
        for data in state.get("groups", []):
            if data["route"] not in known:
                orphans.extend(Alert.from_dict(a) for a in data["alerts"])
                continue
            group = AggregationGroup.from_dict(self.config.tree.get(data["route"]), data)
            self.groups[group.key] = group
            for alert in group.alerts.values():
                self.muter.observe(alert)
        for alert in orphans:
            self.receive(alert)
