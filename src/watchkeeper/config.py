"""The one Settings object: a YAML file plus environment variables, validated once at start-up.

Nothing else in Watchkeeper reads the environment. Names users know from the product brief
(`DATABASE_URL`, `JWT_SECRET_KEY`, ...) work as they are; every other key can be set as
`WATCHKEEPER_<KEY>` (nested with `__`, e.g. `WATCHKEEPER_METRICS__RETENTION_DAYS=30`).
Precedence: environment > .env file > YAML file > defaults.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import ipaddress
import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from watchkeeper.domain.regex import DEFAULT_MAX_LENGTH as DEFAULT_REGEX_MAX_LENGTH
from watchkeeper.domain.regex import DEFAULT_MAX_MEMORY_BYTES as DEFAULT_REGEX_MAX_MEMORY_BYTES

Profile = Literal["dev", "staging", "production"]

DEV_JWT_SECRET = "dev-insecure-jwt-secret-change-me"
"""The default secret: fine on a laptop, refused by the production profile."""

REDACTED = "********"

_NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smbfs",
        "smb3",
        "sshfs",
        "fuse.sshfs",
        "9p",
        "afs",
        "glusterfs",
        "ceph",
        "fuse.glusterfs",
        "lustre",
        "davfs",
        "fuse.rclone",
        "fuse.s3fs",
    }
)


def _alias(name: str, *others: str) -> AliasChoices:
    """Accept a key by its field name (YAML) and by the environment names users know."""
    return AliasChoices(name, *others)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ScrapeTarget(_Section):
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


class MetricsSettings(_Section):
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


class DownsampleTier(_Section):
    """Blocks older than `after_days` keep one sample per series every `resolution`."""

    after_days: float = Field(gt=0, le=36500, description="age from which data is thinned")
    resolution: str = Field(description="bucket kept per sample, e.g. 5m or 1h")

    @field_validator("resolution")
    @classmethod
    def _duration(cls, value: str) -> str:
        from watchkeeper.query.errors import QueryError
        from watchkeeper.query.params import parse_duration

        try:
            ms = parse_duration("resolution", value)
        except QueryError:
            raise ValueError(f"{value!r} is not a duration such as 5m or 1h") from None
        if ms < 60_000:
            raise ValueError(f"{value!r} is finer than 1m: keep raw samples instead")
        return value

    @property
    def resolution_ms(self) -> int:
        from watchkeeper.query.params import parse_duration

        return parse_duration("resolution", self.resolution)


class StorageSettings(_Section):
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


class QuerySettings(_Section):
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


Role = Literal["api", "workers"]
ROLES: tuple[Role, ...] = ("api", "workers")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    server: Literal["uvicorn", "granian"] = "uvicorn"
    public_url: str | None = Field(
        None, description="external URL, used in links (generatorURL, emails)"
    )
    roles: list[Role] = Field(
        default_factory=lambda: list(ROLES),
        min_length=1,
        description="what this process runs: api (the HTTP API) and/or workers (rules, "
        "dispatch, delivery, detection, ...); `serve --roles` sets it",
    )
    lease_ttl_seconds: float = Field(
        30.0,
        ge=1.0,
        le=600.0,
        description="how long a replica's hold on a run-once worker lasts without renewal "
        "(renewed every third of it); a standby takes over within about this long",
    )
    drain_seconds: float | None = Field(
        None,
        ge=0.0,
        le=300.0,
        description="after SIGTERM, how long the replica answers /health/ready 503 while "
        "still serving requests, so load balancers stop sending it new ones before it stops "
        "listening; default 5 in production, 0 otherwise",
    )
    shutdown_timeout_seconds: float = Field(
        30.0,
        ge=1.0,
        le=900.0,
        description="the process exits at most this long after SIGTERM (drain, requests in "
        "flight, workers stopping); keep it below Kubernetes' terminationGracePeriodSeconds",
    )
    tls_cert_file: Path | None = Field(
        None, description="PEM certificate chain: `serve` terminates TLS itself (with tls_key_file)"
    )
    tls_key_file: Path | None = Field(None, description="PEM private key of tls_cert_file")
    tls_min_version: Literal["1.2", "1.3"] | None = Field(
        None,
        description="oldest TLS version accepted; default 1.3 in production (which refuses 1.2), "
        "1.2 otherwise",
    )
    timeout_keep_alive_seconds: int = Field(
        5, ge=1, le=600, description="an idle keep-alive connection is closed after this long"
    )
    header_read_timeout_seconds: int = Field(
        15,
        ge=1,
        le=600,
        description="a connection that has not sent a request's complete headers within this "
        "long is closed (slow-header / slowloris protection)",
    )
    max_header_bytes: int = Field(
        65536,
        ge=4096,
        le=1048576,
        description="largest request line plus headers accepted (uvicorn's h11 parser, granian's "
        "buffer)",
    )

    @model_validator(mode="after")
    def _drain_within_shutdown(self) -> ServerSettings:
        if self.drain_seconds is not None and self.drain_seconds >= self.shutdown_timeout_seconds:
            raise ValueError(
                "server.drain_seconds must be shorter than server.shutdown_timeout_seconds "
                "(the drain is part of the shutdown bound)"
            )
        return self


class AuthSettings(_Section):
    access_token_ttl_seconds: int = Field(900, ge=30, le=86400)
    refresh_token_ttl_seconds: int = Field(14 * 86400, ge=300)
    login_max_failures: int = Field(
        10, ge=1, description="failed logins per user and address before a lockout"
    )
    login_lockout_seconds: int = Field(300, ge=1)


class ApiSettings(_Section):
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="largest accepted body except ingest"
    )
    cors_origins: list[str] = Field(default_factory=list, description="empty: CORS off")
    docs_enabled: bool | None = Field(
        None,
        description="/docs, /redoc and /openapi.json (assets served locally); default: on, "
        "off in the production profile",
    )


class ObservabilitySettings(_Section):
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"
    access_log: bool = Field(True, description="one log line per HTTP request")
    tracing_exporter: Literal["none", "console", "otlp"] = "none"
    otlp_endpoint: str = "http://127.0.0.1:4318/v1/traces"
    service_name: str = "watchkeeper"
    metrics_auth: Literal["none", "token"] = Field(
        "none",
        description="GET /metrics: none answers anyone (per-tenant series hidden, totals only); "
        "token requires `Authorization: Bearer` with metrics_token or an API key/token with "
        "system:read",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="scrape bearer token for /metrics (operator level: sees per-tenant series); "
        "or a file named by WATCHKEEPER_METRICS_TOKEN_FILE",
    )


DetectorName = Literal["default", "isolation_forest", "lstm", "vae", "ensemble"]
"""The names of `watchkeeper.detect.DETECTORS` (a test keeps the two in step)."""
ForecasterName = Literal[
    "default", "capacity", "arima", "ets", "theta", "mstl", "prophet", "seasonal_naive", "naive2"
]
"""The names of `watchkeeper.detect.forecast.FORECASTERS` (a test keeps the two in step)."""


class DetectionSettings(_Section):
    """The live detection loop (on/off, models path and retraining are the top-level brief keys
    ENABLE_ANOMALY_DETECTION, AI_MODELS_PATH, RETRAIN_INTERVAL_HOURS)."""

    selectors: list[str] = Field(
        default_factory=lambda: ['{job="watchkeeper"}'],
        description="PromQL series selectors the loop scores; default: the built-in host metrics",
    )
    interval_seconds: float = Field(30.0, gt=0, le=3600, description="seconds between passes")
    detector: DetectorName = "default"
    warmup_hours: float = Field(
        24.0, ge=0, le=8760, description="stored history a new series' model first learns from"
    )
    training_hours: float = Field(
        168.0, gt=0, le=8760, description="stored history POST /ai/train and retraining use"
    )
    explain_hours: float = Field(
        72.0, gt=0, le=8760, description="history an anomaly's explanation compares with"
    )
    checkpoint_interval_seconds: float = Field(
        300.0, ge=0, description="how often model state is saved (0: after every pass)"
    )
    forecast_enabled: bool = Field(
        True, description="write watchkeeper_forecast series for the forecast selectors"
    )
    forecast_selectors: list[str] = Field(
        default_factory=list,
        description="series selectors the forecast loop forecasts (empty: the same as selectors)",
    )
    forecast_interval_seconds: float = Field(
        900.0, gt=0, le=86400, description="seconds between forecast passes"
    )
    forecast_horizons: list[str] = Field(
        default_factory=lambda: ["1h", "6h", "24h"],
        min_length=1,
        description="how far ahead each written forecast looks (one series per horizon)",
    )
    forecast_history_hours: float = Field(
        168.0, gt=0, le=8760, description="history each forecast is fitted on"
    )
    forecast_model: ForecasterName = Field(
        "capacity", description="forecaster the loop fits (capacity: follows trends additively)"
    )
    forecast_max_series: int = Field(
        200, ge=1, le=100_000, description="series forecast per tenant and pass at most"
    )
    forecast_max_events: int = Field(
        100,
        ge=0,
        le=100_000,
        description="prediction events (/ws/notifications) per tenant and pass at most; 0: none",
    )
    forecast_in_child: bool = Field(
        True,
        description="fit each forecast pass in a one-shot child process, so the server does not "
        "keep the forecasting libraries (~170 MB) resident between passes; false: fit in the "
        "server (no child start-up, ~7 s of CPU per pass on a 2-core machine)",
    )

    @field_validator("detector")
    @classmethod
    def _deep_needs_torch(cls, value: str) -> str:
        from watchkeeper.extras import deep_detector_problem

        problem = deep_detector_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("selectors", "forecast_selectors")
    @classmethod
    def _valid_selectors(cls, value: list[str]) -> list[str]:
        from watchkeeper.query.errors import QueryError
        from watchkeeper.query.params import parse_selector

        for selector in value:
            try:
                parse_selector(selector)
            except QueryError as exc:
                raise ValueError(f"{selector!r} is not a valid series selector: {exc}") from None
        return value

    @field_validator("forecast_horizons")
    @classmethod
    def _valid_horizons(cls, value: list[str]) -> list[str]:
        from watchkeeper.query.errors import QueryError
        from watchkeeper.query.params import parse_duration

        for horizon in value:
            try:
                seconds = parse_duration("horizon", horizon) / 1000
            except QueryError:
                raise ValueError(f"{horizon!r} is not a duration such as 6h or 90m") from None
            if not 0 < seconds <= 30 * 86400:
                raise ValueError(f"{horizon!r} must be more than 0 and at most 30d")
        return value


class AlertingSettings(_Section):
    """The rule evaluator: default group interval and flap detection."""

    evaluation_interval_seconds: float = Field(
        60.0, gt=0, le=86400, description="interval of rule groups that do not set their own"
    )
    flap_max_changes: int = Field(
        6, ge=2, description="an alert changing state more often than this in the window flaps"
    )
    flap_window_seconds: float = Field(3600.0, gt=0, description="window flap changes count in")
    handling_config_file: Path | None = Field(
        None,
        description="YAML with the default route, inhibit_rules, time_intervals and receivers "
        "of tenants that have not set their own (PUT /api/v1/alerting/config)",
    )
    dispatch_interval_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="how often the dispatcher takes alert events and flushes groups",
    )
    default_rule_pack: bool = Field(
        True,
        description="load the host rule pack (filesystem predicted full, memory, load, collector "
        "down, scrape target down) for the built-in host collector's series, tenant default",
    )


class NotificationSettings(_Section):
    """Outbox delivery: workers, leases, retries, and the anti-spam limits."""

    workers: int = Field(1, ge=0, le=16, description="delivery workers in this process; 0: none")
    batch_size: int = Field(200, ge=1, le=5000, description="outbox rows one claim takes")
    concurrency: int = Field(
        8, ge=1, le=1024, description="deliveries in flight per worker; raise for slow receivers"
    )
    poll_interval_seconds: float = Field(0.5, gt=0, le=60, description="idle wait between claims")
    lease_seconds: float = Field(
        300.0, gt=0, description="a claimed row returns to the queue if not finished by then"
    )
    max_attempts: int = Field(8, ge=1, le=100, description="attempts before a row is dead")
    backoff_base_seconds: float = Field(5.0, gt=0, description="first retry waits up to this")
    backoff_cap_seconds: float = Field(3600.0, gt=0, description="longest wait between tries")
    rate_limit_per_recipient: float = Field(
        20.0, ge=0, description="messages per recipient per rate window; 0: unlimited"
    )
    rate_limit_per_channel: float = Field(
        0.0, ge=0, description="messages per channel type per rate window; 0: unlimited"
    )
    rate_window_seconds: float = Field(3600.0, gt=0, description="the rate limits' window")
    dedup_window_seconds: float = Field(
        300.0, ge=0, description="the same message again within this is suppressed; 0: off"
    )
    outbox_retention_days: int = Field(
        7, ge=1, le=36500, description="sent, expanded and suppressed outbox rows kept this long"
    )
    dead_letter_retention_days: int = Field(
        30, ge=1, le=36500, description="dead outbox rows kept this long (for inspection, retry)"
    )


class RealtimeSettings(_Section):
    """The WebSocket event log and the escalation timer (docs/design/notifications.md)."""

    event_log_max_per_tenant: int = Field(
        10_000, ge=100, description="events kept per tenant for resume after a reconnect"
    )
    event_log_max_hours: float = Field(24.0, gt=0, description="events older than this are dropped")
    escalation_interval_seconds: float = Field(
        15.0, gt=0, le=600, description="how often escalations and reminders are checked"
    )


class IncidentSettings(_Section):
    """The incident correlator: how firing alerts are grouped into incidents, and who hears."""

    enabled: bool = Field(True, description="run the correlation worker")
    interval_seconds: float = Field(10.0, gt=0, le=3600, description="seconds between passes")
    window_seconds: float = Field(
        600.0, gt=0, le=86400, description="alerts this close in time may share an incident"
    )
    group_by: list[str] = Field(
        default_factory=lambda: ["service", "cluster"],
        description="labels whose shared values put alerts in one incident (else: alertname)",
    )
    min_alerts: int = Field(1, ge=1, le=1000, description="alerts needed before one opens")
    auto_resolve: bool = Field(True, description="resolve when every member alert resolved")
    reopen_window_seconds: float = Field(
        1800.0, ge=0, description="a member firing again this soon reopens its incident"
    )
    cooccurrence_min_count: int = Field(
        3, ge=1, description="times two alertnames fired together before they are linked"
    )
    cooccurrence_min_confidence: float = Field(
        0.6, gt=0, le=1, description="share of a name's firings that had the other alongside"
    )
    receiver: str = Field("default", description="receiver of incident notifications")


_yaml_data: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "_yaml_data", default=None
)


class RateLimitSettings(_Section):
    """Token buckets per principal and per tenant (`security.rate_limits`).

    The defaults sit far above what a person or a Prometheus remote_write at a few hundred
    requests per second sends; they stop floods, not use. Health probes and /metrics are exempt.
    """

    enabled: bool = Field(True, description="false: no request is rate limited")
    reads_per_second: float = Field(
        1000.0, gt=0, description="sustained GET/HEAD requests per second per principal"
    )
    reads_burst: float = Field(2000.0, ge=1, description="reads a principal may send at once")
    writes_per_second: float = Field(
        100.0, gt=0, description="sustained state-changing requests per second per principal"
    )
    writes_burst: float = Field(500.0, ge=1, description="writes a principal may send at once")
    ingest_per_second: float = Field(
        2000.0, gt=0, description="sustained ingest/remote_write requests per second per principal"
    )
    ingest_burst: float = Field(4000.0, ge=1, description="ingest requests at once per principal")
    tenant_multiplier: float = Field(
        4.0,
        ge=1,
        description="a tenant's bucket for each class is this many times a principal's",
    )
    failure_threshold: float = Field(
        50.0,
        ge=1,
        description="failures (bad credentials, 4xx answers, refusals of a tenant over its share) "
        "a principal, address or tenant may accumulate before its limits tighten",
    )
    failure_half_life_seconds: float = Field(
        60.0, gt=0, description="how fast accumulated failures are forgiven"
    )
    max_penalty: float = Field(
        20.0,
        ge=1,
        description="the most a persistent failer's requests cost (limits divided by this)",
    )
    redis_key_prefix: str = Field(
        "wk:rl:", min_length=1, max_length=64, description="prefix of the buckets' Redis keys"
    )


class SecuritySettings(_Section):
    """Boundaries against hostile or careless callers: outbound guard, rate limits, TLS, headers."""

    max_regex_length: int = Field(
        DEFAULT_REGEX_MAX_LENGTH,
        ge=64,
        le=1_000_000,
        description="longest regex (characters) accepted in a selector, label_replace, silence, "
        "route or inhibition rule; a longer one is refused with an error naming this key",
    )
    max_regex_memory_bytes: int = Field(
        DEFAULT_REGEX_MAX_MEMORY_BYTES,
        ge=64 * 1024,
        le=256 * 1024 * 1024,
        description="memory one compiled regex (RE2 program and DFA cache) may use; a pattern "
        "needing more is refused",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="CIDRs of reverse proxies whose X-Forwarded-For / Forwarded / X-Real-IP "
        "are believed; the client is the right-most address not in these networks. "
        "Empty: forwarded headers are ignored",
    )
    login_user_max_failures: int | None = Field(
        None,
        ge=1,
        description="failed logins for one username from any address before it is locked "
        "out for auth.login_lockout_seconds; default: 2 x auth.login_max_failures",
    )
    login_address_max_failures: int | None = Field(
        None,
        ge=1,
        description="failed logins from one address for any usernames before it is locked "
        "out for auth.login_lockout_seconds; default: 3 x auth.login_max_failures",
    )
    two_factor_challenge_seconds: int = Field(
        300,
        ge=30,
        le=3600,
        description="how long the challenge returned by a password login of a 2FA user is valid",
    )
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"trusted_proxies: {cidr!r} is not an address or CIDR") from exc
        return value

    tls_proxy: bool = Field(
        False,
        description="a TLS-terminating proxy is in front of this server: production accepts "
        "plain HTTP behind it and responses carry Strict-Transport-Security",
    )
    headers_enabled: bool = Field(
        True,
        description="security headers (Content-Security-Policy, X-Frame-Options, nosniff, "
        "Referrer-Policy, HSTS under TLS) on every response",
    )
    hsts_max_age_seconds: int = Field(
        31_536_000, ge=0, description="Strict-Transport-Security max-age under TLS; 0: no HSTS"
    )
    max_decoded_body_bytes: int = Field(
        32 * 1024 * 1024,
        ge=64 * 1024,
        description="largest decompressed ingest body (remote_write snappy): a body announcing "
        "more is refused (413) before anything is allocated. The decoder's working memory "
        "grows with it (up to ~16 B per 2 B of body for adversarial sample-only bodies)",
    )

    outbound_allow: list[str] = Field(
        default_factory=list,
        description=(
            "non-public destinations tenants' notification channels may reach: CIDRs/IPs "
            "(10.0.0.0/8, ::1) or host names (relay.internal, *.corp.example); default none"
        ),
    )
    global_channels_tenant: str | None = Field(
        "default",
        description=(
            "the tenant (by name) whose implicit 'default' receiver uses the global "
            "SLACK_WEBHOOK_URL/EMAIL_SMTP_* settings; null: no tenant; others never do"
        ),
    )

    @field_validator("outbound_allow")
    @classmethod
    def _allow_entries(cls, value: list[str]) -> list[str]:
        import ipaddress
        import re

        for entry in value:
            text = entry.strip().strip("[]")
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                if not re.fullmatch(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]{0,252})\.?", text):
                    raise ValueError(
                        f"outbound_allow entry {entry!r} is neither a CIDR nor a host name"
                    ) from None
        return value

    # Template and rule-evaluation budgets (template_sandbox.py, alert/worker.py): a tenant's
    # template or rule group may use this much of a shared worker, no more.
    template_render_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="longest one template render may take (rules, notifications, previews)",
    )
    template_output_bytes: int = Field(
        1_000_000, ge=1000, description="most UTF-8 bytes one template render may produce"
    )
    template_value_size: int = Field(
        1_000_000,
        ge=1000,
        description="longest string, list or range a template may build while rendering",
    )
    rule_group_evaluation_seconds: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="one rule group's evaluation budget; over it, its remaining rules are "
        "skipped and the group is marked unhealthy",
    )
    rule_tenant_pass_seconds: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="evaluation time a tenant may use in one scheduler pass; its other due "
        "groups wait for the next pass so other tenants' groups run on time",
    )
    # Argon2 (auth/passwords.py): a login or user-creation flood must not take every core.
    password_hash_concurrency: int | None = Field(
        None,
        ge=1,
        le=64,
        description="password hashes/checks computed at once (each ~19 MiB and tens of ms of "
        "a core); default: half the cores, at least 1",
    )
    password_hash_queue: int = Field(
        8,
        ge=0,
        le=1000,
        description="password checks that may wait for a slot (up to 2 s); beyond, logins "
        "and password changes are answered 429 with Retry-After",
    )
    # The audit writer (audit_writer.py): audit records are written by one thread, in batches.
    audit_queue_entries: int = Field(
        10_000,
        ge=100,
        le=1_000_000,
        description="distinct audit entries that may wait for the audit writer; when full, "
        "state-changing requests wait before their response (repeated identical refusals "
        "count into one entry)",
    )
    audit_batch_window_seconds: float = Field(
        0.2,
        ge=0,
        le=10,
        description="while the audit writer is busy, it waits this long between batches so "
        "repeated identical refusals collapse into one record with a count",
    )


class RetentionSettings(_Section):
    """How long each kind of record is kept (global defaults; tenants may override through
    `PUT /api/v1/retention`). Notifications and metrics point at their own sections' keys."""

    audit_days: int = Field(
        365, ge=1, le=36500, description="audit records kept this long (pruned, chain anchored)"
    )
    audit_min_days: int = Field(
        90,
        ge=1,
        le=36500,
        description="shortest audit retention a tenant admin may set (so an admin cannot "
        "quickly erase the trail of their own actions)",
    )
    incidents_days: int = Field(
        365, ge=1, le=36500, description="resolved incidents (and their timelines) kept this long"
    )
    anomalies_days: int = Field(90, ge=1, le=36500, description="anomaly records kept this long")
    alert_history_days: int = Field(
        90, ge=1, le=36500, description="alert state transitions kept this long"
    )
    notifications_days: int | None = Field(
        None,
        ge=1,
        le=36500,
        description="settled notifications; default notifications.outbox_retention_days. "
        "A tenant may only shorten it: the outbox pruner deletes at the global value",
    )
    metrics_days: int | None = Field(
        None,
        ge=1,
        le=36500,
        description="metric samples; default metrics.retention_days (per-tenant values are "
        "stored but not enforced: the metric store deletes for every tenant at once)",
    )
    interval_seconds: float = Field(
        3600.0, gt=0, le=86400, description="how often the housekeeping worker prunes"
    )
    batch_size: int = Field(
        1000, ge=1, le=100_000, description="rows deleted per transaction while pruning"
    )


class BackupSettings(_Section):
    """The automatic backup worker (metadata, and the embedded store incrementally)."""

    enabled: bool = Field(
        False, description="take a backup every interval_hours into the backup folder"
    )
    interval_hours: float = Field(24.0, gt=0, le=8760, description="hours between backups")
    keep: int = Field(
        7,
        ge=1,
        le=1000,
        description="backups kept (and the older ones they build on); a full backup is taken "
        "when the incremental chain would grow past this",
    )
    folder: Path | None = Field(
        None,
        description="where backups go (and where POST /admin/backup may write); "
        "default <data_dir>/backups",
    )
    wal_shipping: bool = Field(
        False,
        description="ship the SQLite metadata's WAL into <folder>/wal every wal_ship_seconds, "
        "for point-in-time restore (backup restore --at); the shipper then owns checkpoints",
    )
    wal_ship_seconds: float = Field(
        1.0, gt=0, le=3600, description="seconds between WAL ships: the restore granularity"
    )


class _YamlSource(PydanticBaseSettingsSource):
    """The YAML config file, already read by `load_settings`."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (_yaml_data.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_yaml_data.get() or {})


# Secrets that may also come from a file named by a `*_FILE` variable (Docker and Kubernetes
# secrets): dotted key -> {variable that sets it directly: variable naming a file}. The metrics
# token's file variable is not nested: a nested name would read as an unknown section key.
SECRET_FILE_VARIABLES: dict[str, dict[str, str]] = {
    key: {name: f"{name}_FILE" for name in names}
    for key, names in {
        "jwt_secret_key": ("JWT_SECRET_KEY", "WATCHKEEPER_JWT_SECRET_KEY"),
        "encryption_key": ("ENCRYPTION_KEY", "WATCHKEEPER_ENCRYPTION_KEY"),
        "database_url": ("DATABASE_URL", "WATCHKEEPER_DATABASE_URL"),
        "redis_url": ("REDIS_URL", "WATCHKEEPER_REDIS_URL"),
        "redis_password": ("REDIS_PASSWORD", "WATCHKEEPER_REDIS_PASSWORD"),
        "slack_webhook_url": ("SLACK_WEBHOOK_URL", "WATCHKEEPER_SLACK_WEBHOOK_URL"),
    }.items()
}
SECRET_FILE_VARIABLES["observability.metrics_token"] = {
    "WATCHKEEPER_OBSERVABILITY__METRICS_TOKEN": "WATCHKEEPER_METRICS_TOKEN_FILE"
}


def secret_from_environment(variable: str, environ: Mapping[str, str] | None = None) -> str | None:
    """`VARIABLE`, or the content of the file `VARIABLE_FILE` names; a ConfigError when both
    are set. For variables read outside Settings (`WATCHKEEPER_ADMIN_PASSWORD` of `init`)."""
    env = _environment() if environ is None else environ
    direct, path = env.get(variable), env.get(f"{variable}_FILE")
    if path is None:
        return direct
    if direct is not None:
        raise ConfigError(
            [
                ConfigProblem(
                    f"{variable}_FILE",
                    repr(path),
                    f"{variable} is set too; set the secret or the file that holds it, not both",
                )
            ]
        )
    return _read_secret_file(f"{variable}_FILE", path)


def _read_secret_file(variable: str, path: str) -> str:
    """The file's text less one trailing newline (what `echo secret > file` leaves)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            [ConfigProblem(variable, repr(path), f"cannot read the secret file: {exc}")]
        ) from None
    return text.removesuffix("\n").removesuffix("\r")


class _SecretFileSource(PydanticBaseSettingsSource):
    """`JWT_SECRET_KEY_FILE=/run/secrets/jwt` and the like: secrets read from files."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env = _environment()
        out: dict[str, Any] = {}
        for key, variables in SECRET_FILE_VARIABLES.items():
            files = [f for f in variables.values() if f in env]
            if not files:
                continue
            others = [v for v in variables if v in env] + files[1:]
            if others:
                raise ConfigError(
                    [
                        ConfigProblem(
                            files[0],
                            repr(env[files[0]]),
                            f"{' and '.join(others)} set {key} too; give the secret once",
                        )
                    ]
                )
            section, _, name = key.rpartition(".")
            target = out.setdefault(section, {}) if section else out
            target[name] = _read_secret_file(files[0], env[files[0]])
        return out


def _environment() -> Mapping[str, str]:
    return os.environ


class Settings(BaseSettings):
    """Everything Watchkeeper can be configured with. Built by `load_settings`, then passed down."""

    model_config = SettingsConfigDict(
        env_prefix="WATCHKEEPER_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
        populate_by_name=True,
    )

    profile: Profile = "dev"
    debug: bool = False
    data_dir: Path = Field(Path("data"), description="where the database, metrics and models live")
    database_url: str | None = Field(None, validation_alias=_alias("database_url", "DATABASE_URL"))
    database_pool_size: int = Field(
        5, ge=1, le=200, validation_alias=_alias("database_pool_size", "DATABASE_POOL_SIZE")
    )
    redis_url: str | None = Field(None, validation_alias=_alias("redis_url", "REDIS_URL"))
    redis_password: SecretStr | None = Field(
        None, validation_alias=_alias("redis_password", "REDIS_PASSWORD")
    )
    jwt_secret_key: SecretStr = Field(
        SecretStr(DEV_JWT_SECRET), validation_alias=_alias("jwt_secret_key", "JWT_SECRET_KEY")
    )
    encryption_key: SecretStr | None = Field(
        None, validation_alias=_alias("encryption_key", "ENCRYPTION_KEY")
    )
    slack_webhook_url: SecretStr | None = Field(
        None, validation_alias=_alias("slack_webhook_url", "SLACK_WEBHOOK_URL")
    )
    email_smtp_server: str | None = Field(
        None, validation_alias=_alias("email_smtp_server", "EMAIL_SMTP_SERVER")
    )
    email_smtp_port: int = Field(
        587, ge=1, le=65535, validation_alias=_alias("email_smtp_port", "EMAIL_SMTP_PORT")
    )
    ai_models_path: Path | None = Field(
        None, validation_alias=_alias("ai_models_path", "AI_MODELS_PATH")
    )
    enable_anomaly_detection: bool = Field(
        True, validation_alias=_alias("enable_anomaly_detection", "ENABLE_ANOMALY_DETECTION")
    )
    retrain_interval_hours: float = Field(
        24.0,
        gt=0,
        le=8760,
        validation_alias=_alias("retrain_interval_hours", "RETRAIN_INTERVAL_HOURS"),
    )

    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    query: QuerySettings = Field(default_factory=QuerySettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    rule_files: list[str] = Field(
        default_factory=list,
        description="globs of Prometheus rule files loaded at start (as Prometheus' rule_files)",
    )
    alerting: AlertingSettings = Field(default_factory=AlertingSettings)
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    realtime: RealtimeSettings = Field(default_factory=RealtimeSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    backup: BackupSettings = Field(default_factory=BackupSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            _SecretFileSource(settings_cls),
            dotenv_settings,
            _YamlSource(settings_cls),
            file_secret_settings,
        )

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'watchkeeper.db').as_posix()}"

    @property
    def docs_enabled(self) -> bool:
        """/docs, /redoc and /openapi.json: as set, else on except in production."""
        if self.api.docs_enabled is not None:
            return self.api.docs_enabled
        return self.profile != "production"

    @property
    def tls_min_version(self) -> Literal["1.2", "1.3"]:
        if self.server.tls_min_version is not None:
            return self.server.tls_min_version
        return "1.3" if self.profile == "production" else "1.2"

    @property
    def drain_seconds(self) -> float:
        """`server.drain_seconds`, by default 5 s in production (behind a load balancer) and
        none elsewhere (a laptop's Ctrl-C stops at once)."""
        if self.server.drain_seconds is not None:
            return self.server.drain_seconds
        return (
            min(5.0, self.server.shutdown_timeout_seconds / 2)
            if self.profile == "production"
            else 0.0
        )

    @property
    def effective_backup_path(self) -> Path:
        return self.backup.folder or self.data_dir / "backups"

    @property
    def effective_models_path(self) -> Path:
        return self.ai_models_path or self.data_dir / "models"

    @property
    def effective_storage_path(self) -> Path:
        return self.storage.path or self.data_dir / "metrics"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def redacted(self) -> dict[str, Any]:
        """The settings as plain data with every secret replaced, for `config show` and the API."""
        redacted: dict[str, Any] = _redact(self.model_dump(mode="json"), self)
        return redacted


def _redact(data: Any, model: Any) -> Any:
    if isinstance(model, BaseModel):
        out: dict[str, Any] = {}
        for name, value in data.items():
            attr = getattr(model, name, None)
            if isinstance(attr, SecretStr):
                out[name] = REDACTED
            elif name == "database_url" and isinstance(value, str):
                out[name] = _redact_url(value)
            else:
                out[name] = _redact(value, attr)
        return out
    if isinstance(model, list) and isinstance(data, list):
        return [_redact(d, m) for d, m in zip(data, model, strict=True)]
    return data


def _redact_url(url: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:********@host/db"""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user, colon, _ = creds.partition(":")
    return f"{scheme}://{user}{':' + REDACTED if colon else ''}@{host}"


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration: which key, what value, which rule it breaks."""

    key: str
    value: str
    rule: str

    def __str__(self) -> str:
        return f"{self.key}: value {self.value} — {self.rule}"


class ConfigError(Exception):
    """The configuration is invalid; `problems` lists every key that is wrong."""

    def __init__(self, problems: list[ConfigProblem], source: str = "configuration") -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid {source}:\n{lines}")


_SECRET_KEYS = frozenset(
    {
        "jwt_secret_key",
        "encryption_key",
        "redis_password",
        "slack_webhook_url",
        "bearer_token",
        "metrics_token",
    }
)


def _show(key: str, value: Any) -> str:
    if key.rsplit(".", 1)[-1] in _SECRET_KEYS:
        return REDACTED
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def problems_from_validation(error: ValidationError) -> list[ConfigProblem]:
    problems = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(root)"
        rule = item["msg"]
        if item["type"] == "extra_forbidden":
            rule = "unknown key (not a Watchkeeper setting)"
        problems.append(ConfigProblem(key, _show(key, item.get("input")), rule))
    return problems


def decode_encryption_key(raw: str) -> bytes:
    """An AES-256 key given as 32 bytes in base64 (standard or URL-safe) or 64 hex digits."""
    text = raw.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be 32 bytes encoded as base64 or 64 hex digits") from exc
    if len(key) != 32:
        raise ValueError(f"must decode to 32 bytes for AES-256, got {len(key)}")
    return key


def is_weak_secret(secret: str) -> str | None:
    """Why a signing secret is too weak for production, or None if it is acceptable."""
    if (
        secret == DEV_JWT_SECRET
        or "change-me" in secret.lower()
        or secret.lower() in {"secret", "changeme", "password"}
    ):
        return "is the built-in development default"
    if len(secret) < 32:
        return f"is {len(secret)} characters long; production needs at least 32 random characters"
    if len(set(secret)) < 10:
        return "has fewer than 10 distinct characters; use a random secret (watchkeeper init generates one)"
    return None


def filesystem_type(path: Path, mounts_file: Path = Path("/proc/mounts")) -> str | None:
    """The type of the filesystem holding `path` (longest mount-point prefix), if known."""
    try:
        lines = mounts_file.read_text().splitlines()
    except OSError:
        return None
    target = path.resolve()
    best: tuple[int, str] | None = None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = Path(parts[1].replace("\\040", " "))
        if target == mount or mount in target.parents:
            depth = len(mount.parts)
            if best is None or depth > best[0]:
                best = (depth, parts[2])
    return best[1] if best else None


def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    _, _, rest = url.partition(":///")
    return Path(rest) if rest and rest != ":memory:" else None


def check_profile(settings: Settings) -> list[ConfigProblem]:
    """Rules that depend on the profile; production refuses what would be unsafe."""
    problems: list[ConfigProblem] = []
    if settings.encryption_key is not None:
        try:
            decode_encryption_key(settings.encryption_key.get_secret_value())
        except ValueError as exc:
            problems.append(ConfigProblem("encryption_key (ENCRYPTION_KEY)", REDACTED, str(exc)))
    if settings.storage.backend == "remote" and not settings.storage.remote_url:
        problems.append(
            ConfigProblem(
                "storage.remote_url",
                "unset",
                "the remote storage backend needs the TSDB's base URL",
            )
        )
    if settings.storage.backend == "embedded" and set(settings.server.roles) != {"api", "workers"}:
        problems.append(
            ConfigProblem(
                "server.roles",
                ",".join(settings.server.roles),
                "the embedded store belongs to one process, which must run both roles; "
                "split roles with storage.backend: remote",
            )
        )
    if settings.storage.backend == "embedded" and settings.server.workers > 1:
        problems.append(
            ConfigProblem(
                "server.workers",
                str(settings.server.workers),
                "the embedded store belongs to one process; use workers: 1 or storage.backend: remote",
            )
        )
    problems.extend(_tls_problems(settings))
    if settings.profile != "production":
        return problems
    weak = is_weak_secret(settings.jwt_secret_key.get_secret_value())
    if weak:
        problems.append(
            ConfigProblem(
                "jwt_secret_key (JWT_SECRET_KEY)", REDACTED, f"{weak}; refused in production"
            )
        )
    if settings.encryption_key is None:
        problems.append(
            ConfigProblem(
                "encryption_key (ENCRYPTION_KEY)",
                "unset",
                "production needs an AES-256 key to encrypt secrets at rest",
            )
        )
    if settings.debug:
        problems.append(ConfigProblem("debug", "True", "debug must be off in production"))
    db_path = sqlite_path(settings.effective_database_url)
    if db_path is not None:
        text = db_path.as_posix()
        fs = filesystem_type(db_path.parent if db_path.parent.exists() else Path.cwd())
        if text.startswith("//") or text.startswith("\\\\"):
            problems.append(
                ConfigProblem(
                    "database_url (DATABASE_URL)",
                    repr(text),
                    "SQLite on a network share loses data (locking is unreliable); use a local disk or PostgreSQL",
                )
            )
        elif fs in _NETWORK_FILESYSTEMS:
            problems.append(
                ConfigProblem(
                    "database_url (DATABASE_URL)",
                    repr(text),
                    f"SQLite on a network filesystem ({fs}) loses data (locking is unreliable); use a local disk or PostgreSQL",
                )
            )
    return problems


def _tls_problems(settings: Settings) -> list[ConfigProblem]:
    """TLS in `serve`: both files or neither."""
    server = settings.server
    if (server.tls_cert_file is None) == (server.tls_key_file is None):
        return []
    given = "tls_cert_file" if server.tls_key_file is None else "tls_key_file"
    return [
        ConfigProblem(
            "server.tls_cert_file / server.tls_key_file",
            f"only {given} set",
            "TLS needs both the certificate chain and its private key",
        )
    ]


def serving_problems(settings: Settings) -> list[ConfigProblem]:
    """What `serve` refuses to start with, beyond `check_profile`: production serves HTTPS
    only, TLS 1.3 here or a declared TLS-terminating proxy. (Not in `check_profile`, so that
    `init --profile production` and the other commands work before a certificate exists.)"""
    server = settings.server
    problems: list[ConfigProblem] = []
    if settings.profile != "production":
        return problems
    if server.tls_cert_file is None and not settings.security.tls_proxy:
        problems.append(
            ConfigProblem(
                "server.tls_cert_file",
                "unset",
                "production serves HTTPS only: set server.tls_cert_file and server.tls_key_file "
                "(or serve --tls-cert/--tls-key), or declare a TLS-terminating proxy in front "
                "with security.tls_proxy: true",
            )
        )
    if server.tls_min_version == "1.2":
        problems.append(
            ConfigProblem("server.tls_min_version", "'1.2'", "production requires TLS 1.3 or newer")
        )
    return problems


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError([ConfigProblem("config file", str(path), "file not found")]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(
            [ConfigProblem("config file", str(path), f"not valid YAML: {exc}")]
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigProblem("config file", str(path), "must be a mapping of keys to values")]
        )
    return data


def load_settings(
    config_file: Path | None = None,
    *,
    env_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build and validate the Settings; raise ConfigError listing every problem."""
    data = read_yaml(config_file) if config_file is not None else {}
    token = _yaml_data.set(data)
    try:
        settings = Settings(_env_file=env_file, **dict(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(
            problems_from_validation(exc), str(config_file or "configuration")
        ) from exc
    finally:
        _yaml_data.reset(token)
    problems = check_profile(settings)
    if problems:
        raise ConfigError(problems, f"{settings.profile} configuration")
    return settings


def deep_merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _plain(settings: Settings) -> dict[str, Any]:
    """The settings as data with secrets revealed, for re-validation after a change."""
    data = settings.model_dump(mode="python")

    def reveal(obj: Any) -> Any:
        if isinstance(obj, SecretStr):
            return obj.get_secret_value()
        if isinstance(obj, dict):
            return {k: reveal(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [reveal(v) for v in obj]
        return obj

    result: dict[str, Any] = reveal(data)
    return result


def changed_keys(patch: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, value in patch.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            keys.extend(changed_keys(value, path + "."))
        else:
            keys.append(path)
    return keys


def apply_patch(settings: Settings, patch: Mapping[str, Any]) -> Settings:
    """A new validated Settings with `patch` merged in; the old one is untouched on any error.

    This is `update_config(section, values)` of the product brief: `{"metrics": {...}}`.
    """
    merged = deep_merge(_plain(settings), patch)
    try:
        updated = Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation(exc), "configuration change") from exc
    problems = check_profile(updated)
    if problems:
        raise ConfigError(problems, "configuration change")
    return updated


def persist_patch(config_file: Path, patch: Mapping[str, Any]) -> None:
    """Merge `patch` into the YAML file atomically (write a temporary file, then rename)."""
    current = read_yaml(config_file) if config_file.exists() else {}
    merged = deep_merge(current, patch)
    tmp = config_file.with_suffix(config_file.suffix + ".tmp")
    tmp.unlink(missing_ok=True)
    # Owner-only from its creation: the file holds the signing and encryption secrets.
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(yaml.safe_dump(merged, sort_keys=False))
    tmp.replace(config_file)


def keys_set_by_environment(keys: list[str]) -> list[str]:
    """Which of these dotted keys the environment sets (and would override after a restart)."""
    env = {name.upper() for name in os.environ}
    found = []
    for key in keys:
        parts = key.split(".")
        names = {"WATCHKEEPER_" + "__".join(parts).upper()}
        if len(parts) == 1:
            field = Settings.model_fields.get(parts[0])
            alias = field.validation_alias if field is not None else None
            if isinstance(alias, AliasChoices):
                names |= {str(choice).upper() for choice in alias.choices if str(choice).isupper()}
        else:
            names.add("WATCHKEEPER_" + parts[0].upper())
        names |= set(SECRET_FILE_VARIABLES.get(key, {}).values())  # JWT_SECRET_KEY_FILE, ...
        if names & env:
            found.append(key)
    return found
