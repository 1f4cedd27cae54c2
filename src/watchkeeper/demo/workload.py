"""The demo's synthetic series: pure functions of time, no I/O.

Three services with a daily traffic pattern (a sine over the day, quietest at 04:00 UTC),
request counters by status code, latency, host CPU, and a story over the last hours:

- `search` latency jumps for eight minutes 50 minutes ago (an anomaly; its score is written
  as `watchkeeper_anomaly_score`, as the detection loop would);
- `checkout` starts failing 6 % of its requests 25 minutes ago (error-rate alert, SLO burn,
  an incident);
- the database's data disk loses space steadily and is predicted full within hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from watchkeeper.domain.series import SeriesSamples, labels_from_dict

STEP_SECONDS = 60
SERVICES = {"checkout": 40.0, "search": 120.0, "payments": 15.0}
"""Requests per second at the daily peak."""
INSTANCES = ("a", "b")
ANOMALY_AGO = (50 * 60, 42 * 60)
"""Seconds before the end when search's latency spike starts and ends."""
ERRORS_AGO = 25 * 60
"""Seconds before the end when checkout starts failing."""
ERROR_SHARE = 0.06
BASE_ERROR_SHARE = 0.0004
DISK_SIZE = 500e9
DISK_FULL_IN = 5 * 3600
"""Seconds after the end when the database's disk would be full at its current pace."""


@dataclass(frozen=True)
class Window:
    """The demo's time range: `end` (now) and `hours` before it, one point a minute."""

    end: float
    hours: float

    @property
    def times(self) -> np.ndarray:
        n = int(self.hours * 3600 // STEP_SECONDS) + 1
        return self.end - STEP_SECONDS * np.arange(n - 1, -1, -1, dtype=np.float64)

    @property
    def stamps_ms(self) -> np.ndarray:
        return np.round(self.times * 1000).astype(np.int64)


def daily(times: np.ndarray) -> np.ndarray:
    """0.5 at 04:00 UTC, 1.5 at 16:00: the shape of a day's traffic."""
    hours = (times % 86400) / 3600
    return 1.0 - 0.5 * np.cos(2 * math.pi * (hours - 4) / 24)


def _series(name: str, stamps: np.ndarray, values: np.ndarray, **labels: str) -> SeriesSamples:
    return SeriesSamples(
        labels_from_dict({"__name__": name, **labels}), stamps, values.astype(np.float64)
    )


def _noise(seed: int, n: int, scale: float) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, n)


def requests(window: Window) -> list[SeriesSamples]:
    """`http_requests_total{service, instance, code}` counters, starting at 0."""
    times, stamps = window.times, window.stamps_ms
    ago = window.end - times
    out = []
    for seed, (service, peak) in enumerate(SERVICES.items()):
        errors = np.full(times.shape, BASE_ERROR_SHARE)
        if service == "checkout":
            errors[ago <= ERRORS_AGO] = ERROR_SHARE
        for index, instance in enumerate(INSTANCES):
            rate = peak / 1.5 * daily(times) * (1 + _noise(seed * 10 + index, len(times), 0.03))
            per_step = np.maximum(rate, 0) * STEP_SECONDS / len(INSTANCES)
            per_step[0] = 0.0
            bad = np.round(per_step * errors)
            good = np.round(per_step) - bad
            labels = {"service": service, "instance": f"{service}-{instance}", "job": "demo"}
            out.append(
                _series("http_requests_total", stamps, np.cumsum(good), code="200", **labels)
            )
            out.append(_series("http_requests_total", stamps, np.cumsum(bad), code="500", **labels))
    return out


def latency(window: Window) -> list[SeriesSamples]:
    """`service_latency_seconds{service}` (p95) and the anomaly score of search's spike."""
    times, stamps = window.times, window.stamps_ms
    ago = window.end - times
    spike = (ago <= ANOMALY_AGO[0]) & (ago > ANOMALY_AGO[1])
    out = []
    for seed, service in enumerate(SERVICES):
        base = {"checkout": 0.25, "search": 0.08, "payments": 0.4}[service]
        values = base * (0.8 + 0.2 * daily(times)) * (1 + _noise(100 + seed, len(times), 0.04))
        score = np.clip(np.abs(_noise(200 + seed, len(times), 0.08)), 0, 0.4)
        if service == "search":
            values[spike] *= 6
            score[spike] = 0.97
        if service == "checkout":
            values[ago <= ERRORS_AGO] *= 1.8
        labels = {"service": service, "job": "demo"}
        out.append(_series("service_latency_seconds", stamps, values, **labels))
        out.append(
            _series(
                "watchkeeper_anomaly_score",
                stamps,
                score,
                metric="service_latency_seconds",
                detector="ensemble",
                **labels,
            )
        )
    return out


def hosts(window: Window) -> list[SeriesSamples]:
    """Host CPU per service instance and the database's data disk, filling up."""
    times, stamps = window.times, window.stamps_ms
    out = []
    for seed, service in enumerate(SERVICES):
        for instance in INSTANCES:
            cpu = 0.2 + 0.35 * (daily(times) - 0.5) + _noise(300 + seed, len(times), 0.03)
            out.append(
                _series(
                    "host_cpu_utilization_ratio",
                    stamps,
                    np.clip(cpu, 0, 1),
                    instance=f"{service}-{instance}",
                    job="demo",
                )
            )
    avail_now = DISK_SIZE * 0.08
    per_second = avail_now / DISK_FULL_IN
    avail = avail_now + per_second * (window.end - times) + _noise(400, len(times), 2e6)
    disk = {
        "instance": "db-1",
        "job": "demo",
        "device": "/dev/nvme1n1",
        "fstype": "ext4",
        "mountpoint": "/var/lib/postgresql",
    }
    out.append(_series("node_filesystem_avail_bytes", stamps, avail, **disk))
    out.append(
        _series("node_filesystem_size_bytes", stamps, np.full(times.shape, DISK_SIZE), **disk)
    )
    return out


def workload(window: Window) -> list[SeriesSamples]:
    return [*requests(window), *latency(window), *hosts(window)]
