"""The shared time conversions: the forms Prometheus' and Alertmanager's APIs write."""

from __future__ import annotations

from datetime import UTC, datetime

from watchkeeper.domain.alert_group import ZERO_TIME
from watchkeeper.domain.times import GO_ZERO_TIME, iso_or_none, rfc3339, utc


def test_utc_is_aware() -> None:
    assert utc(1_700_000_000.5) == datetime(2023, 11, 14, 22, 13, 20, 500_000, tzinfo=UTC)


def test_rfc3339_writes_z_and_cuts_fractions() -> None:
    moment = datetime(2024, 5, 6, 7, 8, 9, 123_999, tzinfo=UTC)

    assert [rfc3339(moment), rfc3339(moment, "milliseconds"), rfc3339(moment, "seconds")] == [
        "2024-05-06T07:08:09.123999Z",
        "2024-05-06T07:08:09.123Z",
        "2024-05-06T07:08:09Z",
    ]


def test_go_zero_time_as_alertmanager_writes_it() -> None:
    assert ZERO_TIME == "0001-01-01T00:00:00Z"
    assert rfc3339(GO_ZERO_TIME, "milliseconds") == "0001-01-01T00:00:00.000Z"


def test_iso_or_none() -> None:
    assert iso_or_none(None) is None
    assert iso_or_none(utc(0)) == "1970-01-01T00:00:00+00:00"
