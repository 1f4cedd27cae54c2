"""Escalation policies: ordered levels of targets, each waiting before the next, repeated.

A policy takes the incidents whose severity it lists (none listed: any) and whose labels
its matchers match (Alertmanager matcher syntax); the first policy by `position` wins.

    EscalationPolicy(levels=[
        Level(targets=[Target(type="schedule", id="primary")], wait_minutes=15),
        Level(targets=[Target(type="user", id="lead"), Target(type="receiver", id="ops")]),
    ], repeat=1, reminder_hours=4, severities=["critical"], matchers=['service="checkout"'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from watchkeeper.alert.matchers import MatcherParseError, matches, parse_matcher
from watchkeeper.notify.base import NotificationChannel


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Target(_Doc):
    """Who a level notifies: a user (id or username), an on-call schedule (id or name), or
    a receiver (name; every integration of it)."""

    type: Literal["user", "schedule", "receiver"]
    id: str = Field(min_length=1, max_length=200)


class Level(_Doc):
    targets: list[Target] = Field(min_length=1, max_length=50)
    wait_minutes: float = Field(
        15.0, ge=0, le=7 * 24 * 60, description="minutes before the next level is notified"
    )
    channels: list[NotificationChannel] = Field(
        default_factory=lambda: [NotificationChannel.EMAIL],
        min_length=1,
        description="how users and schedule members are reached (receivers use their own)",
    )


class EscalationPolicy(_Doc):
    levels: list[Level] = Field(min_length=1, max_length=20)
    repeat: int = Field(0, ge=0, le=20, description="times the levels run again from the first")
    reminder_hours: float | None = Field(
        None, gt=0, le=24 * 7, description="remind acknowledged, unresolved incidents this often"
    )
    severities: list[str] = Field(default_factory=list, description="empty: every severity")
    matchers: list[str] = Field(default_factory=list, description='e.g. service=~"api|web"')

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, value: list[str]) -> list[str]:
        for text in value:
            try:
                parse_matcher(text)
            except MatcherParseError as exc:
                raise ValueError(f"matcher {text!r}: {exc}") from None
        return value

    def takes(self, severity: str, labels: Mapping[str, str]) -> bool:
        if self.severities and severity not in self.severities:
            return False
        try:
            return matches([parse_matcher(m) for m in self.matchers], labels)
        except MatcherParseError:  # stored before regexes were RE2; saving it again says why
            return False


def choose_policy(
    policies: Sequence[tuple[str, EscalationPolicy]], severity: str, labels: Mapping[str, str]
) -> str | None:
    """The id of the first policy (in the given order) that takes the incident."""
    for policy_id, policy in policies:
        if policy.takes(severity, labels):
            return policy_id
    return None
