"""On-call schedules: rotations with handoff times in a time zone, plus overrides.

Rotations hand off at the same *local* time (09:00 Europe/Berlin stays 09:00 across a DST
change), so their arithmetic runs on local wall-clock times: a rotation that spans a DST
change is an hour longer or shorter in absolute time, as an operator expects.
Everyone a rotation puts on call at a moment is on call; an override replaces them all
while it lasts (PagerDuty's "final schedule" with one layer of overrides).

    schedule = Schedule(timezone="Europe/Berlin", rotations=[Rotation(
        users=["ana", "bo"], length_hours=168, start=datetime(2026, 11, 2, 9))])
    who_is_on_call(schedule, at)   # ["ana"] in the first week, ["bo"] the next
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rotation(_Doc):
    """Users taking turns, each `length_hours` long, the first from `start` (local time)."""

    name: str = Field("", max_length=200)
    users: list[str] = Field(min_length=1, max_length=500)
    length_hours: float = Field(gt=0, le=24 * 366, description="one turn; 24 daily, 168 weekly")
    start: datetime = Field(description="first handoff, local wall time of the schedule's zone")
    end: datetime | None = Field(None, description="no one from this rotation after this")

    @field_validator("users")
    @classmethod
    def _users(cls, value: list[str]) -> list[str]:
        if any(not u.strip() or len(u) > 254 for u in value):
            raise ValueError("users must be non-empty names of at most 254 characters")
        return value

    @field_validator("start", "end")
    @classmethod
    def _local(cls, value: datetime | None) -> datetime | None:
        # A handoff is a local wall time; an offset given anyway is dropped, not converted.
        return value.replace(tzinfo=None) if value is not None else None

    @model_validator(mode="after")
    def _ordered(self) -> Rotation:
        if self.end is not None and self.end <= self.start:
            raise ValueError("rotation end must be after its start")
        return self


class Override(_Doc):
    """`user` is on call instead of the rotations from `start` to `end` (absolute times)."""

    user: str = Field(min_length=1, max_length=254)
    start: datetime
    end: datetime

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("override times need a UTC offset, e.g. 2026-12-24T18:00:00Z")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        if self.end <= self.start:
            raise ValueError("override end must be after its start")
        return self


class Schedule(_Doc):
    timezone: str = Field("UTC", max_length=64, description="IANA zone, e.g. Europe/Berlin")
    rotations: list[Rotation] = Field(default_factory=list, max_length=20)
    overrides: list[Override] = Field(default_factory=list, max_length=1000)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _local(at: datetime, zone: ZoneInfo) -> datetime:
    """`at` as a naive local wall time in `zone`."""
    return at.astimezone(zone).replace(tzinfo=None)


def rotation_user(rotation: Rotation, at: datetime, zone: ZoneInfo) -> str | None:
    local = _local(at, zone)
    if local < rotation.start or (rotation.end is not None and local >= rotation.end):
        return None
    turns = math.floor((local - rotation.start) / timedelta(hours=rotation.length_hours))
    return rotation.users[turns % len(rotation.users)]


def who_is_on_call(schedule: Schedule, at: datetime) -> list[str]:
    """Everyone on call at `at` (aware): the active overrides' users, else each rotation's."""
    if at.tzinfo is None:
        raise ValueError("`at` must be timezone-aware")
    overriding = [o.user for o in schedule.overrides if o.start <= at < o.end]
    if overriding:
        return list(dict.fromkeys(overriding))
    zone = schedule.zone
    found = (rotation_user(r, at, zone) for r in schedule.rotations)
    return list(dict.fromkeys(u for u in found if u is not None))
