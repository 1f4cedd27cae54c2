"""From alert to people: `alerting`, `notifications`, `realtime` and `incidents`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from watchkeeper.config.sections.base import Section


class AlertingSettings(Section):
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


class NotificationSettings(Section):
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


class RealtimeSettings(Section):
    """The WebSocket event log and the escalation timer (docs/design/notifications.md)."""

    event_log_max_per_tenant: int = Field(
        10_000, ge=100, description="events kept per tenant for resume after a reconnect"
    )
    event_log_max_hours: float = Field(24.0, gt=0, description="events older than this are dropped")
    escalation_interval_seconds: float = Field(
        15.0, gt=0, le=600, description="how often escalations and reminders are checked"
    )


class IncidentSettings(Section):
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
