"""The alert-group value that travels from the dispatcher to the channels.

One flush of one aggregation group (Alertmanager's `dispatch.aggrGroup` flush) becomes one
`AlertGroup`. It is typed on both sides of the outbox: the dispatcher builds it from its
alerts, the delivery pipeline reads it back from the outbox row, templates get its
`template_variables()`, and only the edge that speaks Alertmanager's wire format (the webhook
channel with `alertmanager_format`) calls `to_alertmanager()`.

The outbox row stores `to_payload()`: the same Alertmanager webhook body (version 4) plus
`changes`, so rows written before this type existed, the notifications API and operators
reading the table all see one stable shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .fingerprint import fingerprint
from .times import GO_ZERO_TIME, rfc3339

ZERO_TIME = rfc3339(GO_ZERO_TIME)
"""Alertmanager's `endsAt` for an alert still firing: `0001-01-01T00:00:00Z`."""


def am_time(value: object, default: str = ZERO_TIME) -> str:
    """A time as Alertmanager writes it: RFC 3339 with `Z`; `default` when unknown."""
    if isinstance(value, datetime):
        return rfc3339(value)
    return str(value) if value else default


def str_map(value: object) -> dict[str, str]:
    """A label or annotation map with string values (None values dropped)."""
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


@dataclass(frozen=True)
class GroupAlert:
    """One alert of a group, with Alertmanager's field meanings (times as RFC 3339 text)."""

    status: str  # "firing" | "resolved"
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: str = ZERO_TIME
    ends_at: str = ZERO_TIME  # ZERO_TIME while firing with no known end
    generator_url: str = ""
    fingerprint: str = ""

    @classmethod
    def create(
        cls,
        *,
        status: object,
        labels: object,
        annotations: object,
        starts_at: object = None,
        ends_at: object = None,
        generator_url: object = "",
        fingerprint_: object = "",
    ) -> GroupAlert:
        """Normalised: string maps, Alertmanager times, the label fingerprint when none."""
        label_map = str_map(labels)
        return cls(
            status="resolved" if status == "resolved" else "firing",
            labels=label_map,
            annotations=str_map(annotations),
            starts_at=am_time(starts_at),
            ends_at=am_time(ends_at),
            generator_url=str(generator_url or ""),
            fingerprint=str(fingerprint_ or fingerprint(label_map)),
        )

    @classmethod
    def from_alertmanager(cls, raw: Mapping[str, Any]) -> GroupAlert:
        """An alert of a stored Alertmanager body (`startsAt`, `generatorURL`, ...)."""
        return cls.create(
            status=raw.get("status", "firing"),
            labels=raw.get("labels"),
            annotations=raw.get("annotations"),
            starts_at=raw.get("startsAt"),
            ends_at=raw.get("endsAt"),
            generator_url=raw.get("generatorURL"),
            fingerprint_=raw.get("fingerprint"),
        )

    @classmethod
    def from_variables(cls, alert: Mapping[str, Any]) -> GroupAlert:
        """An alert of the template contract (`alert`/`alerts` variables: `name`, `summary`,
        `starts_at`, ...), as direct messages and incident notifications carry it."""
        labels = str_map(alert.get("labels"))
        if alert.get("name"):
            labels.setdefault("alertname", str(alert["name"]))
        annotations = str_map(alert.get("annotations"))
        for key in ("summary", "description"):
            if alert.get(key):
                annotations.setdefault(key, str(alert[key]))
        return cls.create(
            status=alert.get("status"),
            labels=labels,
            annotations=annotations,
            starts_at=alert.get("starts_at"),
            ends_at=alert.get("ends_at"),
            generator_url=alert.get("generator_url") or alert.get("url"),
            fingerprint_=alert.get("fingerprint"),
        )

    def to_alertmanager(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": self.starts_at,
            "endsAt": self.ends_at,
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }

    def template_variables(self) -> dict[str, Any]:
        """The template contract's `alert` shape."""
        return {
            "name": self.labels.get("alertname", ""),
            "status": self.status,
            "severity": self.labels.get("severity", ""),
            "summary": self.annotations.get("summary", ""),
            "description": self.annotations.get("description", ""),
            "value": "",
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "starts_at": None if self.starts_at == ZERO_TIME else self.starts_at,
            "ends_at": None if self.ends_at == ZERO_TIME else self.ends_at,
            "url": self.generator_url,
            "generator_url": self.generator_url,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True)
class AlertGroup:
    """What one receiver is told about one group: its alerts and what changed.

    `changes` lists fingerprints by change (`new`, `resolved`, `flapping`, `reminders`), the
    `unchanged` count, the flush `reason` and the group `summary`; `truncated` counts alerts
    left out before the group was stored.
    """

    alerts: tuple[GroupAlert, ...]
    receiver: str = ""
    group_key: str = ""
    group_labels: Mapping[str, str] = field(default_factory=dict)
    external_url: str = ""
    changes: Mapping[str, Any] = field(default_factory=dict)
    truncated: int = 0

    @property
    def status(self) -> str:
        return "firing" if any(a.status == "firing" for a in self.alerts) else "resolved"

    @property
    def common_labels(self) -> dict[str, str]:
        return _common([a.labels for a in self.alerts])

    @property
    def common_annotations(self) -> dict[str, str]:
        return _common([a.annotations for a in self.alerts])

    def key_labels(self) -> dict[str, str]:
        """The group labels, or (a message that names none) the common `alertname`."""
        return str_map(self.group_labels) or {
            k: v for k, v in self.common_labels.items() if k == "alertname"
        }

    def key(self) -> str:
        """The group key, or one in Alertmanager's form built from the group labels."""
        if self.group_key:
            return self.group_key
        pairs = ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(self.key_labels().items()))
        return f"{{}}:{{{pairs}}}"

    def to_alertmanager(
        self, *, receiver: str | None = None, max_alerts: int = 0
    ) -> dict[str, Any]:
        """Alertmanager's webhook body, version 4 (`webhook_config`); `max_alerts` > 0 keeps
        the first ones and counts the rest in `truncatedAlerts`, as Alertmanager does."""
        alerts = [a.to_alertmanager() for a in self.alerts]
        kept = alerts[:max_alerts] if max_alerts > 0 else alerts
        return {
            "version": "4",
            "groupKey": self.key(),
            "truncatedAlerts": len(alerts) - len(kept),
            "status": self.status,
            "receiver": self.receiver if receiver is None else receiver,
            "groupLabels": self.key_labels(),
            "commonLabels": self.common_labels,
            "commonAnnotations": self.common_annotations,
            "externalURL": self.external_url,
            "alerts": kept,
        }

    def to_payload(self) -> dict[str, Any]:
        """The outbox row's payload: the Alertmanager body plus `changes`."""
        return {**self.to_alertmanager(), "changes": dict(self.changes)}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> AlertGroup | None:
        """The group an outbox payload holds; None for a payload that is not one (a direct
        message, an incident, a digest carry template variables instead)."""
        if str(payload.get("version")) != "4" or "alerts" not in payload:
            return None
        raw = payload.get("alerts") or []
        return cls(
            alerts=tuple(GroupAlert.from_alertmanager(a) for a in raw if isinstance(a, Mapping)),
            receiver=str(payload.get("receiver") or ""),
            group_key=str(payload.get("groupKey") or ""),
            group_labels=str_map(payload.get("groupLabels")),
            external_url=str(payload.get("externalURL") or ""),
            changes=dict(payload.get("changes") or {}),
            truncated=int(payload.get("truncatedAlerts") or 0),
        )

    @classmethod
    def from_variables(cls, variables: Mapping[str, Any]) -> AlertGroup:
        """A group from template variables (`alerts`, or one `alert`; `group_labels`,
        `group_key`, `external_url`), for messages that were not routed as a group."""
        raw = variables.get("alerts") or ([variables["alert"]] if "alert" in variables else [])
        return cls(
            alerts=tuple(GroupAlert.from_variables(a) for a in raw if isinstance(a, Mapping)),
            group_key=str(variables.get("group_key") or ""),
            group_labels=str_map(variables.get("group_labels")),
            external_url=str(variables.get("external_url") or ""),
        )

    def template_variables(self) -> dict[str, Any]:
        """The template contract for a group: `alert` (the first firing one), `alerts`,
        `status`, the group's keys and labels, and `changes`."""
        alerts = [a.template_variables() for a in self.alerts]
        first = next((a for a in alerts if a["status"] == "firing"), alerts[0] if alerts else {})
        return {
            "status": self.status,
            "alert": first,
            "alerts": alerts,
            "group_key": self.group_key,
            "group_labels": dict(self.group_labels),
            "common_labels": self.common_labels,
            "common_annotations": self.common_annotations,
            "external_url": self.external_url,
            "receiver": self.receiver,
            "changes": dict(self.changes),
            "truncated_alerts": self.truncated,
        }
