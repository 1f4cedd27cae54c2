"""The JSON push format of `POST /api/v1/ingest`, decoded into SeriesSamples.

    [{"metric": "cpu_usage", "labels": {"host": "db-1"}, "samples": [[ts, value], ...]}, ...]

Timestamps follow one magnitude rule: a number whose absolute value is below 1e11 is seconds
since the epoch (fractions allowed, rounded to the millisecond, as Prometheus' own API takes
float seconds); 1e11 and above is milliseconds. 1e11 seconds is the year 5138 and 1e11
milliseconds is March 1973, so any timestamp of this era reads the same either way it is sent.

Values are numbers, or the strings "NaN", "+Inf", "-Inf" (JSON has no literals for them; any
string Prometheus' API would return, such as "1.5", is also accepted). Each malformed item is
reported with a JSON path, e.g. `[2].samples[5][1]`, and then the well-formed rest is validated
too, so one response lists every problem.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from watchkeeper.domain.series import METRIC_NAME_LABEL, SeriesSamples, labels_from_dict
from watchkeeper.ingest.outcome import (
    AcceptedBatch,
    RejectedBatch,
    Rejection,
    RejectReason,
    ValidationOutcome,
)
from watchkeeper.ingest.validation import BatchValidator

SECONDS_BELOW = 1e11
"""Timestamps with a smaller magnitude are seconds, larger ones milliseconds."""

_ITEM_KEYS = frozenset({"metric", "labels", "samples"})
_INT64_MS_LIMIT = 2.0**63 - 1
# Go's strconv.ParseFloat accepts these spellings (case-insensitively); Python's float() would
# also take "1_000" and surrounding spaces, which Prometheus refuses.
_FLOAT_STRING_RE = re.compile(
    r"[+-]?(?:inf|infinity|nan|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)", re.IGNORECASE
)
_VALUE_RULE = 'value must be a number or "NaN"/"+Inf"/"-Inf"'
_TIMESTAMP_RULE = "timestamp must be a finite number (seconds below 1e11, else milliseconds)"


def _format_error(path: str, message: str, samples: int = 1) -> Rejection:
    return Rejection(RejectReason.INVALID_FORMAT, f"{path}: {message}", path=path, samples=samples)


def _parse_value(raw: Any) -> float | None:
    try:
        if type(raw) is float or type(raw) is int:
            return float(raw)
        if isinstance(raw, str) and _FLOAT_STRING_RE.fullmatch(raw):
            return float(raw)
    except OverflowError:  # an integer beyond float64
        return None
    return None


def _parse_timestamp(raw: Any) -> float | None:
    value = _parse_value(raw) if not isinstance(raw, str) else None
    return value if value is not None and math.isfinite(value) else None


def timestamps_to_ms(raw: npt.NDArray[np.float64]) -> npt.NDArray[np.int64] | None:
    """Apply the magnitude rule to a column of JSON timestamps; None if one is out of range."""
    ms = np.where(np.abs(raw) < SECONDS_BELOW, raw * 1000.0, raw)
    ms = np.round(ms)
    if not bool(np.all(np.abs(ms) < _INT64_MS_LIMIT)):
        return None
    return ms.astype(np.int64)


def _fast_columns(samples: list[Any]) -> npt.NDArray[np.float64] | None:
    """A (n, 2) float array when every pair is two plain numbers, else None (take the slow way).

    numpy turns strings and None into floats on its own, so only a purely numeric array,
    checked by dtype, may skip the per-element checks; bools are ruled out by the caller.
    """
    try:
        arr = np.array(samples)
    except (ValueError, TypeError, OverflowError):
        return None
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.dtype.kind not in "if":
        return None
    columns = arr.astype(np.float64)
    if not bool(np.all(np.isfinite(columns[:, 0]))):
        return None
    return columns


def _slow_columns(
    samples: list[Any], path: str, rejected: RejectedBatch
) -> npt.NDArray[np.float64] | None:
    """Check pair by pair, reporting each malformed timestamp or value with its path."""
    columns = np.empty((len(samples), 2), dtype=np.float64)
    ok = True
    for j, pair in enumerate(samples):
        if not isinstance(pair, list) or len(pair) != 2:
            rejected.add(_format_error(f"{path}[{j}]", "sample must be a [timestamp, value] pair"))
            ok = False
            continue
        ts, value = _parse_timestamp(pair[0]), _parse_value(pair[1])
        if ts is None:
            rejected.add(_format_error(f"{path}[{j}][0]", _TIMESTAMP_RULE))
            ok = False
        if value is None:
            rejected.add(_format_error(f"{path}[{j}][1]", _VALUE_RULE))
            ok = False
        if ok:
            columns[j, 0], columns[j, 1] = ts, value
    return columns if ok else None


def _item_labels(item: dict[str, Any], path: str, rejected: RejectedBatch) -> dict[str, str] | None:
    labels = item.get("labels", {})
    if not isinstance(labels, dict):
        rejected.add(_format_error(f"{path}.labels", "labels must be an object of strings"))
        return None
    bad = [k for k, v in labels.items() if not isinstance(v, str)]
    for key in bad:
        rejected.add(_format_error(f"{path}.labels.{key}", "label value must be a string"))
    metric = item.get("metric")
    named = labels.get(METRIC_NAME_LABEL)
    if metric is None and named is None:
        rejected.add(_format_error(f"{path}.metric", "metric is required (a string)"))
        return None
    if metric is not None and not isinstance(metric, str):
        rejected.add(_format_error(f"{path}.metric", "metric must be a string"))
        return None
    if metric is not None and named is not None and metric != named:
        rejected.add(
            _format_error(f"{path}.labels.__name__", "differs from metric; give the name once")
        )
        return None
    if bad:
        return None
    return {**labels, METRIC_NAME_LABEL: metric if metric is not None else named}


def parse_json_batch(
    body: bytes | str, max_rejections_listed: int = 100
) -> tuple[list[SeriesSamples], list[int], RejectedBatch]:
    """Decode a push body into series, each one's item index, and the malformed items.

    The series are not yet validated (names, limits, timestamps): see `ingest_json_batch`.
    """
    rejected = RejectedBatch(max_listed=max_rejections_listed)
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        rejected.add(Rejection(RejectReason.INVALID_JSON, f"body is not valid JSON: {exc}"))
        return [], [], rejected
    if not isinstance(document, list):
        rejected.add(_format_error("$", "body must be a JSON array of series objects"))
        return [], [], rejected
    # A bool in the body would pass numpy's conversion as 0/1; only then check pair by pair.
    raw = body if isinstance(body, bytes) else body.encode()
    may_hold_bools = b"true" in raw or b"false" in raw
    series: list[SeriesSamples] = []
    indices: list[int] = []
    for i, item in enumerate(document):
        parsed = _parse_item(item, f"[{i}]", rejected, may_hold_bools)
        if parsed is not None:
            series.append(parsed)
            indices.append(i)
    return series, indices, rejected


def _parse_item(
    item: Any, path: str, rejected: RejectedBatch, may_hold_bools: bool
) -> SeriesSamples | None:
    if not isinstance(item, dict):
        rejected.add(_format_error(path, 'item must be an object with "metric", "samples"'))
        return None
    unknown = sorted(set(item) - _ITEM_KEYS)
    if unknown:
        rejected.add(
            _format_error(path, f"unknown key(s) {unknown}; expected {sorted(_ITEM_KEYS)}")
        )
        return None
    labels = _item_labels(item, path, rejected)
    samples = item.get("samples")
    if not isinstance(samples, list):
        rejected.add(_format_error(f"{path}.samples", "samples must be an array of pairs"))
        return None
    columns = None if may_hold_bools or not samples else _fast_columns(samples)
    if columns is None:
        columns = _slow_columns(samples, f"{path}.samples", rejected)
    if columns is None or labels is None:
        return None
    ts = timestamps_to_ms(columns[:, 0]) if len(columns) else np.empty(0, np.int64)
    if ts is None:
        rejected.add(_format_error(f"{path}.samples", "a timestamp is beyond the int64 range"))
        return None
    return SeriesSamples(labels_from_dict(labels), ts, np.ascontiguousarray(columns[:, 1]))


def _with_path(r: Rejection) -> Rejection:
    """Give a validation rejection the JSON path of the item or sample it is about."""
    if r.path is not None or r.series_index is None:
        return r
    path = f"[{r.series_index}]"
    if r.sample_index is not None:
        path += f".samples[{r.sample_index}]"
    return replace(r, path=path)


def ingest_json_batch(
    body: bytes | str, validator: BatchValidator, now_ms: int
) -> ValidationOutcome:
    """Decode and validate a push body: the accepted batch, or every problem in it."""
    series, indices, rejected = parse_json_batch(body, validator.limits.max_rejections_listed)
    outcome = validator.validate(series, now_ms, series_indices=indices)
    if isinstance(outcome, AcceptedBatch) and not rejected.rejected_by_reason:
        return outcome
    if isinstance(outcome, RejectedBatch):
        outcome.rejections = [_with_path(r) for r in outcome.rejections]
        rejected.extend(outcome)
    return rejected


def encode_json_batch(batch: Sequence[SeriesSamples]) -> bytes:
    """The push body for a batch (millisecond timestamps, non-finite values as strings)."""
    items = []
    for s in batch:
        labels = {k: v for k, v in s.labels if k != METRIC_NAME_LABEL}
        pairs = [
            [int(t), float(v) if math.isfinite(v) else _nonfinite(float(v))]
            for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
        ]
        items.append({"metric": s.metric_name, "labels": labels, "samples": pairs})
    return json.dumps(items).encode()


def _nonfinite(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"
