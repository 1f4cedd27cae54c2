"""Prometheus' HTTP API parameters: times, durations and series selectors.

Times are RFC 3339 or Unix seconds (fractions allowed); durations are Prometheus durations
(`15s`, `1h30m`) or seconds as a number; selectors are PromQL vector selectors.
"""

from __future__ import annotations

import math
from datetime import datetime

import promql_parser as pp

from watchkeeper.config import parse_duration_or_seconds_ms
from watchkeeper.domain.series import Matcher
from watchkeeper.query.errors import QueryError, bad_data
from watchkeeper.query.syntax import matchers_of, parse

# Prometheus' minTime/maxTime: an absent start/end means "all of time".
MIN_TIME_MS = -9_223_372_036_854_775 // 1000 * 1000
MAX_TIME_MS = 9_223_372_036_854_775 // 1000 * 1000


def parse_time(name: str, value: str) -> int:
    """Milliseconds since the epoch."""
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            raise bad_data(
                f'invalid parameter "{name}": cannot parse "{value}" to a valid timestamp'
            ) from None
    if not math.isfinite(seconds):
        raise bad_data(f'invalid parameter "{name}": cannot parse "{value}" to a valid timestamp')
    if not MIN_TIME_MS / 1000 <= seconds <= MAX_TIME_MS / 1000:
        raise bad_data(
            f'invalid parameter "{name}": {value} is outside the representable time range '
            f"[{MIN_TIME_MS // 1000}, {MAX_TIME_MS // 1000}] (Unix seconds)"
        )
    return round(seconds * 1000)


def parse_duration(name: str, value: str) -> int:
    """Milliseconds; a refusal names the parameter, as Prometheus' API does."""
    try:
        return parse_duration_or_seconds_ms(value)
    except ValueError:
        raise bad_data(
            f'invalid parameter "{name}": cannot parse "{value}" to a valid duration'
        ) from None


def parse_selector(value: str) -> list[Matcher]:
    """A `match[]` selector; it must select something (not only empty matchers)."""
    try:
        node = parse(value)
    except QueryError as exc:
        raise bad_data(f'invalid parameter "match[]": {exc.message}') from None
    if not isinstance(node, pp.VectorSelector):
        raise bad_data(f'invalid parameter "match[]": {value!r} is not a series selector')
    matchers = matchers_of(node)
    if all(m.matches("") for m in matchers):
        raise bad_data("match[] must contain at least one non-empty matcher")
    return matchers
