"""The normal-series suite: healthy generated series on which a detector should stay silent.

NAB measures whether anomalies are found; an operator also feels every false page on a healthy
series. This suite generates, from one seed, the kinds of series production has and counts the
false *events* a detector raises on them, warm-up included (a fresh detector sees each series
from its first point, as the live loop does for a new series):

- `daily`: a daily cycle (random amplitude, phase and a second harmonic) plus noise, 1-minute.
- `weekly`: a daily cycle whose weekend days are lower, 5-minute, five weeks.
- `flat`: a level plus Gaussian noise, or small Poisson counts (integer values), 1-minute.
- `trending`: a linear climb (disk use, table size) plus noise, 1-minute.
- `counter_rate`: a `_total` counter scraped every 30 s (Poisson increments on a daily
  cycle, a process restart resetting it twice), turned into per-second rates exactly as the
  live loop does (`series_input.detector_input`).
- `latency`: a heavy-tailed latency (log-normal per point, with a daily cycle), 1-minute.
- `gaps`: a daily cycle with missing stretches (scrape failures of minutes to hours).
- `level_change`: a level that moves once (a deploy: +6 to +20 noise sd or x1.5..x3) and stays;
  events starting within `CHANGE_GRACE_SECONDS` after the change are the allowed short alert
  and are counted apart (`change_events`), every other event is false.

An event is a run of consecutive points with `score >= detector.threshold`, as an alert rule
on the score series would page on it. The figure is false events per series-day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from watchkeeper.detect.base import Detector, FloatArray
from watchkeeper.detect.series_input import detector_input
from watchkeeper.domain.series import METRIC_NAME_LABEL, SeriesSamples

DAY_SECONDS = 86400.0
START = 1_767_225_600.0  # 2026-01-01 00:00 UTC, a Thursday
CHANGE_GRACE_SECONDS = 3600.0
"""Events starting this long after a level change are the allowed alert, not false ones."""

KINDS = ("daily", "weekly", "flat", "trending", "counter_rate", "latency", "gaps", "level_change")


@dataclass(frozen=True, slots=True)
class NormalSeries:
    """One generated healthy series; `change_at` is the time of a level change, if any."""

    kind: str
    index: int
    t: FloatArray
    x: FloatArray
    days: float
    change_at: float | None = None


@dataclass(frozen=True, slots=True)
class SeriesResult:
    kind: str
    index: int
    points: int
    days: float
    false_events: int
    change_events: int
    false_times: tuple[float, ...]


def _grid(days: float, step: float) -> FloatArray:
    return START + np.arange(int(days * DAY_SECONDS / step), dtype=np.float64) * step


def _cycle(t: FloatArray, rng: np.random.Generator) -> FloatArray:
    """A daily shape in about [-1, 1]: a random phase and a weaker second harmonic."""
    phase = rng.uniform(0, 2 * np.pi)
    h2 = rng.uniform(0.0, 0.4)
    w = 2 * np.pi * (t % DAY_SECONDS) / DAY_SECONDS
    out = (np.sin(w + phase) + h2 * np.sin(2 * w + 2 * phase)) / (1 + h2)
    return np.asarray(out, dtype=np.float64)


def _daily(rng: np.random.Generator, days: float) -> tuple[FloatArray, FloatArray]:
    t = _grid(days, 60.0)
    level = rng.uniform(20, 500)
    amp = level * rng.uniform(0.1, 0.5)
    noise = amp * rng.uniform(0.02, 0.2)
    return t, level + amp * _cycle(t, rng) + rng.normal(0, noise, len(t))


def _weekly(rng: np.random.Generator, days: float) -> tuple[FloatArray, FloatArray]:
    t = _grid(days, 300.0)
    level = rng.uniform(50, 1000)
    weekday = ((t // DAY_SECONDS).astype(np.int64) + 3) % 7  # 0 = Monday
    weekend = np.where(weekday >= 5, rng.uniform(0.3, 0.7), 1.0)
    amp = level * rng.uniform(0.2, 0.5)
    noise = amp * rng.uniform(0.03, 0.15)
    x = weekend * (level + amp * _cycle(t, rng)) + rng.normal(0, noise, len(t))
    return t, x


def _flat(rng: np.random.Generator, days: float) -> tuple[FloatArray, FloatArray]:
    t = _grid(days, 60.0)
    if rng.random() < 0.3:
        return t, rng.poisson(rng.uniform(0.5, 8), len(t)).astype(np.float64)
    level = rng.uniform(0, 200)
    return t, level + rng.normal(0, rng.uniform(0.5, 15), len(t))


def _trending(rng: np.random.Generator, days: float) -> tuple[FloatArray, FloatArray]:
    t = _grid(days, 60.0)
    start = rng.uniform(10, 60)
    per_day = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 4.0)
    noise = rng.uniform(0.05, 1.0)
    return t, start + per_day * (t - START) / DAY_SECONDS + rng.normal(0, noise, len(t))


def _counter_rate(rng: np.random.Generator, days: float) -> tuple[FloatArray, FloatArray]:
    step = 30.0
    t = _grid(days, step)
    per_second = rng.uniform(0.5, 200) * (1 + rng.uniform(0.1, 0.6) * _cycle(t, rng))
    counter = np.cumsum(rng.poisson(per_second * step)).astype(np.float64)
    for restart in rng.integers(len(t) // 4, len(t), size=2):
        counter[restart:] -= counter[restart - 1]  # the process restarted: counting from 0
    samples = SeriesSamples(
        ((METRIC_NAME_LABEL, "requests_total"),),
        (t * 1000).astype(np.int64),
        counter,
    )
    points = detector_input(samples)
    return points.seconds, points.values


def _latency(rng: np.random.Generator, days: float) -> tuple[FloatArray, FloatArray]:
    t = _grid(days, 60.0)
    median = rng.uniform(0.01, 0.5) * (1 + rng.uniform(0.0, 0.5) * _cycle(t, rng))
    return t, median * rng.lognormal(0.0, rng.uniform(0.2, 0.8), len(t))


def _gaps(rng: np.random.Generator, days: float) -> tuple[FloatArray, FloatArray]:
    t, x = _daily(rng, days)
    keep = np.ones(len(t), dtype=bool)
    for _ in range(int(rng.integers(3, 10))):
        start = int(rng.integers(0, len(t)))
        keep[start : start + int(rng.choice([5, 30, 120, 360, 720]))] = False
    return t[keep], x[keep]


def _level_change(rng: np.random.Generator, days: float) -> tuple[FloatArray, FloatArray, float]:
    if rng.random() < 0.5:
        t, x = _daily(rng, days)
    else:
        t, x = _flat(rng, days)
    at = int(rng.integers(int(0.3 * len(t)), int(0.7 * len(t))))
    sd = float(np.std(np.diff(x))) / np.sqrt(2) or 1.0
    if rng.random() < 0.5:
        x[at:] += rng.choice([-1.0, 1.0]) * rng.uniform(6, 20) * sd
    else:
        x[at:] *= rng.uniform(1.5, 3.0)
    return t, x, float(t[at])


_PLAIN: dict[str, Callable[[np.random.Generator, float], tuple[FloatArray, FloatArray]]] = {
    "daily": _daily,
    "weekly": _weekly,
    "flat": _flat,
    "trending": _trending,
    "counter_rate": _counter_rate,
    "latency": _latency,
    "gaps": _gaps,
}
DAYS = {"weekly": 35.0}
"""Days generated per kind (weekly needs weeks to learn its profile); others `days`."""


def generate(seed: int = 0, per_kind: int = 12, days: float = 10.0) -> Iterator[NormalSeries]:
    """The suite's series, deterministic for a seed."""
    for k, kind in enumerate(KINDS):
        for i in range(per_kind):
            rng = np.random.default_rng([seed, k, i])
            span = DAYS.get(kind, days)
            if kind == "level_change":
                t, x, at = _level_change(rng, span)
                yield NormalSeries(kind, i, t, x, span, at)
            else:
                t, x = _PLAIN[kind](rng, span)
                yield NormalSeries(kind, i, t, np.ascontiguousarray(x, dtype=np.float64), span)


def event_starts(scores: FloatArray, threshold: float) -> FloatArray:
    """Indices where a run of consecutive points at or above the threshold begins."""
    hit = scores >= threshold
    starts: FloatArray = np.flatnonzero(hit & ~np.r_[False, hit[:-1]]).astype(np.float64)
    return starts


def score_series(series: NormalSeries, detector: Detector) -> SeriesResult:
    """Run a fresh detector over one series and classify its events."""
    scores = detector.update_many(series.t, series.x)
    times = series.t[event_starts(scores, detector.threshold).astype(np.int64)]
    allowed = np.zeros(len(times), dtype=bool)
    if series.change_at is not None:
        allowed = (times >= series.change_at) & (times < series.change_at + CHANGE_GRACE_SECONDS)
    false_times = times[~allowed]
    return SeriesResult(
        series.kind,
        series.index,
        len(series.x),
        series.days,
        len(false_times),
        int(allowed.sum()),
        tuple(float(v) for v in false_times),
    )


def run_suite(
    factory: Callable[[], Detector], seed: int = 0, per_kind: int = 12, days: float = 10.0
) -> list[SeriesResult]:
    """Score every series of the suite with a fresh detector from `factory`."""
    return [score_series(s, factory()) for s in generate(seed, per_kind, days)]
