"""The engine's internal values: every expression is evaluated at all steps at once.

An instant vector is a dense (series x steps) matrix of values with a presence mask (PromQL
values may be NaN, so absence needs its own mask). A scalar is one value per step. A range
vector is a flat block of raw samples plus the window each step looks at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchkeeper.domain.series import METRIC_NAME_LABEL, Labels, SeriesSamples, is_stale_nan
from watchkeeper.query.errors import QueryError

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass
class InstantVector:
    """`values[i, j]` is series i at step j, meaningful where `present[i, j]`."""

    labels: list[Labels]
    values: Floats
    present: Bools

    @staticmethod
    def empty(steps: int) -> InstantVector:
        return InstantVector([], np.empty((0, steps)), np.empty((0, steps), dtype=bool))

    def __len__(self) -> int:
        return len(self.labels)

    def select_rows(self, rows: npt.NDArray[np.intp] | Bools) -> InstantVector:
        keep = np.flatnonzero(rows) if rows.dtype == np.bool_ else rows
        return InstantVector(
            [self.labels[i] for i in keep.tolist()], self.values[keep], self.present[keep]
        )

    def drop_empty_rows(self) -> InstantVector:
        keep: Bools = np.asarray(self.present.any(axis=1))
        return self if keep.all() else self.select_rows(keep)


@dataclass
class Scalar:
    values: Floats


@dataclass
class StringValue:
    value: str


@dataclass
class SampleBlock:
    """Raw samples of many series, concatenated; series i owns [offsets[i], offsets[i+1])."""

    labels: list[Labels]
    timestamps: Ints
    values: Floats
    offsets: Ints

    @staticmethod
    def from_series(series: Sequence[SeriesSamples]) -> SampleBlock:
        lengths = np.fromiter(
            (len(s.timestamps) for s in series), dtype=np.int64, count=len(series)
        )
        offsets = np.zeros(len(series) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if series:
            timestamps = np.concatenate([s.timestamps for s in series]).astype(np.int64, copy=False)
            values = np.concatenate([s.values for s in series]).astype(np.float64, copy=False)
        else:
            timestamps, values = np.empty(0, np.int64), np.empty(0, np.float64)
        return SampleBlock([s.labels for s in series], timestamps, values, offsets)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def sample_count(self) -> int:
        return len(self.timestamps)

    def series_index(self) -> Ints:
        """The series each sample belongs to."""
        return np.repeat(np.arange(len(self.labels), dtype=np.int64), np.diff(self.offsets))

    def without_stale(self) -> SampleBlock:
        """Range vectors never contain staleness markers (Prometheus drops them)."""
        stale = is_stale_nan(self.values)
        if not stale.any():
            return self
        keep = ~stale
        counts = np.bincount(self.series_index()[keep], minlength=len(self))
        offsets = np.zeros(len(self) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return SampleBlock(self.labels, self.timestamps[keep], self.values[keep], offsets)


@dataclass
class RangeVector:
    """A range vector at every step: step j sees samples with refs[j]-range <= t <= refs[j]."""

    block: SampleBlock
    refs: Ints
    range_ms: int
    # Where the selector is known (a matrix selector rather than a subquery), for absent_over_time.
    selector_labels: Labels | None = None


Value = InstantVector | Scalar | StringValue | RangeVector


def drop_metric_name(labels: Labels) -> Labels:
    if labels and labels[0][0] == METRIC_NAME_LABEL:
        return labels[1:]
    return tuple(pair for pair in labels if pair[0] != METRIC_NAME_LABEL)


def drop_metric_names(labels: list[Labels]) -> tuple[list[Labels], bool]:
    """Every label set without its name, and whether two of them may now coincide.

    Distinct label sets that all carried the same metric name stay distinct, the common
    case of one selector, so callers can skip the duplicate check.
    """
    names = {lbls[0] for lbls in labels if lbls and lbls[0][0] == METRIC_NAME_LABEL}
    with_name = sum(1 for lbls in labels if lbls and lbls[0][0] == METRIC_NAME_LABEL)
    uniform = len(names) <= 1 and with_name in (0, len(labels))
    return [drop_metric_name(lbls) for lbls in labels], not uniform


def merge_same_labels(vector: InstantVector, *, across_steps: bool = True) -> InstantVector:
    """Merge rows that carry the same label set, as Prometheus' range evaluation does.

    Two such rows present at the same step are an error ("vector cannot contain metrics with
    the same labelset"). With `across_steps=False` (range-vector functions, unary minus)
    Prometheus errors as soon as two output series share a label set at all.
    """
    first: dict[Labels, int] = {}
    duplicates: dict[int, list[int]] = {}
    for row, labels in enumerate(vector.labels):
        seen = first.setdefault(labels, row)
        if seen != row:
            duplicates.setdefault(seen, [seen]).append(row)
    if not duplicates:
        return vector
    if not across_steps:
        raise QueryError("vector cannot contain metrics with the same labelset")
    values = vector.values.copy()
    present = vector.present.copy()
    drop = np.zeros(len(vector), dtype=bool)
    for keep, rows in duplicates.items():
        if (vector.present[rows].sum(axis=0) > 1).any():
            raise QueryError("vector cannot contain metrics with the same labelset")
        for row in rows[1:]:
            values[keep] = np.where(vector.present[row], vector.values[row], values[keep])
            present[keep] |= vector.present[row]
            drop[row] = True
    return InstantVector(vector.labels, values, present).select_rows(~drop)
