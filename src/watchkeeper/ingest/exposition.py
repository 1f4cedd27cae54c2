"""A parser of the Prometheus text exposition format 0.0.4, the body every exporter serves.

It follows Prometheus' own scrape parser (`model/textparse/promparse.go`) rather than
`prometheus_client.parser`, which renames counter samples that lack `_total` and reads
timestamps as float seconds: names are kept as exposed, histogram/summary series keep their
`_bucket`/`_sum`/`_count` suffixes and `le`/`quantile` labels, label values unescape `\\\\`,
`\\"` and `\\n`, values are Go floats (`NaN`, `+Inf`, `-Inf`, exponents) and the optional
timestamp is int64 milliseconds. HELP and TYPE lines are metadata; other comments are ignored.
Any malformed line fails the whole body, as a failed scrape does in Prometheus.

    >>> parse_exposition('# TYPE up gauge\\nup{job="a"} 1\\n').samples
    [ExposedSample(name='up', labels={'job': 'a'}, value=1.0, timestamp_ms=None)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*'
_LABEL_PAIR_RE = re.compile(_LABEL)
_LABEL_BLOCK_RE = re.compile(rf"(?:{_LABEL},)*(?:{_LABEL})?[ \t]*")
_SAMPLE_RE = re.compile(rf"({_NAME})[ \t]*(?:\{{(.*)\}})?[ \t]*([^ \t]+)(?:[ \t]+([^ \t]+))?[ \t]*")
_METRIC_NAME_RE = re.compile(_NAME)
_ESCAPE_RE = re.compile(r"\\(.)")
_LABEL_ESCAPES = {'"': '"', "\\": "\\", "n": "\n"}
_HELP_ESCAPES = {"\\": "\\", "n": "\n"}
METRIC_TYPES = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})


class ExpositionError(ValueError):
    """The body is not valid text exposition; `line_number` counts from 1."""

    def __init__(self, line_number: int, line: str, reason: str) -> None:
        self.line_number = line_number
        self.line = line
        self.reason = reason
        shown = line if len(line) <= 200 else line[:197] + "..."
        super().__init__(f"line {line_number}: {reason}: {shown!r}")


class ExposedSample(NamedTuple):
    """One sample line: the name as exposed, its labels, value, optional timestamp (ms)."""

    name: str
    labels: dict[str, str]
    value: float
    timestamp_ms: int | None


@dataclass
class Exposition:
    """A parsed body: samples in exposition order, and the TYPE/HELP metadata per family."""

    samples: list[ExposedSample] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)
    help: dict[str, str] = field(default_factory=dict)


def _unescape(text: str, escapes: dict[str, str]) -> str:
    if "\\" not in text:
        return text
    # Like Go's strings.Replacer in promparse: unknown escapes stay as they are.
    return _ESCAPE_RE.sub(lambda m: escapes.get(m.group(1), m.group(0)), text)


def parse_float(token: str) -> float:
    """A Go `strconv.ParseFloat` number: decimal, exponent, hex, NaN and Inf in any case."""
    if not token.isascii() or "_" in token:
        raise ValueError(f"invalid float {token!r}")
    try:
        return float(token)
    except ValueError:
        unsigned = token.lstrip("+-")
        if unsigned[:2].lower() != "0x":
            raise
        return float.fromhex(token)


def _parse_timestamp(token: str) -> int:
    if not token.isascii() or "_" in token:
        raise ValueError(f"invalid timestamp {token!r}")
    value = int(token)
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"timestamp {token} is beyond int64")
    return value


def _parse_labels(block: str) -> dict[str, str]:
    if _LABEL_BLOCK_RE.fullmatch(block) is None:
        raise ValueError("malformed label set")
    pairs = _LABEL_PAIR_RE.findall(block)
    labels = {name: _unescape(value, _LABEL_ESCAPES) for name, value in pairs}
    if len(labels) != len(pairs):
        raise ValueError("label name repeated")
    return labels


def _parse_comment(line: str, out: Exposition) -> None:
    parts = line[1:].split(None, 2)
    if len(parts) < 2 or parts[0] not in ("HELP", "TYPE"):
        return
    keyword, name = parts[0], parts[1]
    if _METRIC_NAME_RE.fullmatch(name) is None:
        raise ValueError(f"invalid metric name {name!r} in {keyword}")
    rest = parts[2].strip() if len(parts) > 2 else ""
    if keyword == "HELP":
        out.help[name] = _unescape(rest, _HELP_ESCAPES)
    elif rest not in METRIC_TYPES:
        raise ValueError(f"unknown metric type {rest!r}")
    else:
        out.types[name] = rest


def _parse_sample(line: str) -> ExposedSample:
    match = _SAMPLE_RE.fullmatch(line)
    if match is None:
        raise ValueError("expected: name{labels} value [timestamp]")
    name, block, value, timestamp = match.groups()
    labels = _parse_labels(block) if block else {}
    if "__name__" in labels:
        raise ValueError("__name__ given as a label")
    return ExposedSample(
        name,
        labels,
        parse_float(value),
        _parse_timestamp(timestamp) if timestamp is not None else None,
    )


def parse_exposition(text: str) -> Exposition:
    """Parse a whole body; raise ExpositionError naming the first bad line."""
    out = Exposition()
    append = out.samples.append
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip(" \t\r")
        if not line:
            continue
        try:
            if line[0] == "#":
                _parse_comment(line, out)
            else:
                append(_parse_sample(line))
        except ValueError as exc:
            raise ExpositionError(number, raw, str(exc)) from None
    return out
