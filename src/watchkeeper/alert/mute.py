"""Silences and inhibition rules: what keeps an alert from being notified, and why.

Silences follow Alertmanager's model: matchers plus a `[startsAt, endsAt)` window, an author
and a comment; the state is derived from the clock (pending before the start, active inside the
window, expired after). Expiring a silence moves its end to "now"; expired silences stay in the
registry as history until `forget_expired` is called with a retention.

Inhibition follows Alertmanager's `inhibit.Inhibitor`: a target alert is muted while a firing
source alert exists whose `equal` labels have the same values (an absent label equals an absent
label); an alert that matches both sides is not inhibited by alerts that also match both, so
an alert never inhibits itself.

State that must survive a restart is `Silences` (`to_dict`/`from_dict`); the inhibitor's source
cache is rebuilt by observing the current alerts again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from watchkeeper.alert.matchers import (
    format_matcher,
    legacy_matchers,
    matchers_from_config,
    matches,
)
from watchkeeper.alert.model import Alert, ConfigError
from watchkeeper.domain.regex import RegexError
from watchkeeper.domain.series import Matcher, MatchOp


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


class SilenceError(ValueError):
    """A silence that cannot be created or changed as asked."""


@dataclass(frozen=True)
class Silence:
    """A user's instruction to mute alerts matching `matchers` during `[starts_at, ends_at)`."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    updated_at: float

    def state_at(self, now: float) -> SilenceState:
        if now < self.starts_at:
            return SilenceState.PENDING
        if now < self.ends_at:
            return SilenceState.ACTIVE
        return SilenceState.EXPIRED

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        if self.state_at(now) is not SilenceState.ACTIVE:
            return False
        try:
            return matches(self.matchers, labels)
        except RegexError:
            # Stored before regexes were RE2 (e.g. a lookahead): it mutes nothing rather than
            # stopping every notification; creating or updating one validates it.
            return False

    def to_dict(self) -> dict[str, Any]:
        """Alertmanager's v2 silence fields (times as Unix seconds), for storage and the API."""
        return {
            "id": self.id,
            "matchers": [
                {
                    "name": m.name,
                    "value": m.value,
                    "isRegex": m.op in (MatchOp.REGEX, MatchOp.NOT_REGEX),
                    "isEqual": m.op in (MatchOp.EQUAL, MatchOp.REGEX),
                }
                for m in self.matchers
            ],
            "startsAt": self.starts_at,
            "endsAt": self.ends_at,
            "createdBy": self.created_by,
            "comment": self.comment,
            "updatedAt": self.updated_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Silence:
        return cls(
            id=str(data["id"]),
            matchers=tuple(matcher_from_api(m) for m in data["matchers"]),
            starts_at=float(data["startsAt"]),
            ends_at=float(data["endsAt"]),
            created_by=str(data["createdBy"]),
            comment=str(data["comment"]),
            updated_at=float(data.get("updatedAt", data["startsAt"])),
        )


def matcher_from_api(data: Mapping[str, Any]) -> Matcher:
    """A matcher from Alertmanager's v2 API form `{name, value, isRegex, isEqual}`."""
    regex = bool(data.get("isRegex", False))
    equal = bool(data.get("isEqual", True))
    op = {
        (False, True): MatchOp.EQUAL,
        (False, False): MatchOp.NOT_EQUAL,
        (True, True): MatchOp.REGEX,
        (True, False): MatchOp.NOT_REGEX,
    }[(regex, equal)]
    return Matcher(str(data["name"]), op, str(data["value"]))


class Silences:
    """The silence registry: create, update, expire, query; expired ones are kept as history.

    Persist with `to_dict()` after each change and restore with `from_dict()`.
    """

    def __init__(self, new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self._silences: dict[str, Silence] = {}
        self._new_id = new_id

    def create(
        self,
        *,
        matchers: Iterable[Matcher],
        starts_at: float,
        ends_at: float,
        created_by: str,
        comment: str,
        now: float,
    ) -> Silence:
        """A new silence; a start in the past becomes "now" (as Alertmanager does)."""
        silence = Silence(
            id=self._new_id(),
            matchers=tuple(matchers),
            starts_at=max(starts_at, now),
            ends_at=ends_at,
            created_by=created_by,
            comment=comment,
            updated_at=now,
        )
        _validate(silence, now)
        self._silences[silence.id] = silence
        return silence

    def update(
        self,
        silence_id: str,
        *,
        now: float,
        matchers: Iterable[Matcher] | None = None,
        starts_at: float | None = None,
        ends_at: float | None = None,
        comment: str | None = None,
        created_by: str | None = None,
    ) -> Silence:
        """Change a silence; returns the silence now in force (possibly under a new id).

        As in Alertmanager, an active silence whose matchers or start change is expired and
        replaced by a new one, so history shows what was muted when. Expired ones are read-only.
        """
        old = self.get(silence_id)
        state = old.state_at(now)
        if state is SilenceState.EXPIRED:
            raise SilenceError(f"silence {silence_id} has expired and cannot be changed")
        new = replace(
            old,
            matchers=old.matchers if matchers is None else tuple(matchers),
            starts_at=old.starts_at if starts_at is None else max(starts_at, now),
            ends_at=old.ends_at if ends_at is None else ends_at,
            comment=old.comment if comment is None else comment,
            created_by=old.created_by if created_by is None else created_by,
            updated_at=now,
        )
        _validate(new, now)
        in_place = state is SilenceState.PENDING or (
            new.matchers == old.matchers and new.starts_at == old.starts_at
        )
        if in_place:
            self._silences[old.id] = new
            return new
        self.expire(old.id, now=now)
        replacement = replace(new, id=self._new_id())
        self._silences[replacement.id] = replacement
        return replacement

    def expire(self, silence_id: str, *, now: float) -> Silence:
        """End a silence now; a pending one is expired without ever having been active."""
        old = self.get(silence_id)
        state = old.state_at(now)
        if state is SilenceState.EXPIRED:
            raise SilenceError(f"silence {silence_id} has already expired")
        starts_at = now if state is SilenceState.PENDING else old.starts_at
        expired = replace(old, starts_at=starts_at, ends_at=now, updated_at=now)
        self._silences[old.id] = expired
        return expired

    def get(self, silence_id: str) -> Silence:
        try:
            return self._silences[silence_id]
        except KeyError:
            raise SilenceError(f"no silence with id {silence_id}") from None

    def select(self, *, now: float, state: SilenceState | None = None) -> list[Silence]:
        """All silences (or those in one state), newest start first."""
        found = [s for s in self._silences.values() if state is None or s.state_at(now) is state]
        return sorted(found, key=lambda s: (-s.starts_at, s.id))

    def muting(self, labels: Mapping[str, str], *, now: float) -> list[Silence]:
        """The active silences that match a label set."""
        return [s for s in self._silences.values() if s.mutes(labels, now)]

    def forget_expired(self, *, now: float, retention: float) -> list[str]:
        """Drop silences that expired more than `retention` seconds ago; their ids."""
        gone = [s.id for s in self._silences.values() if s.ends_at + retention <= now]
        for silence_id in gone:
            del self._silences[silence_id]
        return gone

    def to_dict(self) -> dict[str, Any]:
        return {"silences": [s.to_dict() for s in self._silences.values()]}

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], new_id: Callable[[], str] = lambda: str(uuid.uuid4())
    ) -> Silences:
        silences = cls(new_id)
        for item in data.get("silences", []):
            silence = Silence.from_dict(item)
            silences._silences[silence.id] = silence
        return silences


def _validate(silence: Silence, now: float) -> None:
    if not silence.matchers:
        raise SilenceError("a silence needs at least one matcher")
    for m in silence.matchers:
        if not m.name:
            raise SilenceError("a matcher needs a label name")
        if m.op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
            try:
                _ = m.regex
            except RegexError as exc:
                raise SilenceError(f"invalid regex in {format_matcher(m)}: {exc.reason}") from None
    if all(m.matches("") for m in silence.matchers):
        # Alertmanager's rule: such a silence would mute every alert.
        raise SilenceError("at least one matcher must not match the empty string")
    if silence.ends_at <= silence.starts_at:
        raise SilenceError("endsAt must be after startsAt")
    if silence.ends_at <= now:
        raise SilenceError("endsAt must be in the future")
    if not silence.created_by.strip():
        raise SilenceError("createdBy is required")
    if not silence.comment.strip():
        raise SilenceError("comment is required")


@dataclass(frozen=True)
class InhibitRule:
    """Mute alerts matching `target` while a firing alert matches `source` with equal labels."""

    index: int
    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, path: str, index: int, config: object) -> InhibitRule:
        if not isinstance(config, dict):
            raise ConfigError(path, "expected a map with source_matchers, target_matchers, equal")
        known = {"source_matchers", "target_matchers", "source_match", "source_match_re"}
        known |= {"target_match", "target_match_re", "equal"}
        for key in config:
            if key not in known:
                raise ConfigError(
                    f"{path}.{key}", f"unknown field (expected one of {sorted(known)})"
                )
        source = matchers_from_config(f"{path}.source_matchers", config.get("source_matchers"))
        source += legacy_matchers(path, config, "source_")
        target = matchers_from_config(f"{path}.target_matchers", config.get("target_matchers"))
        target += legacy_matchers(path, config, "target_")
        equal = config.get("equal") or []
        if isinstance(equal, str):  # Alertmanager accepted a comma-separated string once
            equal = [part.strip() for part in equal.split(",") if part.strip()]
        if not isinstance(equal, list):
            raise ConfigError(f"{path}.equal", "expected a list of label names")
        for i, name in enumerate(equal):
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{path}.equal[{i}]", f"invalid label name {name!r}")
        return cls(index, tuple(source), tuple(target), tuple(equal))


def inhibit_rules_from_config(path: str, value: object) -> list[InhibitRule]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(path, "expected a list of inhibition rules")
    return [InhibitRule.from_config(f"{path}[{i}]", i, item) for i, item in enumerate(value)]


class MuteKind(StrEnum):
    SILENCE = "silence"
    INHIBITION = "inhibition"
    TIME_INTERVAL = "time_interval"


@dataclass(frozen=True)
class MuteReason:
    """Why an alert (or a route's notification) is muted, precise enough to show a user."""

    kind: MuteKind
    silence_ids: tuple[str, ...] = ()
    inhibit_rule: int | None = None
    source_fingerprint: str | None = None
    source_labels: dict[str, str] = field(default_factory=dict)
    time_intervals: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind is MuteKind.SILENCE:
            return "silenced by " + ", ".join(self.silence_ids)
        if self.kind is MuteKind.INHIBITION:
            return (
                f"inhibited by alert {self.source_fingerprint} (inhibit_rules[{self.inhibit_rule}])"
            )
        return "outside the route's active times / inside its mute times: " + ", ".join(
            self.time_intervals
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "silence_ids": list(self.silence_ids),
            "inhibit_rule": self.inhibit_rule,
            "source_fingerprint": self.source_fingerprint,
            "source_labels": dict(self.source_labels),
            "time_intervals": list(self.time_intervals),
            "description": self.describe(),
        }


class Inhibitor:
    """Inhibition rules plus a cache of the alerts that can act as sources."""

    def __init__(self, rules: Iterable[InhibitRule]) -> None:
        self.rules = tuple(rules)
        self._sources: dict[str, Alert] = {}

    def observe(self, alert: Alert) -> None:
        """Remember the latest version of an alert that matches some rule's source side."""
        if any(matches(rule.source_matchers, alert.labels) for rule in self.rules):
            self._sources[alert.fingerprint] = alert

    def inhibitions(self, labels: Mapping[str, str], *, now: float) -> list[MuteReason]:
        """Every (rule, source alert) pair that inhibits this label set at `now`."""
        self._sources = {fp: a for fp, a in self._sources.items() if not a.resolved_at(now)}
        found: list[MuteReason] = []
        for rule in self.rules:
            if not matches(rule.target_matchers, labels):
                continue
            two_sided = matches(rule.source_matchers, labels)
            for source in self._sources.values():
                if not matches(rule.source_matchers, source.labels):
                    continue
                if any(source.labels.get(n, "") != labels.get(n, "") for n in rule.equal):
                    continue
                if two_sided and matches(rule.target_matchers, source.labels):
                    continue
                found.append(
                    MuteReason(
                        MuteKind.INHIBITION,
                        inhibit_rule=rule.index,
                        source_fingerprint=source.fingerprint,
                        source_labels=dict(source.labels),
                    )
                )
        return found


class Muter:
    """Silences and inhibitions together: `muted_by` answers "is this alert muted, and why?"."""

    def __init__(self, silences: Silences, inhibitor: Inhibitor) -> None:
        self.silences = silences
        self.inhibitor = inhibitor

    def observe(self, alert: Alert) -> None:
        self.inhibitor.observe(alert)

    def reasons(self, labels: Mapping[str, str], *, now: float) -> list[MuteReason]:
        """Everything that mutes this label set at `now`: inhibitions first, then silences."""
        found = self.inhibitor.inhibitions(labels, now=now)
        silences = self.silences.muting(labels, now=now)
        if silences:
            found.append(MuteReason(MuteKind.SILENCE, silence_ids=tuple(s.id for s in silences)))
        return found

    def muted_by(self, alert: Alert, now: float) -> MuteReason | None:
        """The first reason the alert is muted at `now`, or None when it is not muted."""
        found = self.reasons(alert.labels, now=now)
        return found[0] if found else None
