"""Prometheus durations (`30s`, `1h30m`, `500ms`): the one parser behind every duration that
Watchkeeper reads, in queries, rules, routes, silences, SLOs and its own settings.

Prometheus' grammar (`model.ParseDuration`): units y, w, d, h, m, s, ms, largest first, each at
most once. Zero (`0s`) is a duration here, as `for: 0s` and `group_wait: 0s` need; that is why
this is not `promql_parser.parse_duration`, which refuses zero.
"""

from __future__ import annotations

import math
import re

_DURATION_RE = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_UNITS_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


def parse_duration_ms(text: str) -> int:
    """Milliseconds of a duration with units (`1h30m`); surrounding whitespace is ignored.

    Raises ValueError for anything else, a bare number included.
    """
    stripped = text.strip()
    match = _DURATION_RE.match(stripped)
    if not stripped or match is None:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 30s, 5m, 1h30m)")
    return sum(
        int(part) * unit for part, unit in zip(match.groups(), _UNITS_MS, strict=True) if part
    )


def parse_duration_or_seconds_ms(text: str) -> int:
    """Milliseconds of a duration with units or of a number of seconds (`15`, `1.5`), the form
    Prometheus' HTTP API accepts for `step`. A negative number is returned as it is: callers
    that need a positive duration check it. Raises ValueError for anything else."""
    stripped = text.strip()
    try:
        seconds = float(stripped)
    except ValueError:
        return parse_duration_ms(stripped)
    if not math.isfinite(seconds) or seconds > 2**53 / 1000:
        raise ValueError(f"not a duration: {text!r} (not finite, or too large)")
    return round(seconds * 1000)
