"""Ingest validation: a batch is accepted whole, or every rejected sample is listed with a reason.

The rules are Prometheus' data model (metric and label name syntax, `__`-prefixed names reserved,
empty label values meaning "no label") plus the limits Cortex/Mimir put in front of a TSDB
(label name/value length, labels per series, a creation grace period for future timestamps).
Values are not checked: every float64 is a valid sample value, NaN, ±Inf and the staleness
marker included, and they are kept bit for bit.

Within one batch the samples of a series are put in time order; an exact repeat of a sample
(same timestamp, same value bits) is dropped and counted, and two different values for one
timestamp reject the batch ("duplicate sample for timestamp", as Prometheus answers). Order and
duplicates relative to what is already stored are the store's business (`AppendResult`).

Why one module of ~470 lines: the label checks and the time and duplicate checks build one
answer together (the batch whole, or every rejected sample with its reason).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchkeeper.domain.series import (
    LABEL_NAME_RE,
    METRIC_NAME_LABEL,
    METRIC_NAME_RE,
    Labels,
    SeriesSamples,
)
from watchkeeper.ingest.memo import BoundedMemo, labels_bytes
from watchkeeper.ingest.outcome import (
    AcceptedBatch,
    RejectedBatch,
    Rejection,
    RejectReason,
    ValidationOutcome,
)

__all__ = [
    "AcceptedBatch",
    "BatchValidator",
    "IngestLimits",
    "RejectReason",
    "RejectedBatch",
    "Rejection",
    "ValidationOutcome",
    "validate_batch",
]


@dataclass(frozen=True)
class IngestLimits:
    """Per-series limits; defaults are Mimir's (`max_label_*`, `creation_grace_period` 10m)."""

    max_label_name_length: int = 1024
    max_label_value_length: int = 2048
    max_labels_per_series: int = 30
    future_tolerance_seconds: float = 600.0
    max_sample_age_seconds: float | None = None
    """Refuse samples older than this (e.g. the retention period); None accepts any age."""
    max_rejections_listed: int = 100
    """Rejections kept in detail; the per-reason totals always count every sample."""


def _utf8_bytes(text: str) -> int | None:
    """Length in UTF-8 bytes, or None when the text holds lone surrogates (not valid UTF-8)."""
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


GOOD_SET_CACHE_BYTES = 64 * 1024 * 1024
"""Memory for the valid label sets a validator remembers (about 200,000 ordinary series)."""
GOOD_SET_ENTRY_BYTES = 16 * 1024
"""A valid set larger than this is checked every time rather than remembered."""
GOOD_NAME_CACHE_BYTES = 4 * 1024 * 1024
"""Memory for valid label and metric names remembered."""

_PREVIEW_CHARS = 64


def preview(text: str) -> str:
    """At most 64 characters of caller text for a message, with an ellipsis when cut."""
    return text if len(text) <= _PREVIEW_CHARS else text[:_PREVIEW_CHARS] + "…"


def preview_labels(labels: Labels) -> dict[str, str]:
    """A label set as echoed in a rejection: each name and value cut to a preview."""
    return {preview(name): preview(value) for name, value in labels[:_PREVIEW_LABELS]}


def reject_series(
    rejected: RejectedBatch,
    reason: RejectReason,
    message: str,
    *,
    index: int,
    labels: Labels,
    samples: int,
) -> None:
    """Refuse a whole series: its position in the batch, its labels previewed, its samples."""
    rejected.add(
        Rejection(
            reason, message, series_index=index, labels=preview_labels(labels), samples=samples
        )
    )


_PREVIEW_LABELS = 30


class LabelChecker:
    """Checks label sets against the rules; remembers valid names and sets, which repeat
    endlessly. Every memo is bounded in bytes, and a set is remembered only when the caller
    says its batch was accepted (`remember`): a refused series leaves nothing behind."""

    def __init__(self, limits: IngestLimits) -> None:
        self.limits = limits
        self._good_names = BoundedMemo[str, bool](
            max_bytes=GOOD_NAME_CACHE_BYTES, max_entry_bytes=limits.max_label_name_length + 128
        )
        self._good_names.put(METRIC_NAME_LABEL, True, size=128)
        self._good_metric_names = BoundedMemo[str, bool](
            max_bytes=GOOD_NAME_CACHE_BYTES, max_entry_bytes=limits.max_label_value_length + 128
        )
        self._good_sets = BoundedMemo[Labels, bool](
            max_bytes=GOOD_SET_CACHE_BYTES, max_entry_bytes=GOOD_SET_ENTRY_BYTES
        )

    def problems(self, labels: Labels) -> list[tuple[RejectReason, str]]:
        """Everything wrong with one label set (empty when it is valid)."""
        # Senders repeat the same series every interval: a valid set is checked once.
        if labels in self._good_sets:
            return []
        return self._check(labels)

    def remember(self, accepted: Iterable[Labels]) -> None:
        """Remember valid sets of an accepted batch, so their next check is one lookup."""
        for labels in accepted:
            if labels not in self._good_sets:
                self._good_sets.put(labels, True, size=labels_bytes(labels))

    @property
    def cached_bytes(self) -> int:
        """Estimated memory of every memo of this checker."""
        return self._good_names.bytes + self._good_metric_names.bytes + self._good_sets.bytes

    def _check(self, labels: Labels) -> list[tuple[RejectReason, str]]:
        found: list[tuple[RejectReason, str]] = []
        limits = self.limits
        names = [name for name, value in labels if value != ""]
        if len(names) > limits.max_labels_per_series:
            found.append(
                (
                    RejectReason.TOO_MANY_LABELS,
                    f"series has {len(names)} labels, more than the limit of "
                    f"{limits.max_labels_per_series}",
                )
            )
        if len(set(names)) != len(names):
            dupes = sorted({preview(n) for n in names if names.count(n) > 1})[:10]
            found.append((RejectReason.DUPLICATE_LABEL_NAME, f"label names repeated: {dupes}"))
        metric_name = None
        for name, value in labels:
            if name == METRIC_NAME_LABEL:
                metric_name = value
            elif name not in self._good_names:
                found.extend(self._name_problems(name))
            if value == "":
                continue
            size = len(value) if value.isascii() else _utf8_bytes(value)
            if size is None:
                found.append(
                    (
                        RejectReason.INVALID_LABEL_VALUE,
                        f"label {preview(name)!r} value is not valid UTF-8",
                    )
                )
            elif size > limits.max_label_value_length:
                found.append(
                    (
                        RejectReason.LABEL_VALUE_TOO_LONG,
                        f"label {preview(name)!r} value is {size} bytes, longer than the limit "
                        f"of {limits.max_label_value_length}",
                    )
                )
        if not metric_name:
            found.append((RejectReason.MISSING_METRIC_NAME, "series has no metric name"))
        elif metric_name not in self._good_metric_names:
            if len(metric_name) > limits.max_label_value_length:
                pass  # reported above as a value too long; not matched, not remembered
            elif METRIC_NAME_RE.match(metric_name) is None:
                found.append(
                    (
                        RejectReason.INVALID_METRIC_NAME,
                        f"metric name {preview(metric_name)!r} does not match "
                        f"{METRIC_NAME_RE.pattern}",
                    )
                )
            else:
                self._good_metric_names.put(metric_name, True, size=len(metric_name) + 128)
        return found

    def _name_problems(self, name: str) -> list[tuple[RejectReason, str]]:
        # Length first: a megabyte name is refused without running a regex over it.
        if len(name) > self.limits.max_label_name_length:
            return [
                (
                    RejectReason.LABEL_NAME_TOO_LONG,
                    f"label name {preview(name)!r} is {len(name)} bytes, longer than the limit "
                    f"of {self.limits.max_label_name_length}",
                )
            ]
        if LABEL_NAME_RE.match(name) is None:
            return [
                (
                    RejectReason.INVALID_LABEL_NAME,
                    f"label name {preview(name)!r} does not match {LABEL_NAME_RE.pattern}",
                )
            ]
        if name.startswith("__"):
            return [
                (
                    RejectReason.RESERVED_LABEL_NAME,
                    f"label name {preview(name)!r} is reserved: names starting with __ are "
                    "internal",
                )
            ]
        self._good_names.put(name, True, size=len(name) + 128)
        return []


def canonical_labels(labels: Labels) -> Labels:
    """Sorted by name, empty values dropped; a no-op (no copy) for the usual canonical input."""
    previous = ""
    for name, value in labels:
        if value == "" or name < previous:
            return tuple(sorted((n, v) for n, v in labels if v != ""))
        previous = name
    return labels


def _sample_columns(
    series: SeriesSamples,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | str:
    """The sample arrays as int64/float64 1-d columns of equal length, or what is wrong."""
    ts, values = np.asarray(series.timestamps), np.asarray(series.values)
    if ts.ndim != 1 or values.ndim != 1 or ts.shape != values.shape:
        return f"timestamps {ts.shape} and values {values.shape} must be 1-d of equal length"
    if ts.dtype != np.int64:
        if ts.dtype.kind not in "iu":
            return f"timestamps must be integer milliseconds, got dtype {ts.dtype}"
        ts = ts.astype(np.int64)
    if values.dtype != np.float64:
        if values.dtype.kind not in "iuf":
            return f"values must be numbers, got dtype {values.dtype}"
        values = values.astype(np.float64)
    return ts, values


class BatchValidator:
    """Validates whole batches against `IngestLimits`; keep one per process (it caches names)."""

    def __init__(self, limits: IngestLimits | None = None) -> None:
        self.limits = limits or IngestLimits()
        self._labels = LabelChecker(self.limits)

    def label_problems(self, labels: Labels) -> list[tuple[RejectReason, str]]:
        """Problems of one canonical label set (one lookup once a set was `remember`ed)."""
        return self._labels.problems(labels)

    def remember(self, accepted: Iterable[Labels]) -> None:
        """Label sets of a batch the store accepted: their next check is one lookup."""
        self._labels.remember(accepted)

    def remembered(self, labels: Labels) -> bool:
        """Whether this set's next check is one lookup (it came in an accepted batch)."""
        return labels in self._labels._good_sets

    @property
    def cached_bytes(self) -> int:
        """Estimated memory of the validator's memos (bounded in bytes)."""
        return self._labels.cached_bytes

    def validate(
        self,
        batch: Sequence[SeriesSamples],
        now_ms: int,
        series_indices: Sequence[int] | None = None,
    ) -> ValidationOutcome:
        """Accept the whole batch, or list every rejected sample; never a part of it.

        `now_ms` comes from the injected clock; `series_indices` maps batch positions to the
        positions the client sent (when the decoder already dropped malformed items).
        """
        limits = self.limits
        rejected = RejectedBatch(max_listed=limits.max_rejections_listed)
        kept: list[_Part] = []
        for position, series in enumerate(batch):
            index = series_indices[position] if series_indices is not None else position
            labels = canonical_labels(series.labels)
            columns = _sample_columns(series)
            if isinstance(columns, str):
                reject_series(
                    rejected,
                    RejectReason.INVALID_SAMPLES,
                    columns,
                    index=index,
                    labels=labels,
                    samples=max(len(series.timestamps), 1),
                )
                continue
            ts, values = columns
            if len(ts) == 0:
                continue
            for reason, message in self._labels.problems(labels):
                reject_series(
                    rejected, reason, message, index=index, labels=labels, samples=len(ts)
                )
            kept.append(_Part(index, labels, ts, values, series))
        unordered = _check_batch_times(rejected, kept, now_ms, limits)
        if rejected.rejected_by_reason:
            return rejected
        accepted = _assemble(rejected, kept, unordered)
        return rejected if rejected.rejected_by_reason else accepted


@dataclass(frozen=True, slots=True)
class _Part:
    """One submitted series after its label and column checks."""

    index: int
    labels: Labels
    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    original: SeriesSamples


def _check_batch_times(
    rejected: RejectedBatch, parts: list[_Part], now_ms: int, limits: IngestLimits
) -> set[int]:
    """Range checks over the whole batch at once; returns the parts not in time order."""
    if not parts:
        return set()
    newest_ms = now_ms + int(limits.future_tolerance_seconds * 1000)
    oldest_ms = (
        now_ms - int(limits.max_sample_age_seconds * 1000)
        if limits.max_sample_age_seconds is not None
        else None
    )
    all_ts = np.concatenate([p.ts for p in parts])
    if all_ts.max() > newest_ms or (oldest_ms is not None and all_ts.min() < oldest_ms):
        for p in parts:
            _check_times(rejected, p.ts, newest_ms, oldest_ms, p.index, p.labels, now_ms, limits)
    ends = np.cumsum([len(p.ts) for p in parts])
    rising = np.empty(len(all_ts), dtype=bool)
    rising[0] = True
    np.greater(all_ts[1:], all_ts[:-1], out=rising[1:])
    rising[ends[:-1]] = True  # each series' first sample starts afresh
    not_rising = np.flatnonzero(~rising)
    return set(np.searchsorted(ends, not_rising, side="right").tolist())


def _assemble(rejected: RejectedBatch, parts: list[_Part], unordered: set[int]) -> AcceptedBatch:
    """The accepted batch: parts of one series merged, each series in time order."""
    groups: dict[Labels, list[int]] = {}
    for i, p in enumerate(parts):
        groups.setdefault(p.labels, []).append(i)
    accepted = AcceptedBatch(series=[], samples=0)
    for labels, members in groups.items():
        first = parts[members[0]]
        if len(members) == 1 and members[0] not in unordered:
            same = first.original
            ok = same.labels is labels and same.timestamps is first.ts
            accepted.series.append(
                same if ok and same.values is first.values else
                SeriesSamples(labels, first.ts, first.values)
            )  # fmt: skip
            accepted.samples += len(first.ts)
            continue
        chunks = [(parts[i].ts, parts[i].values) for i in members]
        _merge_series(accepted, rejected, labels, chunks, first.index)
    return accepted


def _check_times(
    rejected: RejectedBatch,
    ts: npt.NDArray[np.int64],
    newest_ms: int,
    oldest_ms: int | None,
    index: int,
    labels: Labels,
    now_ms: int,
    limits: IngestLimits,
) -> None:
    def reject(
        reason: RejectReason, positions: npt.NDArray[np.intp], why: Callable[[int], str]
    ) -> None:
        for i in positions:
            at = int(ts[i])
            rejected.add(
                Rejection(
                    reason,
                    f"timestamp {at} ms {why(at)}",
                    series_index=index,
                    sample_index=int(i),
                    timestamp_ms=at,
                    labels=preview_labels(labels),
                )
            )

    reject(
        RejectReason.TIMESTAMP_TOO_NEW,
        np.flatnonzero(ts > newest_ms),
        lambda at: (
            f"is {(at - now_ms) / 1000:.3f} s in the future, "
            f"beyond the tolerance of {limits.future_tolerance_seconds:g} s"
        ),
    )
    if oldest_ms is None:
        return
    reject(
        RejectReason.TIMESTAMP_TOO_OLD,
        np.flatnonzero(ts < oldest_ms),
        lambda _: f"is older than the maximum sample age of {limits.max_sample_age_seconds:g} s",
    )


def _merge_series(
    accepted: AcceptedBatch,
    rejected: RejectedBatch,
    labels: Labels,
    parts: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]],
    index: int,
) -> None:
    """One time-ordered series from its parts; exact repeats dropped, conflicts rejected."""
    if len(parts) == 1:
        ts, values = parts[0]
    else:
        ts = np.concatenate([p[0] for p in parts])
        values = np.concatenate([p[1] for p in parts])
    if len(ts) > 1 and not bool(np.all(ts[1:] > ts[:-1])):
        order = np.argsort(ts, kind="stable")
        ts, values = ts[order], values[order]
        same_time = np.flatnonzero(ts[1:] == ts[:-1]) + 1
        if len(same_time):
            bits = values.view(np.uint64)
            conflicts = same_time[bits[same_time] != bits[same_time - 1]]
            for i in conflicts:
                rejected.add(
                    Rejection(
                        RejectReason.DUPLICATE_TIMESTAMP,
                        f"duplicate sample for timestamp {int(ts[i])} with a different value "
                        f"({_show(values[i - 1])} and {_show(values[i])})",
                        series_index=index,
                        timestamp_ms=int(ts[i]),
                        labels=preview_labels(labels),
                    )
                )
            keep = np.ones(len(ts), dtype=bool)
            keep[same_time] = False
            accepted.duplicates_dropped += len(same_time) - len(conflicts)
            ts, values = ts[keep], values[keep]
    accepted.series.append(SeriesSamples(labels, ts, values))
    accepted.samples += len(ts)


def _show(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else str(value)


def validate_batch(
    batch: Sequence[SeriesSamples], now_ms: int, limits: IngestLimits | None = None
) -> ValidationOutcome:
    """One-off validation; long-lived callers keep a `BatchValidator` to reuse its name cache."""
    return BatchValidator(limits).validate(batch, now_ms)
