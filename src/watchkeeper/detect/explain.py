"""Explanations of anomalies: what was expected, what was seen, how far off, and what shape.

Computed from the series' own recent history at the moment of the event, so any detector's
event can be explained the same way:

- expected value and band: the median and robust standard deviation (1.4826 x MAD) of the
  values at the same time of day on earlier days (same weekday when two weeks or more of
  history exist), or of the recent values when the series has no usable daily history;
- pattern: flat_line (the value has not changed for far longer than usual), level_shift (the
  recent points are all off in the same direction), spike / dip (only the newest point is
  off, beyond the series' usual range), seasonality_break (the value is within the usual range
  but not for this time of day),
  trend_change (the recent slope departs from the longer one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import numpy as np

from watchkeeper.detect.base import FloatArray

ROBUST_SIGMA = 1.4826
SIGMA = "\u03c3"


class Pattern(StrEnum):
    SPIKE = "spike"
    DIP = "dip"
    LEVEL_SHIFT = "level_shift"
    TREND_CHANGE = "trend_change"
    SEASONALITY_BREAK = "seasonality_break"
    FLAT_LINE = "flat_line"


_PATTERN_WORDS = {
    Pattern.SPIKE: "spike",
    Pattern.DIP: "dip",
    Pattern.LEVEL_SHIFT: "level shift",
    Pattern.TREND_CHANGE: "trend change",
    Pattern.SEASONALITY_BREAK: "seasonality break",
    Pattern.FLAT_LINE: "flat line",
}


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a point is anomalous, as data; `sentence` renders it for an operator."""

    series: str
    timestamp: float
    observed: float
    expected: float
    band: float
    deviation_sigma: float
    pattern: Pattern
    started_at: float
    context: str
    detectors_agreeing: tuple[str, ...]
    detectors_total: int
    score: float
    attributions: Mapping[str, float] = field(default_factory=dict)
    unit: str = ""

    def sentence(self) -> str:
        """E.g. 'cpu{host=db-1} at 93 % vs expected 41 % ± 6 % for Tuesday 14:00 (8.7 sigma);
        level shift started 14:02; 2 of 3 detectors agree'."""
        u = f" {self.unit}" if self.unit else ""
        started = datetime.fromtimestamp(self.started_at, UTC).strftime("%H:%M")
        text = (
            f"{self.series} at {_fmt(self.observed)}{u} vs expected {_fmt(self.expected)}{u}"
            f" ± {_fmt(self.band)}{u} for {self.context} ({self.deviation_sigma:.1f}{SIGMA}); "
            f"{_PATTERN_WORDS[self.pattern]} started {started}; "
            f"{len(self.detectors_agreeing)} of {self.detectors_total} detectors agree"
        )
        if self.attributions:
            top = sorted(self.attributions.items(), key=lambda kv: -abs(kv[1]))[:3]
            text += "; driven by " + ", ".join(f"{k} ({v:+.2f})" for k, v in top)
        return text


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def _robust(values: FloatArray) -> tuple[float, float]:
    med = float(np.median(values))
    return med, ROBUST_SIGMA * float(np.median(np.abs(values - med)))


def _seasonal_reference(t: FloatArray, x: FloatArray, now: float) -> tuple[FloatArray, str]:
    moment = datetime.fromtimestamp(now, UTC)
    period = 604800.0 if now - t[0] >= 2 * 604800.0 else 86400.0
    if now - t[0] < 2 * 86400.0:
        return np.zeros(0), "the last hour"
    tolerance = max(float(np.median(np.diff(t))) if len(t) > 1 else 0.0, 300.0) / 2.0
    phase = (now - t) % period
    near = (np.minimum(phase, period - phase) <= tolerance) & (t < now - tolerance)
    label = moment.strftime("%A %H:%M") if period > 86400.0 else moment.strftime("%H:%M daily")
    return x[near], label


def explain(
    series: str,
    t: Sequence[float] | FloatArray,
    x: Sequence[float] | FloatArray,
    score: float,
    detectors_agreeing: Sequence[str],
    detectors_total: int,
    attributions: Mapping[str, float] | None = None,
    unit: str = "",
) -> Explanation:
    """Explain the newest point of (t, x), the series' history up to and including the event."""
    ts = np.asarray(t, dtype=np.float64)
    xs = np.asarray(x, dtype=np.float64)
    now, obs = float(ts[-1]), float(xs[-1])
    past_t, past = ts[:-1], xs[:-1]
    seasonal, context = _seasonal_reference(past_t, past, now)
    recent = past[-60:] if len(past) else xs
    if len(seasonal) >= 2:
        expected, sigma = _robust(seasonal)
    else:
        expected, sigma = _robust(recent)
        context = "recent behaviour"
    overall_sigma = _robust(past)[1] if len(past) else 0.0
    floor = max(1e-9, 1e-6 * abs(expected), 0.1 * overall_sigma)
    sigma = max(sigma, floor)
    deviation = (obs - expected) / sigma
    pattern, start_idx = _pattern(past, obs, expected, sigma)
    started = float(ts[start_idx]) if start_idx is not None else now
    return Explanation(
        series,
        now,
        obs,
        expected,
        sigma,
        abs(deviation),
        pattern,
        started,
        context,
        tuple(detectors_agreeing),
        detectors_total,
        score,
        dict(attributions or {}),
        unit,
    )


def _pattern(
    past: FloatArray, obs: float, expected: float, sigma: float
) -> tuple[Pattern, int | None]:
    n = len(past)
    run = 0
    while run < n and past[n - 1 - run] == obs:
        run += 1
    changes = np.flatnonzero(np.diff(past) != 0) if n > 1 else np.zeros(0, dtype=np.int64)
    longest = int(np.max(np.diff(changes))) if len(changes) > 1 else 0
    if run >= 10 and run > 3 * max(longest, 1):
        return Pattern.FLAT_LINE, n - run
    sign = 1.0 if obs >= expected else -1.0
    off = sign * (past[-10:] - expected) / sigma > 3.0 if n else np.zeros(0, dtype=bool)
    if len(off) >= 3 and off[-3:].all():
        first = len(off) - int(np.argmin(off[::-1])) if not off.all() else 0
        return Pattern.LEVEL_SHIFT, n - len(off) + first
    low, high = np.percentile(past, [1, 99]) if n else (obs, obs)
    ordinary = bool(low <= obs <= high)  # within the series' usual range, just not now
    if ordinary and abs(obs - expected) > 3 * sigma:
        return Pattern.SEASONALITY_BREAK, None
    if n >= 40:
        steps = np.arange(20, dtype=np.float64)
        recent_slope = float(np.polyfit(steps, past[-20:], 1)[0])
        older_slope = float(np.polyfit(np.arange(n - 20, dtype=np.float64), past[:-20], 1)[0])
        if abs(recent_slope - older_slope) * 20 > 3 * sigma and abs(obs - expected) <= 3 * sigma:
            return Pattern.TREND_CHANGE, n - 20
    return (Pattern.SPIKE if obs >= expected else Pattern.DIP), None
