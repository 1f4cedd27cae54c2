"""Metric metadata (type, help, unit) per tenant, for `GET /api/v1/metadata`.

Kept in memory as Prometheus keeps it: senders state it again all the time (a scrape's
`# TYPE`/`# HELP` lines every interval, remote_write's metadata requests every minute, our own
collectors at each tick), so a restarted process relearns it within a minute instead of
storing what the next sender will repeat. Bounded: a tenant keeps at most `max_metrics`
families (newest wins), and every text is cut to `MAX_TEXT` characters, so a sender cannot
grow it without limit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

MAX_TEXT = 1024

MetadataSink = Callable[[str, Mapping[str, str], Mapping[str, str]], None]
"""What a collector calls with (tenant name, TYPE by family, HELP by family)."""
TYPES = frozenset(
    {"counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset", "unknown"}
)


@dataclass(frozen=True)
class MetricMetadata:
    """One family's metadata as Prometheus' API shows it."""

    type: str
    help: str = ""
    unit: str = ""

    def to_json(self) -> dict[str, str]:
        return {"type": self.type, "help": self.help, "unit": self.unit}


def _normal_type(value: str) -> str:
    value = value.lower()
    if value == "untyped":
        return "unknown"
    return value if value in TYPES else "unknown"


class MetadataRegistry:
    """Tenant -> metric family -> the distinct metadata senders stated for it."""

    def __init__(self, max_metrics: int = 20_000, max_variants: int = 4) -> None:
        self.max_metrics = max_metrics
        self.max_variants = max_variants
        self._tenants: dict[str, OrderedDict[str, tuple[MetricMetadata, ...]]] = {}
        self._lock = threading.Lock()

    def record(self, tenant_id: str, metric: str, metadata: MetricMetadata) -> None:
        metadata = MetricMetadata(
            _normal_type(metadata.type), metadata.help[:MAX_TEXT], metadata.unit[:MAX_TEXT]
        )
        metric = metric[:MAX_TEXT]
        with self._lock:
            families = self._tenants.setdefault(tenant_id, OrderedDict())
            known = families.get(metric, ())
            if metadata in known:
                families.move_to_end(metric)
                return
            families[metric] = (*known[-(self.max_variants - 1) :], metadata)
            families.move_to_end(metric)
            while len(families) > self.max_metrics:
                families.popitem(last=False)

    def record_exposition(
        self, tenant_id: str, types: Mapping[str, str], helps: Mapping[str, str]
    ) -> None:
        """A scrape's `# TYPE` and `# HELP` lines (a family with only HELP is `unknown`)."""
        for name in set(types) | set(helps):
            self.record(
                tenant_id, name, MetricMetadata(types.get(name, "unknown"), helps.get(name, ""))
            )

    def query(
        self, tenant_id: str, *, metric: str | None = None, limit: int = -1, per_metric: int = -1
    ) -> dict[str, list[dict[str, str]]]:
        """Prometheus' answer: metric name -> list of metadata, optionally limited."""
        with self._lock:
            families = dict(self._tenants.get(tenant_id, {}))
        names: Iterable[str] = sorted(families) if metric is None else [metric]
        answer: dict[str, list[dict[str, str]]] = {}
        for name in names:
            if 0 <= limit <= len(answer):
                break
            variants = families.get(name)
            if not variants:
                continue
            chosen = variants if per_metric < 0 else variants[:per_metric]
            if chosen:
                answer[name] = [m.to_json() for m in chosen]
        return answer

    def families(self, tenant_id: str) -> int:
        with self._lock:
            return len(self._tenants.get(tenant_id, {}))
