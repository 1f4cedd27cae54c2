"""Alertmanager time intervals: fields, ranges, negative days, month edges and time zones."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from watchkeeper.alert.model import ConfigError
from watchkeeper.alert.timeintervals import TimeInterval, time_intervals_from_config


def at(text: str, zone: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def interval(**fields: object) -> TimeInterval:
    return TimeInterval.from_dict("time_intervals[0].time_intervals[0]", fields)


BUSINESS_HOURS = {
    "times": [{"start_time": "09:00", "end_time": "17:00"}],
    "weekdays": ["monday:friday"],
}


@pytest.mark.parametrize(
    ("fields", "instant", "inside"),
    [
        (BUSINESS_HOURS, at("2024-01-08T09:00"), True),  # Monday, start inclusive
        (BUSINESS_HOURS, at("2024-01-08T16:59"), True),
        (BUSINESS_HOURS, at("2024-01-08T17:00"), False),  # end exclusive
        (BUSINESS_HOURS, at("2024-01-06T12:00"), False),  # Saturday
        (BUSINESS_HOURS, at("2024-01-07T12:00"), False),  # Sunday (weekday 0)
        ({"weekdays": ["saturday", "sunday"]}, at("2024-01-07T12:00"), True),
        ({"weekdays": ["Sunday"]}, at("2024-01-07T00:00"), True),  # names are case-insensitive
        ({"times": [{"start_time": "22:00", "end_time": "24:00"}]}, at("2024-01-08T23:59"), True),
        ({"times": [{"start_time": "00:00", "end_time": "06:00"}]}, at("2024-01-08T06:00"), False),
        ({"days_of_month": ["-1"]}, at("2024-02-29T12:00"), True),  # leap year's last day
        ({"days_of_month": ["-1"]}, at("2023-02-28T12:00"), True),
        ({"days_of_month": ["-1"]}, at("2024-02-28T12:00"), False),
        ({"days_of_month": ["-3:-1"]}, at("2023-02-26T00:00"), True),
        ({"days_of_month": ["-3:-1"]}, at("2023-02-25T23:59"), False),
        ({"days_of_month": ["25:31"]}, at("2023-02-28T12:00"), True),  # end clamped to the month
        ({"days_of_month": ["31"]}, at("2024-04-30T12:00"), False),  # April has no 31st
        ({"days_of_month": ["1:-1"]}, at("2024-04-30T12:00"), True),
        ({"months": ["november:december"]}, at("2024-12-31T23:00"), True),
        ({"months": ["1:3"]}, at("2024-04-01T00:00"), False),
        ({"months": ["january", "july"]}, at("2024-07-15T00:00"), True),
        ({"years": ["2020:2022", "2030"]}, at("2024-07-15T00:00"), False),
        ({"years": ["2020:2022", "2030"]}, at("2030-01-01T00:00"), True),
        ({}, at("2024-07-15T00:00"), True),  # no field: always
    ],
)
def test_contains(fields: dict[str, object], instant: float, inside: bool) -> None:
    assert interval(**fields).contains(instant) is inside


@pytest.mark.parametrize(
    ("utc", "inside"),
    [
        ("2024-01-08T22:30", True),  # Monday in UTC, Tuesday 09:30 in Sydney (UTC+11)
        ("2024-01-05T22:30", False),  # Friday in UTC, Saturday in Sydney
        ("2024-01-07T22:30", True),  # Sunday in UTC, Monday 09:30 in Sydney
        ("2024-01-08T06:00", False),  # Monday 17:00 in Sydney: end exclusive
    ],
)
def test_location_moves_weekdays_and_hours(utc: str, inside: bool) -> None:
    sydney = interval(**BUSINESS_HOURS, location="Australia/Sydney")
    assert sydney.contains(at(utc)) is inside


@pytest.mark.parametrize(
    ("utc", "inside"),
    [
        ("2024-03-29T08:30", True),  # 09:30 CET (UTC+1)
        ("2024-04-02T07:30", True),  # 09:30 CEST (UTC+2) after the DST change
        ("2024-04-02T15:30", False),  # 17:30 CEST, though 16:30 in CET terms
    ],
)
def test_location_follows_daylight_saving(utc: str, inside: bool) -> None:
    berlin = interval(**BUSINESS_HOURS, location="Europe/Berlin")
    assert berlin.contains(at(utc)) is inside


def test_named_interval_matches_any_of_its_parts() -> None:
    named = time_intervals_from_config(
        "time_intervals",
        [
            {
                "name": "off-hours",
                "time_intervals": [
                    {"weekdays": ["saturday", "sunday"]},
                    {"times": [{"start_time": "18:00", "end_time": "24:00"}]},
                ],
            }
        ],
    )["off-hours"]
    assert named.contains(at("2024-01-06T10:00"))  # Saturday
    assert named.contains(at("2024-01-08T19:00"))  # Monday evening
    assert not named.contains(at("2024-01-08T10:00"))


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({"weekdays": ["friday:monday"]}, ".weekdays[0]", "start day is after"),
        ({"weekdays": ["funday"]}, ".weekdays[0]", "not a weekday"),
        ({"times": [{"start_time": "17:00", "end_time": "09:00"}]}, ".times[0]", "before end_time"),
        ({"times": [{"start_time": "9:00", "end_time": "10:00"}]}, ".times[0].start_time", "HH:MM"),
        ({"times": [{"start_time": "09:00"}]}, ".times[0]", "both"),
        ({"days_of_month": ["0"]}, ".days_of_month[0]", "not a day of the month"),
        ({"days_of_month": ["-1:5"]}, ".days_of_month[0]", "must be negative"),
        ({"days_of_month": ["10:-25"]}, ".days_of_month[0]", "always before"),
        ({"months": ["march:january"]}, ".months[0]", "before the start month"),
        ({"months": ["13"]}, ".months[0]", "not a month"),
        ({"years": ["2022:2020"]}, ".years[0]", "increasing"),
        ({"location": "Mars/Olympus"}, ".location", "unknown time zone"),
        ({"hours": ["1"]}, ".hours", "unknown field"),
    ],
)
def test_config_errors(fields: dict[str, object], path: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        interval(**fields)
    assert info.value.path == "time_intervals[0].time_intervals[0]" + path
    assert message in info.value.message


def test_duplicate_names_are_rejected() -> None:
    with pytest.raises(ConfigError) as info:
        time_intervals_from_config("time_intervals", [{"name": "a"}, {"name": "a"}])
    assert info.value.path == "time_intervals[1].name"
