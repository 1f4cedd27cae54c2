"""The data path's sections: collection (`metrics`), where samples live (`storage`), `query`."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from watchkeeper.config.durations import parse_duration_or_seconds_ms
from watchkeeper.config.sections.base import Section


class ScrapeTarget(Section):
    """A Prometheus-style scrape job (`scrape_configs` in Prometheus)."""

    job_name: str = Field(min_length=1)
    targets: list[str] = Field(min_length=1, description="host:port of each target")
    metrics_path: str = "/metrics"
    scheme: Literal["http", "https"] = "http"
    scrape_interval: float | None = Field(
        None, gt=0, description="seconds; default: collection_interval"
    )
    scrape_timeout: float = Field(10.0, gt=0)
    bearer_token: SecretStr | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    tenant: str = "default"


class MetricsSettings(Section):
    collection_interval: float = Field(
        30.0, gt=0, le=3600, description="seconds between scrapes and host collections"
    )
    retention_days: int = Field(90, ge=1, le=36500)
    high_cardinality_enabled: bool = False
    max_series_per_tenant: int = Field(
        100_000,
        ge=1,
        description="lifted to max_series_high_cardinality when high_cardinality_enabled",
    )
    max_series_high_cardinality: int = Field(10_000_000, ge=1)
    host_collector_enabled: bool = True
    self_metrics_enabled: bool = Field(
        False,
        description="the host collector also stores Watchkeeper's own watchkeeper_* metrics "
        "(tenant labels summed away), so dashboards chart its health without a scrape job; "
        "off by default: the detection loop would model each of those ~230 series too",
    )
    scrape_configs: list[ScrapeTarget] = Field(default_factory=list)
    max_body_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="largest accepted ingest body"
    )

    @property
    def series_limit(self) -> int:
        return (
            self.max_series_high_cardinality
            if self.high_cardinality_enabled
            else self.max_series_per_tenant
        )


class DownsampleTier(Section):
    """Blocks older than `after_days` keep one sample per series every `resolution`."""

    after_days: float = Field(gt=0, le=36500, description="age from which data is thinned")
    resolution: str = Field(description="bucket kept per sample, e.g. 5m or 1h")

    @field_validator("resolution")
    @classmethod
    def _duration(cls, value: str) -> str:
        try:
            ms = parse_duration_or_seconds_ms(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a duration such as 5m or 1h") from None
        if ms < 60_000:
            raise ValueError(f"{value!r} is finer than 1m: keep raw samples instead")
        return value

    @property
    def resolution_ms(self) -> int:
        return parse_duration_or_seconds_ms(self.resolution)


class StorageSettings(Section):
    """Where samples live: the embedded store (default) or a Prometheus-compatible TSDB."""

    backend: Literal["embedded", "remote"] = "embedded"
    path: Path | None = Field(None, description="embedded store folder; default <data_dir>/metrics")
    fsync: Literal["always", "never"] = Field(
        "always", description="always: every acknowledged write survives a power cut"
    )
    remote_url: str | None = Field(
        None, description="base URL of the remote TSDB's Prometheus API, e.g. http://vm:8428"
    )
    remote_write_url: str | None = Field(None, description="default: <remote_url>/api/v1/write")
    remote_tenant_label: str = Field(
        "watchkeeper_tenant", description="label that carries the tenant in the remote TSDB"
    )
    remote_tenant_header: str | None = Field(
        None, description="or a header, e.g. X-Scope-OrgID for Mimir"
    )
    remote_timeout_seconds: float = Field(30.0, gt=0)
    chunk_cache_mb: int = Field(
        256,
        ge=0,
        le=65536,
        description="embedded store: memory for decoded block chunks (recent blocks read "
        "by queries stay decoded); 0 decodes on every read",
    )
    downsampling: list[DownsampleTier] = Field(
        default_factory=list,
        description="embedded store: thin old data, e.g. [{after_days: 7, resolution: 5m}]",
    )

    @field_validator("downsampling")
    @classmethod
    def _coarser_with_age(cls, tiers: list[DownsampleTier]) -> list[DownsampleTier]:
        ordered = sorted(tiers, key=lambda t: t.after_days)
        for finer, coarser in itertools.pairwise(ordered):
            if coarser.resolution_ms <= finer.resolution_ms:
                raise ValueError(
                    f"older data must be coarser: {coarser.resolution} after "
                    f"{coarser.after_days:g} days is not coarser than {finer.resolution}"
                )
        return ordered


class QuerySettings(Section):
    lookback_delta_seconds: float = Field(
        300.0, gt=0, description="how far back an instant selector looks"
    )
    max_samples: int = Field(
        20_000_000,
        ge=1000,
        description="samples one query may hold in memory at once (selected samples, values "
        "at every step, subquery steps, window bounds), counted before the big allocations; "
        "a query over it answers 422. About 9-30 bytes each at peak",
    )
    timeout_seconds: float = Field(
        120.0,
        gt=0,
        description="how long one query may run; checked at every node and inside the loops "
        "that grow with the data. A query past it answers 503 (errorType timeout)",
    )
    max_query_length: int = Field(
        65_536,
        ge=256,
        le=1_048_576,
        description="characters in one PromQL expression (queries, rules, selectors); longer "
        "ones answer 400 before parsing",
    )
    max_nesting_depth: int = Field(
        100,
        ge=8,
        le=128,
        description="levels of one PromQL expression: each parenthesis, function call, "
        "aggregation, range/subquery and each operator of a chain like a + b + c counts one. "
        "Deeper ones answer 400 before parsing; at most 128, what the parser and evaluator "
        "handle with a wide margin",
    )
