"""Series, samples and label matchers, as Prometheus defines them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

import numpy as np
import numpy.typing as npt

from watchkeeper.domain.regex import AnchoredRegex, compile_anchored

METRIC_NAME_LABEL = "__name__"

# Prometheus' data model: https://prometheus.io/docs/concepts/data_model/
METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# Prometheus' staleness marker: a NaN with this exact bit pattern ends a series.
STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = float(np.array([STALE_NAN_BITS], dtype=np.uint64).view(np.float64)[0])

Labels = tuple[tuple[str, str], ...]
"""A series identity: label pairs sorted by name, `__name__` included."""


def labels_from_dict(labels: dict[str, str]) -> Labels:
    """Canonical form of a label set: sorted, empty values dropped (as Prometheus does)."""
    return tuple(sorted((k, v) for k, v in labels.items() if v != ""))


def is_stale_nan(values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Which values are the staleness marker (not just any NaN)."""
    marked: npt.NDArray[np.bool_] = values.view(np.uint64) == np.uint64(STALE_NAN_BITS)
    return marked


@dataclass(frozen=True, slots=True)
class SeriesSamples:
    """One series and some of its samples, columnar: int64 milliseconds and float64 values."""

    labels: Labels
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    @property
    def metric_name(self) -> str:
        for name, value in self.labels:
            if name == METRIC_NAME_LABEL:
                return value
        return ""

    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)


class MatchOp(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True)
class Matcher:
    """A label matcher; regexes are RE2, fully anchored, as in Prometheus (domain/regex.py)."""

    name: str
    op: MatchOp
    value: str

    @cached_property
    def regex(self) -> AnchoredRegex:
        """The compiled pattern; raises `RegexError` for a pattern RE2 refuses or over a limit."""
        return compile_anchored(self.value)

    def matches(self, value: str) -> bool:
        """Whether a label value (empty string when the label is absent) matches."""
        if self.op is MatchOp.EQUAL:
            return value == self.value
        if self.op is MatchOp.NOT_EQUAL:
            return value != self.value
        hit = self.regex.fullmatch(value)
        return hit if self.op is MatchOp.REGEX else not hit

    def __str__(self) -> str:
        return f'{self.name}{self.op.value}"{self.value}"'
