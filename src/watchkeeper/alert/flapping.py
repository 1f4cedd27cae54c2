"""Flap detection on the notification side: an alert that keeps changing state is notified once.

Alertmanager has none (prometheus/alertmanager#204, #3048): an alert that fires and resolves
every few minutes pages every few minutes. Here each alert's firing<->resolved transitions are
counted over a sliding `window`; at `threshold` transitions it becomes *flapping*, the group
sends one "flapping" notice and holds further changes for it; once no transition has happened
for a whole `window` it is stable again and its current state is notified if it differs from
what the receiver was last told. The rule evaluator may detect flapping itself and set
`Alert.flapping`; this tracker covers alerts that arrive from outside (Prometheus, webhooks).

State survives a restart through `to_dict`/`from_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from watchkeeper.alert.model import AlertStatus


@dataclass
class _History:
    status: AlertStatus
    transitions: list[float] = field(default_factory=list)
    flapping_since: float | None = None


class FlapTracker:
    """Counts state transitions per alert fingerprint and says which alerts are flapping."""

    def __init__(self, *, threshold: int = 4, window: float = 1800.0) -> None:
        if threshold < 2:
            raise ValueError("a flap threshold below 2 transitions would mark every change")
        if window <= 0:
            raise ValueError("the flap window must be positive")
        self.threshold = threshold
        self.window = window
        self._history: dict[str, _History] = {}

    def observe(self, fingerprint: str, status: AlertStatus, now: float) -> None:
        """Record the alert's status as seen at `now` (a transition when it changed)."""
        history = self._history.get(fingerprint)
        if history is None:
            self._history[fingerprint] = _History(status)
            return
        if status is history.status:
            return
        history.status = status
        history.transitions = [t for t in history.transitions if t > now - self.window]
        history.transitions.append(now)
        if history.flapping_since is None and len(history.transitions) >= self.threshold:
            history.flapping_since = now

    def is_flapping(self, fingerprint: str, now: float) -> bool:
        """Flapping from the threshold-th transition until a whole window passes without one."""
        history = self._history.get(fingerprint)
        if history is None or history.flapping_since is None:
            return False
        if history.transitions and history.transitions[-1] > now - self.window:
            return True
        history.flapping_since = None
        history.transitions.clear()
        return False

    def forget_stale(self, now: float, keep: set[str]) -> None:
        """Drop histories with no recent transition whose alerts are gone (`keep` stays)."""
        for fingerprint in list(self._history):
            history = self._history[fingerprint]
            recent = history.transitions and history.transitions[-1] > now - self.window
            if fingerprint not in keep and not recent and history.flapping_since is None:
                del self._history[fingerprint]

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "window": self.window,
            "alerts": {
                fp: {
                    "status": h.status.value,
                    "transitions": list(h.transitions),
                    "flapping_since": h.flapping_since,
                }
                for fp, h in self._history.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlapTracker:
        tracker = cls(threshold=int(data["threshold"]), window=float(data["window"]))
        for fp, item in data.get("alerts", {}).items():
            since = item.get("flapping_since")
            tracker._history[fp] = _History(
                AlertStatus(item["status"]),
                [float(t) for t in item.get("transitions", [])],
                None if since is None else float(since),
            )
        return tracker
