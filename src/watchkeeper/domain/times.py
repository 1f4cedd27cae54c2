"""Time conversions every stage shares: Unix seconds to aware UTC, aware times to RFC 3339.

Prometheus' and Alertmanager's APIs write UTC as `Z` where Python's `isoformat` writes
`+00:00`; one function does that rewrite so every API answers in the same form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
"""Go's zero `time.Time`: what Alertmanager writes for a time that is not set."""

Timespec = Literal["auto", "seconds", "milliseconds"]


def utc(seconds: float) -> datetime:
    """Unix seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


def rfc3339(moment: datetime, timespec: Timespec = "auto") -> str:
    """`moment` in RFC 3339 with `Z` for UTC; fractions cut (not rounded) to `timespec`."""
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


def iso_or_none(moment: datetime | None) -> str | None:
    """`moment.isoformat()`, or None for no time (JSON null in exports and events)."""
    return moment.isoformat() if moment is not None else None
