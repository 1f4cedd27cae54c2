"""Retention policies: global defaults (`retention:` settings) and a tenant's overrides.

A tenant admin may lengthen or shorten each period within bounds that keep the system honest:
audit retention never below `retention.audit_min_days` (an admin must not be able to wipe the
trail of their own actions quickly); notifications and metrics only shorter than the global
value, because the outbox pruner and the metric store delete at the global value for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.config import Settings
from watchkeeper.db.tables import Tenant, TenantRetention

KINDS = (
    "audit_days",
    "incidents_days",
    "anomalies_days",
    "alert_history_days",
    "notifications_days",
    "metrics_days",
)
MAX_DAYS = 36500


class RetentionError(ValueError):
    """A retention value outside its bounds; the message names the bound."""


def defaults(settings: Settings) -> dict[str, int]:
    """The global period of each kind, in days, following the keys it points at."""
    retention = settings.retention
    return {
        "audit_days": retention.audit_days,
        "incidents_days": retention.incidents_days,
        "anomalies_days": retention.anomalies_days,
        "alert_history_days": retention.alert_history_days,
        "notifications_days": retention.notifications_days
        or settings.notifications.outbox_retention_days,
        "metrics_days": retention.metrics_days or settings.metrics.retention_days,
    }


@dataclass(frozen=True)
class Policy:
    """A tenant's overrides (None: the default) and the periods in force."""

    overrides: dict[str, int | None]
    effective: dict[str, int]


def _effective(overrides: dict[str, int | None], settings: Settings) -> dict[str, int]:
    base = defaults(settings)
    return {kind: overrides.get(kind) or base[kind] for kind in KINDS}


def _overrides(row: TenantRetention | None) -> dict[str, int | None]:
    return {kind: (getattr(row, kind) if row is not None else None) for kind in KINDS}


def get_policy(db: Session, settings: Settings) -> Policy:
    """The policy of the tenant `db` is scoped to."""
    overrides = _overrides(db.scalar(select(TenantRetention)))
    return Policy(overrides, _effective(overrides, settings))


def _check(kind: str, days: int, settings: Settings) -> None:
    base = defaults(settings)
    if days < 1 or days > MAX_DAYS:
        raise RetentionError(f"{kind} must be between 1 and {MAX_DAYS} days")
    if kind == "audit_days" and days < settings.retention.audit_min_days:
        raise RetentionError(
            f"audit_days must be at least retention.audit_min_days "
            f"({settings.retention.audit_min_days})"
        )
    if kind in ("notifications_days", "metrics_days") and days > base[kind]:
        raise RetentionError(f"{kind} may only be shortened: at most the global {base[kind]} days")


def set_policy(
    db: Session, settings: Settings, changes: dict[str, int | None], *, now: datetime
) -> Policy:
    """Apply `changes` (a kind to days, or None to fall back to the default) to the tenant of
    `db`; every value is checked before anything is written."""
    unknown = sorted(set(changes) - set(KINDS))
    if unknown:
        raise RetentionError(f"unknown retention keys {unknown}; known: {', '.join(KINDS)}")
    for kind, days in changes.items():
        if days is not None:
            _check(kind, days, settings)
    row = db.scalar(select(TenantRetention))
    if row is None:
        row = TenantRetention(updated_at=now)
        db.add(row)
    for kind, days in changes.items():
        setattr(row, kind, days)
    row.updated_at = now
    db.flush()
    return get_policy(db, settings)


def all_policies(db: Session, settings: Settings) -> dict[str, dict[str, int]]:
    """Every tenant's periods in force (a system session), for the housekeeping worker."""
    rows = {row.tenant_id: row for row in db.scalars(select(TenantRetention))}
    return {
        tenant_id: _effective(_overrides(rows.get(tenant_id)), settings)
        for tenant_id in db.scalars(select(Tenant.id))
    }
