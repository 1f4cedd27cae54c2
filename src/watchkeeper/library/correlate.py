"""Correlation of events into incidents, in memory, by the server's shared-labels rule.

An event joins the open group with the same correlation key (the values of the `group_by`
labels, else the event's name: `watchkeeper.incidents.correlation.correlation_key`) whose
last event is within the window; otherwise it opens a group. Groups with fewer than
`min_events` events are not incidents. The server's correlator also links alerts by learned
co-occurrence, which needs its stored firing history; that rule is not applied here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from watchkeeper.incidents.correlation import correlation_key

if TYPE_CHECKING:
    from watchkeeper.library.ai import AnomalyResult


@dataclass(frozen=True)
class Event:
    """Something that happened: an alert firing, an anomaly, a deploy."""

    name: str
    timestamp: datetime
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass
class CorrelatedIncident:
    """Events grouped by one correlation key; `reason` says why they belong together."""

    key: str
    reason: str
    events: list[Event]

    @property
    def started_at(self) -> datetime:
        return self.events[0].timestamp

    @property
    def last_seen_at(self) -> datetime:
        return self.events[-1].timestamp

    @property
    def names(self) -> list[str]:
        return sorted({e.name for e in self.events})


class IncidentCorrelator:
    """Groups events into incidents: shared labels within `window_minutes` of each other."""

    def __init__(
        self,
        *,
        window_minutes: float = 10.0,
        group_by: tuple[str, ...] = ("service", "cluster"),
        min_events: int = 1,
    ) -> None:
        if window_minutes <= 0:
            raise ValueError(f"window_minutes must be positive, not {window_minutes}")
        if min_events < 1:
            raise ValueError(f"min_events must be at least 1, not {min_events}")
        self.window = timedelta(minutes=window_minutes)
        self.group_by = group_by
        self.min_events = min_events

    def correlate(self, events: Iterable[Event]) -> list[CorrelatedIncident]:
        """Incidents in the order they started."""
        open_groups: dict[str, CorrelatedIncident] = {}
        groups: list[CorrelatedIncident] = []
        for event in sorted(events, key=lambda e: e.timestamp):
            key, reason = correlation_key({"alertname": event.name, **event.labels}, self.group_by)
            group = open_groups.get(key)
            if group is None or event.timestamp - group.last_seen_at > self.window:
                group = CorrelatedIncident(key, reason, [])
                open_groups[key] = group
                groups.append(group)
            group.events.append(event)
        return [g for g in groups if len(g.events) >= self.min_events]

    def correlate_anomalies(
        self,
        results: Iterable[AnomalyResult],
        labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> list[CorrelatedIncident]:
        """Incidents from anomaly results (only `is_anomaly` ones); `labels` gives each metric
        its labels (e.g. {"cpu_usage": {"service": "db"}}) so metrics of one service group."""
        labels = labels or {}
        return self.correlate(
            Event(r.metric, r.timestamp, dict(labels.get(r.metric, {})))
            for r in results
            if r.is_anomaly
        )
