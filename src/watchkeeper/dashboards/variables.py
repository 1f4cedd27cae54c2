"""Expanding a panel's query as Grafana does before sending it, for the native renderer and
for tests that run every panel against our engine.

Grafana formats a multi-value variable used in a regex matcher as `(a|b)` with each value
regex-escaped, and "All" as the variable's `allValue` (ours: `.*`). `$__rate_interval` is at
least four scrape intervals; `$__interval` is the step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_REGEX_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def regex_value(values: Sequence[str] | None) -> str:
    """The regex Grafana substitutes for a multi-value variable (None or [] means All)."""
    if not values:
        return ".*"
    escaped = [_REGEX_SPECIAL.sub(r"\\\\\1", v) for v in values]
    return escaped[0] if len(escaped) == 1 else f"({'|'.join(escaped)})"


def interpolate(
    expr: str,
    values: Mapping[str, Sequence[str] | None] | None = None,
    *,
    rate_interval: str = "2m",
    interval: str = "30s",
    range_: str = "6h",
) -> str:
    """`expr` with `$var`/`${var}` replaced; unknown variables mean All (`.*`)."""
    builtins = {
        "__rate_interval": rate_interval,
        "__interval": interval,
        "__range": range_,
    }
    chosen = values or {}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in builtins:
            return builtins[name]
        return regex_value(chosen.get(name))

    return _VARIABLE.sub(substitute, expr)
