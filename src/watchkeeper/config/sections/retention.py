"""What is kept and for how long: `retention` and `backup`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from watchkeeper.config.sections.base import Section


class RetentionSettings(Section):
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


class BackupSettings(Section):
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
