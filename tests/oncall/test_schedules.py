"""Who is on call: rotation handoffs at local time (across DST), overrides."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from watchkeeper.oncall.schedules import Override, Rotation, Schedule, who_is_on_call


def _weekly(zone: str = "UTC") -> Schedule:
    return Schedule(
        timezone=zone,
        rotations=[
            Rotation(users=["ana", "bo", "cy"], length_hours=24, start=datetime(2026, 3, 27, 9))
        ],
    )


def test_daily_rotation_hands_off_at_the_handoff_time() -> None:
    schedule = _weekly()
    assert who_is_on_call(schedule, datetime(2026, 3, 27, 9, 0, tzinfo=UTC)) == ["ana"]
    assert who_is_on_call(schedule, datetime(2026, 3, 28, 8, 59, tzinfo=UTC)) == ["ana"]
    assert who_is_on_call(schedule, datetime(2026, 3, 28, 9, 0, tzinfo=UTC)) == ["bo"]
    assert who_is_on_call(schedule, datetime(2026, 3, 30, 9, 0, tzinfo=UTC)) == ["ana"]
    assert who_is_on_call(schedule, datetime(2026, 3, 27, 8, 0, tzinfo=UTC)) == []


def test_handoff_stays_at_local_nine_across_the_dst_change() -> None:
    # Europe/Berlin moves to summer time on 2026-03-29: 09:00 local is 08:00 UTC then 07:00 UTC.
    schedule = _weekly("Europe/Berlin")
    assert who_is_on_call(schedule, datetime(2026, 3, 29, 6, 59, tzinfo=UTC)) == ["bo"]
    assert who_is_on_call(schedule, datetime(2026, 3, 29, 7, 0, tzinfo=UTC)) == ["cy"]
    assert who_is_on_call(schedule, datetime(2026, 3, 28, 8, 0, tzinfo=UTC)) == ["bo"]


def test_an_override_replaces_the_rotation_while_it_lasts() -> None:
    schedule = _weekly()
    schedule.overrides.append(
        Override(
            user="dee",
            start=datetime(2026, 3, 27, 12, tzinfo=UTC),
            end=datetime(2026, 3, 27, 18, tzinfo=UTC),
        )
    )
    assert who_is_on_call(schedule, datetime(2026, 3, 27, 11, 59, tzinfo=UTC)) == ["ana"]
    assert who_is_on_call(schedule, datetime(2026, 3, 27, 12, tzinfo=UTC)) == ["dee"]
    assert who_is_on_call(schedule, datetime(2026, 3, 27, 18, tzinfo=UTC)) == ["ana"]


def test_bad_documents_are_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        Schedule(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="end must be after"):
        Override(
            user="x",
            start=datetime(2026, 1, 2, tzinfo=UTC),
            end=datetime(2026, 1, 1, tzinfo=UTC),
        )
