"""The `security` section (with its `rate_limits`): limits on what callers may make us do."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from watchkeeper.config.sections.base import Section
from watchkeeper.domain.regex import DEFAULT_MAX_LENGTH as DEFAULT_REGEX_MAX_LENGTH
from watchkeeper.domain.regex import DEFAULT_MAX_MEMORY_BYTES as DEFAULT_REGEX_MAX_MEMORY_BYTES


class RateLimitSettings(Section):
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


class SecuritySettings(Section):
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
