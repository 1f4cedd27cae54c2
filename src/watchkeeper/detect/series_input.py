"""What the detection loop and training feed a detector, and what they write back.

- Identity: a series is known by its canonical text `name{a="1",b="2"}` (labels sorted, as
  Prometheus prints them) and the SHA-256 of that text, which keys model files and rows.
- Counters are scored as per-second rates, not raw values: a raw counter only ever climbs, so
  every new point would break the learned range. A metric is a counter when its name ends in
  `_total`, `_count`, `_sum` or `_bucket` (the OpenMetrics/Prometheus naming rules; the store
  keeps no type metadata). The rate between two samples is Prometheus' `rate()` arithmetic on
  one interval: a drop is a counter reset, so the increase is the new value itself.
- NaN values (including the staleness marker) carry nothing to learn and are dropped.
- Scores go back as `watchkeeper_anomaly_score{<labels minus __name__>, metric="<name>"}`; an
  original `metric` label is kept as `exported_metric` (Prometheus' rule for clashing labels).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchkeeper.detect.base import FloatArray
from watchkeeper.domain.series import METRIC_NAME_LABEL, Labels, SeriesSamples

SCORE_METRIC = "watchkeeper_anomaly_score"
FORECAST_METRIC = "watchkeeper_forecast"
OUTPUT_METRICS = frozenset({SCORE_METRIC, FORECAST_METRIC})
"""Series the detection and forecast loops write; never scored or forecast themselves."""

COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")


def is_counter(metric: str) -> bool:
    return metric.endswith(COUNTER_SUFFIXES)


def series_text(labels: Labels) -> str:
    """`name{a="1",b="2"}`: the series as an operator reads it and as models are keyed."""
    name = ""
    pairs = []
    for key, value in labels:
        if key == METRIC_NAME_LABEL:
            name = value
        else:
            escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            pairs.append(f'{key}="{escaped}"')
    return f"{name}{{{','.join(pairs)}}}"


def series_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def score_labels(labels: Labels) -> Labels:
    """The labels of the score series written for a scored series."""
    out: dict[str, str] = {}
    metric = ""
    for key, value in labels:
        if key == METRIC_NAME_LABEL:
            metric = value
        elif key == "metric":
            out["exported_metric"] = value
        else:
            out[key] = value
    out["metric"] = metric
    out[METRIC_NAME_LABEL] = SCORE_METRIC
    return tuple(sorted(out.items()))


@dataclass(frozen=True, slots=True)
class DetectorInput:
    """Points ready for a detector: store timestamps (ms), the same in seconds, and values."""

    timestamps_ms: npt.NDArray[np.int64]
    seconds: FloatArray
    values: FloatArray

    def __len__(self) -> int:
        return len(self.values)


def detector_input(samples: SeriesSamples, after_ms: int | None = None) -> DetectorInput:
    """The series' points with timestamps after `after_ms` (all when None), counters as rates.

    For a counter the sample at or before `after_ms` is used as the base of the first rate,
    so a caller that reads from its watermark inclusive loses no interval.
    """
    ts = np.asarray(samples.timestamps, dtype=np.int64)
    xs = np.asarray(samples.values, dtype=np.float64)
    keep = ~np.isnan(xs)
    ts, xs = ts[keep], xs[keep]
    if is_counter(samples.metric_name) and len(xs):
        increase = np.diff(xs)
        reset = increase < 0
        increase[reset] = xs[1:][reset]
        elapsed = np.diff(ts).astype(np.float64) / 1000.0
        ts = ts[1:]
        xs = np.divide(increase, elapsed, out=np.zeros_like(increase), where=elapsed > 0)
    if after_ms is not None:
        later = ts > after_ms
        ts, xs = ts[later], xs[later]
    return DetectorInput(ts, ts.astype(np.float64) / 1000.0, np.ascontiguousarray(xs))
