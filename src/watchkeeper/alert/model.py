"""Plain alert types shared by routing, grouping and muting: no I/O, no clock.

`Alert` is deliberately small so that both the rule evaluator and the Alertmanager-compatible
`POST /api/v2/alerts` endpoint can convert to it. Fingerprints are computed exactly like
Prometheus' `model.LabelSet.Fingerprint()` (FNV-1a 64 over sorted name/value pairs), so an
alert has the same fingerprint here as in Alertmanager.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from watchkeeper.config import parse_duration_ms

# Re-exported: routing, grouping and the API take it from here.
from watchkeeper.domain.fingerprint import fingerprint as fingerprint


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Alert:
    """One alert as the handling stages see it; times are Unix seconds.

    `ends_at` is None while an alert is firing with no known end. An alert counts as resolved
    once `status` says so or `ends_at` has passed (Alertmanager's `Resolved()`), see `status_at`.
    `flapping` lets an upstream state machine that already detected flapping say so.
    """

    labels: dict[str, str]
    starts_at: float
    annotations: dict[str, str] = field(default_factory=dict)
    ends_at: float | None = None
    status: AlertStatus = AlertStatus.FIRING
    generator_url: str = ""
    flapping: bool = False
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", fingerprint(self.labels))

    def status_at(self, now: float) -> AlertStatus:
        if self.status is AlertStatus.RESOLVED:
            return AlertStatus.RESOLVED
        if self.ends_at is not None and self.ends_at <= now:
            return AlertStatus.RESOLVED
        return AlertStatus.FIRING

    def resolved_at(self, now: float) -> bool:
        return self.status_at(now) is AlertStatus.RESOLVED

    def with_status_at(self, now: float) -> Alert:
        """This alert with `status` made explicit for `now` (what a notification reports)."""
        return replace(self, status=self.status_at(now))

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "status": self.status.value,
            "generator_url": self.generator_url,
            "flapping": self.flapping,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        ends_at = data.get("ends_at")
        return cls(
            labels={str(k): str(v) for k, v in data["labels"].items()},
            annotations={str(k): str(v) for k, v in data.get("annotations", {}).items()},
            starts_at=float(data["starts_at"]),
            ends_at=None if ends_at is None else float(ends_at),
            status=AlertStatus(data.get("status", "firing")),
            generator_url=str(data.get("generator_url", "")),
            flapping=bool(data.get("flapping", False)),
            fingerprint=str(data.get("fingerprint", "")),
        )


class ConfigError(ValueError):
    """An invalid handling configuration, pointing at where: `route.routes[2].matchers[0]: ...`."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def parse_duration(path: str, value: object) -> float:
    """A Prometheus duration (`30s`, `1h30m`, `1d`) or a number of seconds, as seconds."""
    if isinstance(value, bool):
        raise ConfigError(path, f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = parse_duration_ms(value) / 1000
        except ValueError:
            raise ConfigError(
                path, f"not a duration: {value!r} (expected e.g. 30s, 5m, 4h)"
            ) from None
    else:
        raise ConfigError(path, f"not a duration: {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(path, f"duration must be a non-negative number: {value!r}")
    return seconds
