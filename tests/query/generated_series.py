"""Deterministic test series: counters with resets, gauges, classic histograms, gaps and
staleness markers, over one hour at a 15 s scrape interval with a little jitter."""

from __future__ import annotations

import numpy as np

from watchkeeper.domain.series import STALE_NAN, SeriesSamples, labels_from_dict

T0_MS = 1_700_000_000_000
"""First sample time of every generated series."""
SPAN_MS = 3_600_000
INTERVAL_MS = 15_000
BUCKETS = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]


def _times(rng: np.random.Generator) -> np.ndarray:
    base = T0_MS + np.arange(0, SPAN_MS, INTERVAL_MS, dtype=np.int64)
    jitter = rng.integers(-400, 400, size=len(base))
    jitter[0] = 0
    return base + jitter


def _with_gap(
    times: np.ndarray, values: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Drop a few minutes of samples, as a missed scrape window would."""
    start = int(rng.integers(40, len(times) - 60))
    length = int(rng.integers(8, 30))
    keep = np.ones(len(times), dtype=bool)
    keep[start : start + length] = False
    return times[keep], values[keep]


def _with_staleness(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A staleness marker, then nothing for a while, then the series resumes."""
    out = values.copy()
    at = int(rng.integers(60, len(values) - 80))
    out[at] = STALE_NAN
    return out


def _counter(n: int, rng: np.random.Generator, resets: int) -> np.ndarray:
    increments = rng.exponential(3.0, size=n)
    values = np.cumsum(increments) + rng.uniform(0, 50)
    for at in rng.choice(np.arange(20, n - 20), size=resets, replace=False):
        values[at:] -= values[at] - rng.uniform(0, 2)
    return values


def generate() -> list[SeriesSamples]:
    rng = np.random.default_rng(20240601)
    out: list[SeriesSamples] = []

    def add(labels: dict[str, str], times: np.ndarray, values: np.ndarray) -> None:
        out.append(
            SeriesSamples(
                labels_from_dict(labels), times.astype(np.int64), values.astype(np.float64)
            )
        )

    k = 0
    for job in ("api", "web"):
        for instance in ("a:80", "b:80", "c:80"):
            for method in ("GET", "POST"):
                k += 1
                times = _times(rng)
                values = _counter(len(times), rng, resets=k % 3)
                if k % 4 == 0:
                    times, values = _with_gap(times, values, rng)
                if k % 5 == 0:
                    values = _with_staleness(values, rng)
                add(
                    {
                        "__name__": "http_requests_total",
                        "job": job,
                        "instance": instance,
                        "method": method,
                    },
                    times,
                    values,
                )
    for job in ("api", "web"):
        for instance in ("a:80", "b:80", "c:80"):
            times = _times(rng)
            values = np.cumsum(rng.normal(0, 1.5, size=len(times))) + rng.uniform(-5, 30)
            if instance == "b:80":
                times, values = _with_gap(times, values, rng)
            if instance == "c:80" and job == "web":
                values = _with_staleness(values, rng)
            add(
                {"__name__": "temperature_celsius", "job": job, "instance": instance}, times, values
            )
            up = (rng.uniform(size=len(times)) > 0.1).astype(np.float64)
            add({"__name__": "up", "job": job, "instance": instance}, times, up)
    for job in ("api", "web"):
        for instance in ("a:80", "b:80"):
            times = _times(rng)
            n = len(times)
            observations = rng.gamma(2.0, 0.3, size=(n, 3))
            edges = np.array([float(b) for b in BUCKETS])
            per_step = (observations[:, :, None] <= edges[None, None, :]).sum(axis=1)
            cumulative = np.cumsum(per_step, axis=0).astype(np.float64)
            for i, le in enumerate(BUCKETS):
                add(
                    {
                        "__name__": "request_duration_seconds_bucket",
                        "job": job,
                        "instance": instance,
                        "le": le,
                    },
                    times,
                    cumulative[:, i],
                )
            add(
                {"__name__": "request_duration_seconds_count", "job": job, "instance": instance},
                times,
                cumulative[:, -1],
            )
            add(
                {"__name__": "request_duration_seconds_sum", "job": job, "instance": instance},
                times,
                np.cumsum(observations.sum(axis=1)),
            )
    # Gauges holding NaN and infinities, which every operator must carry like Prometheus.
    for instance in ("a:80", "b:80", "c:80"):
        times = _times(rng)
        values = rng.normal(0, 10, size=len(times))
        for special in (np.nan, np.inf, -np.inf):
            values[rng.choice(len(values), size=12, replace=False)] = special
        add({"__name__": "odd_gauge", "job": "odd", "instance": instance}, times, values)
    # A series that ends with a staleness marker and never comes back.
    times = _times(rng)[:120]
    values = rng.uniform(0, 10, size=len(times))
    values[-1] = STALE_NAN
    add({"__name__": "batch_job_progress", "job": "batch"}, times, values)
    return out


def time_ordered_batches(
    series: list[SeriesSamples], window_ms: int = 600_000
) -> list[list[SeriesSamples]]:
    """The samples cut into consecutive time windows, every series in each: a receiver that
    only accepts recent samples (Prometheus' head block) takes them in this order."""
    batches = []
    for start in range(T0_MS - 1000, T0_MS + SPAN_MS + 1000, window_ms):
        batch = []
        for s in series:
            keep = (s.timestamps >= start) & (s.timestamps < start + window_ms)
            if keep.any():
                batch.append(SeriesSamples(s.labels, s.timestamps[keep], s.values[keep]))
        batches.append(batch)
    return batches
