"""Our own Prometheus metrics, and `MetricsCollector` for users' business metrics.

    >>> revenue = MetricsCollector("business_metrics").create_gauge(
    ...     "daily_revenue", "Daily revenue", ["region", "product"])
    >>> revenue.labels(region="EU", product="premium").set(150000)

Everything registers in prometheus-client's default registry, served on `GET /metrics`.
"""

from __future__ import annotations

import platform
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, Info, Summary
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

import watchkeeper

BUILD_INFO = Info("watchkeeper_build", "Watchkeeper version and runtime")
BUILD_INFO.info({"version": watchkeeper.__version__, "python": platform.python_version()})

HTTP_REQUESTS = Counter(
    "watchkeeper_http_requests",
    "HTTP requests answered, by route template and status code",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "watchkeeper_http_request_duration_seconds",
    "Time to answer HTTP requests, by route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WORKER_RESTARTS = Counter(
    "watchkeeper_worker_restarts", "Background worker restarts after a crash", ["worker"]
)
WORKER_UP = Gauge("watchkeeper_worker_up", "1 when the background worker is running", ["worker"])
AUDIT_RECORDS = Counter("watchkeeper_audit_records", "Audit records written", ["outcome"])
AUDIT_COLLAPSED = Counter(
    "watchkeeper_audit_collapsed", "Refused requests counted into an identical queued audit record"
)
AUDIT_DROPPED = Counter(
    "watchkeeper_audit_dropped", "Audit entries dropped (queue full too long, or write failed)"
)
LOGINS = Counter("watchkeeper_logins", "Login attempts", ["outcome"])


class PoolCollector(Collector):
    """Database connection pool usage, read at scrape time."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "watchkeeper_db_pool_connections",
            "Database pool connections by state",
            labels=["state"],
        )
        for state in ("checkedout", "checkedin", "size", "overflow"):
            method = getattr(self._pool, state, None)
            if callable(method):
                family.add_metric([state], float(method()))
        yield family


_pool_collector: PoolCollector | None = None
_pool_lock = threading.Lock()


def watch_pool(pool: Any) -> None:
    """Export this pool's usage (replacing the pool of a previous app in the same process)."""
    global _pool_collector
    with _pool_lock:
        if _pool_collector is not None:
            REGISTRY.unregister(_pool_collector)
        _pool_collector = PoolCollector(pool)
        REGISTRY.register(_pool_collector)


# Metrics made through any MetricsCollector, by (registry, full name): creating one twice,
# from the same or another collector object, returns the first instead of failing.
_created: dict[tuple[int, str], MetricWrapperBase] = {}
_created_lock = threading.Lock()


class MetricsCollector:
    """Create gauges, counters, histograms and summaries under a namespace, exported on /metrics."""

    def __init__(self, namespace: str, registry: CollectorRegistry = REGISTRY) -> None:
        self.namespace = namespace
        self.registry = registry

    def _make(
        self,
        kind: type[MetricWrapperBase],
        name: str,
        documentation: str,
        labels: Sequence[str],
        **extra: Any,
    ) -> Any:
        key = (id(self.registry), f"{self.namespace}_{name}")
        with _created_lock:
            existing = _created.get(key)
            if existing is not None:
                if not isinstance(existing, kind):
                    raise ValueError(
                        f"metric {key[1]!r} already exists as a {type(existing).__name__}"
                    )
                return existing
            metric = kind(
                name,
                documentation,
                list(labels),
                namespace=self.namespace,
                registry=self.registry,
                **extra,
            )
            _created[key] = metric
            return metric

    def create_gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        gauge: Gauge = self._make(Gauge, name, documentation, labels)
        return gauge

    def create_counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        counter: Counter = self._make(Counter, name, documentation, labels)
        return counter

    def create_histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS,
    ) -> Histogram:
        histogram: Histogram = self._make(Histogram, name, documentation, labels, buckets=buckets)
        return histogram

    def create_summary(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Summary:
        summary: Summary = self._make(Summary, name, documentation, labels)
        return summary

    def get(self, name: str) -> MetricWrapperBase:
        return _created[(id(self.registry), f"{self.namespace}_{name}")]


TENANT_LABELS = frozenset({"tenant", "tenant_id"})


class TenantsSummed(Collector):
    """The default registry with every tenant label summed away (one sample per remaining
    label set), for callers who may not see which tenants exist."""

    def collect(self) -> Iterable[Metric]:
        for family in REGISTRY.collect():
            if not any(TENANT_LABELS & sample.labels.keys() for sample in family.samples):
                yield family
                continue
            sums: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
            for sample in family.samples:
                kept = tuple(
                    sorted((k, v) for k, v in sample.labels.items() if k not in TENANT_LABELS)
                )
                key = (sample.name, kept)
                sums[key] = sums.get(key, 0.0) + sample.value
            summed = Metric(family.name, family.documentation, family.type, family.unit)
            for (name, labels), value in sums.items():
                summed.add_sample(name, dict(labels), value)
            yield summed
