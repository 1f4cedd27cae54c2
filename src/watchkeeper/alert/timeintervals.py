"""Alertmanager's `time_intervals`: recurring windows used as a route's mute or active times.

Semantics mirror Alertmanager's `timeinterval` package: every field is a list whose items are
OR-ed, the fields are AND-ed, an absent field matches anything; `times` are `HH:MM` ranges
inclusive of the start and exclusive of the end (`24:00` allowed as an end); weekdays, days of
the month (negative counts from the month's end, `-1` is the last day), months and years are
inclusive ranges `a:b`. `location` is an IANA time zone (default UTC) in which all fields are
read, so "09:00-17:00 monday:friday in Europe/Berlin" follows daylight-saving changes.
A named interval is a list of such intervals and matches when any of them does.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watchkeeper.alert.model import ConfigError

_WEEKDAYS = {
    name: index
    for index, name in enumerate(
        ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
    )
}
_MONTHS = {name.lower(): index for index, name in enumerate(calendar.month_name) if name}
_TIME_RE = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|24:00)$")

Range = tuple[int, int]


@dataclass(frozen=True)
class TimeInterval:
    """One Alertmanager time interval; minutes of the day are `[start, end)`."""

    times: tuple[Range, ...] | None = None
    weekdays: tuple[Range, ...] | None = None  # 0 = Sunday, as in Alertmanager
    days_of_month: tuple[Range, ...] | None = None
    months: tuple[Range, ...] | None = None
    years: tuple[Range, ...] | None = None
    location: str = "UTC"

    def contains(self, timestamp: float) -> bool:
        """Whether the instant (Unix seconds) falls inside this interval."""
        zone: tzinfo = UTC if self.location == "UTC" else ZoneInfo(self.location)
        local = datetime.fromtimestamp(timestamp, zone)
        minute = local.hour * 60 + local.minute
        weekday = (local.weekday() + 1) % 7  # Python: Monday = 0; Alertmanager: Sunday = 0
        month_days = calendar.monthrange(local.year, local.month)[1]
        return (
            _any(self.times, lambda r: r[0] <= minute < r[1])
            and _any(self.days_of_month, lambda r: _day_in(r, local.day, month_days))
            and _any(self.months, lambda r: r[0] <= local.month <= r[1])
            and _any(self.weekdays, lambda r: r[0] <= weekday <= r[1])
            and _any(self.years, lambda r: r[0] <= local.year <= r[1])
        )

    @classmethod
    def from_dict(cls, path: str, data: object) -> TimeInterval:
        if not isinstance(data, dict):
            raise ConfigError(path, "expected a map with times/weekdays/days_of_month/...")
        known = {"times", "weekdays", "days_of_month", "months", "years", "location"}
        for key in data:
            if key not in known:
                raise ConfigError(
                    f"{path}.{key}", f"unknown field (expected one of {sorted(known)})"
                )
        location = data.get("location", "UTC")
        if not isinstance(location, str):
            raise ConfigError(f"{path}.location", "expected an IANA time zone name")
        if location not in ("UTC", "Local"):
            try:
                ZoneInfo(location)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(f"{path}.location", f"unknown time zone {location!r}") from None
        if location == "Local":
            raise ConfigError(f"{path}.location", "'Local' depends on the host; name a time zone")
        return cls(
            times=_times(f"{path}.times", data.get("times")),
            weekdays=_ranges(f"{path}.weekdays", data.get("weekdays"), _weekday_range),
            days_of_month=_ranges(f"{path}.days_of_month", data.get("days_of_month"), _day_range),
            months=_ranges(f"{path}.months", data.get("months"), _month_range),
            years=_ranges(f"{path}.years", data.get("years"), _year_range),
            location=location,
        )


def _any(ranges: tuple[Range, ...] | None, test: Callable[[Range], bool]) -> bool:
    return ranges is None or any(test(r) for r in ranges)


def _day_in(day_range: Range, day: int, month_days: int) -> bool:
    # Alertmanager: negative days count from the end; a start past the month's end never
    # matches; an end past it is clamped to the month's last day.
    begin, end = (d if d > 0 else month_days + d + 1 for d in day_range)
    if begin > month_days:
        return False
    return max(begin, 1) <= day <= min(end, month_days)


@dataclass(frozen=True)
class NamedTimeIntervals:
    """A `time_intervals:` entry: a name and the intervals it covers (any of them)."""

    name: str
    intervals: tuple[TimeInterval, ...]

    def contains(self, timestamp: float) -> bool:
        return any(interval.contains(timestamp) for interval in self.intervals)


def time_intervals_from_config(path: str, value: object) -> dict[str, NamedTimeIntervals]:
    """Alertmanager's top-level `time_intervals` (or legacy `mute_time_intervals`) list."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise ConfigError(path, "expected a list of {name, time_intervals}")
    named: dict[str, NamedTimeIntervals] = {}
    for index, entry in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ConfigError(where, "expected a map with a 'name' and 'time_intervals'")
        name = entry["name"]
        if name in named:
            raise ConfigError(f"{where}.name", f"time interval {name!r} is defined twice")
        items = entry.get("time_intervals", [])
        if not isinstance(items, list):
            raise ConfigError(f"{where}.time_intervals", "expected a list")
        named[name] = NamedTimeIntervals(
            name,
            tuple(
                TimeInterval.from_dict(f"{where}.time_intervals[{i}]", item)
                for i, item in enumerate(items)
            ),
        )
    return named


def _times(path: str, value: object) -> tuple[Range, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ConfigError(path, "expected a list of {start_time, end_time}")
    out: list[Range] = []
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, dict) or "start_time" not in item or "end_time" not in item:
            raise ConfigError(where, "both start_time and end_time must be given")
        start = _minutes(f"{where}.start_time", item["start_time"])
        end = _minutes(f"{where}.end_time", item["end_time"])
        if start >= end:
            raise ConfigError(where, "start_time must be before end_time")
        out.append((start, end))
    return tuple(out)


def _minutes(path: str, value: object) -> int:
    text = str(value)
    match = _TIME_RE.match(text)
    if match is None:
        raise ConfigError(path, f"{text!r} is not a time of day HH:MM (00:00 to 24:00)")
    if text == "24:00":
        return 1440
    return int(match.group(1)) * 60 + int(match.group(2))


def _ranges(
    path: str, value: object, parse: Callable[[str, str], Range]
) -> tuple[Range, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ConfigError(path, "expected a list of values or 'a:b' ranges")
    return tuple(parse(f"{path}[{index}]", str(item).strip()) for index, item in enumerate(value))


def _split(path: str, text: str, member: Callable[[str], int]) -> Range:
    parts = text.split(":")
    if len(parts) > 2 or not all(parts):
        raise ConfigError(path, f"{text!r} is not a value or an 'a:b' range")
    try:
        begin, end = member(parts[0]), member(parts[-1])
    except ValueError as exc:
        raise ConfigError(path, str(exc)) from None
    return begin, end


def _weekday_range(path: str, text: str) -> Range:
    def member(part: str) -> int:
        if part.lower() not in _WEEKDAYS:
            raise ValueError(f"{part!r} is not a weekday (sunday ... saturday)")
        return _WEEKDAYS[part.lower()]

    begin, end = _split(path, text, member)
    if begin > end:
        raise ConfigError(
            path, f"{text!r}: the start day is after the end day (weeks start on sunday)"
        )
    return begin, end


def _day_range(path: str, text: str) -> Range:
    begin, end = _split(path, text, _integer)
    for day in (begin, end):
        if day == 0 or not -31 <= day <= 31:
            raise ConfigError(path, f"{day} is not a day of the month (1..31 or -31..-1)")
    if begin < 0 < end:
        raise ConfigError(path, f"{text!r}: the end day must be negative if the start day is")
    # As Alertmanager: reject ranges that are empty in every month (checked on a 28-day month).
    if (28 + begin if begin < 0 else begin) > (28 + end if end < 0 else end):
        raise ConfigError(path, f"{text!r}: the end day is always before the start day")
    return begin, end


def _month_range(path: str, text: str) -> Range:
    def member(part: str) -> int:
        month = _MONTHS.get(part.lower())
        if month is None:
            month = int(part) if part.isdigit() else 0
            if not 1 <= month <= 12:
                raise ValueError(f"{part!r} is not a month (january ... december or 1..12)")
        return month

    begin, end = _split(path, text, member)
    if begin > end:
        raise ConfigError(path, f"{text!r}: the end month is before the start month")
    return begin, end


def _year_range(path: str, text: str) -> Range:
    begin, end = _split(path, text, _integer)
    if begin <= 0 or begin > end:
        raise ConfigError(path, f"{text!r} is not a year or an increasing range of years")
    return begin, end


def _integer(part: str) -> int:
    try:
        return int(part)
    except ValueError:
        raise ValueError(f"{part!r} is not a whole number") from None
