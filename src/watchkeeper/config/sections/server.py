"""The HTTP server's sections: `server`, `auth`, `api` and `observability`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from watchkeeper.config.sections.base import Section

Role = Literal["api", "workers"]
ROLES: tuple[Role, ...] = ("api", "workers")


class ServerSettings(Section):
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


class AuthSettings(Section):
    access_token_ttl_seconds: int = Field(900, ge=30, le=86400)
    refresh_token_ttl_seconds: int = Field(14 * 86400, ge=300)
    login_max_failures: int = Field(
        10, ge=1, description="failed logins per user and address before a lockout"
    )
    login_lockout_seconds: int = Field(300, ge=1)


class ApiSettings(Section):
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="largest accepted body except ingest"
    )
    cors_origins: list[str] = Field(default_factory=list, description="empty: CORS off")
    docs_enabled: bool | None = Field(
        None,
        description="/docs, /redoc and /openapi.json (assets served locally); default: on, "
        "off in the production profile",
    )


class ObservabilitySettings(Section):
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
