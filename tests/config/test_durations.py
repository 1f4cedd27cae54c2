"""The one duration parser: Prometheus' grammar, zero included, and what each caller adds."""

from __future__ import annotations

import promql_parser as pp
import pytest

from watchkeeper.alert.model import ConfigError
from watchkeeper.alert.model import parse_duration as parse_route_duration
from watchkeeper.config import parse_duration_ms, parse_duration_or_seconds_ms
from watchkeeper.query.errors import QueryError
from watchkeeper.query.params import parse_duration as parse_step

ACCEPTED = [
    ("0s", 0),
    ("0ms", 0),
    ("500ms", 500),
    ("30s", 30_000),
    ("5m", 300_000),
    ("1h30m", 5_400_000),
    ("1h0m", 3_600_000),
    ("1d", 86_400_000),
    ("2w", 14 * 86_400_000),
    ("1y", 365 * 86_400_000),
    ("1y1w1d1h1m1s1ms", 373 * 86_400_000 + 3_661_001),
    (" 5m\n", 300_000),
]
REFUSED = [
    "",
    "  ",
    "15",
    "1.5h",
    "30m1h",
    "1h1h",
    "5M",
    "-1s",
    "1h 30m",
    "1m30",
    "s",
    "ms",
    "1e3s",
]


@pytest.mark.parametrize(("text", "ms"), ACCEPTED)
def test_durations_with_units_are_milliseconds(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", REFUSED)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_ms(text)


@pytest.mark.parametrize(("text", "ms"), [(t, ms) for t, ms in ACCEPTED if ms > 0])
def test_non_zero_durations_read_as_promql_reads_them(text: str, ms: int) -> None:
    assert pp.parse_duration(text.strip()).total_seconds() * 1000 == ms


def test_zero_is_a_duration_although_promql_parser_refuses_it() -> None:
    """Why the parser is our own: `for: 0s` and `group_wait: 0s` must stay valid."""
    with pytest.raises(ValueError):
        pp.parse_duration("0s")
    assert parse_duration_ms("0s") == 0


@pytest.mark.parametrize(
    ("text", "ms"),
    [("15", 15_000), ("1.5", 1500), ("1e3", 1_000_000), (" 0 ", 0), ("-5", -5000), ("1m", 60_000)],
)
def test_api_durations_may_also_be_seconds(text: str, ms: int) -> None:
    assert parse_duration_or_seconds_ms(text) == ms


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "9.1e12", "", "1.5h", "5 m"])
def test_api_durations_refuse_non_finite_huge_and_malformed_values(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_or_seconds_ms(text)


def test_a_query_parameter_refusal_names_the_parameter_and_is_a_400() -> None:
    with pytest.raises(QueryError) as caught:
        parse_step("step", "5 minutes")
    assert (
        caught.value.message
        == 'invalid parameter "step": cannot parse "5 minutes" to a valid duration'
    )
    assert caught.value.http_status == 400


@pytest.mark.parametrize(
    ("value", "seconds"), [("1h30m", 5400.0), ("0s", 0.0), ("500ms", 0.5), (90, 90.0), (1.5, 1.5)]
)
def test_handling_configuration_durations_are_seconds(value: object, seconds: float) -> None:
    assert parse_route_duration("route.group_wait", value) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("30", "route.group_wait: not a duration: '30' (expected e.g. 30s, 5m, 4h)"),
        ("", "route.group_wait: not a duration: '' (expected e.g. 30s, 5m, 4h)"),
        (True, "route.group_wait: not a duration: True"),
        (-1, "route.group_wait: duration must be a non-negative number: -1"),
    ],
)
def test_handling_configuration_refusals_point_at_the_key(value: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_route_duration("route.group_wait", value)
    assert str(caught.value) == message
