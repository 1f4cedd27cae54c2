"""What `GET /system/status` reports, computed at most every few seconds.

The status page is polled by dashboards and load tests alike; its answer may be a few
seconds old, but it must never cost a database round trip per request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import func, select

from watchkeeper.clock import Clock
from watchkeeper.db.tables import ApiKey, Membership, Tenant
from watchkeeper.observability.health import CheckResult, HealthChecker
from watchkeeper.tenancy.scope import SessionFactory


@dataclass(frozen=True)
class TenantCounts:
    tenant_name: str
    counts: dict[str, int]


class StatusCache:
    def __init__(
        self, sessions: SessionFactory, health: HealthChecker, clock: Clock, ttl: float = 5.0
    ) -> None:
        self.sessions = sessions
        self.health = health
        self.clock = clock
        self.ttl = ttl
        self._components: tuple[float, list[CheckResult]] | None = None
        self._counts: dict[str, tuple[float, TenantCounts]] = {}
        self._lock = threading.Lock()

    def fresh_components(self) -> list[CheckResult] | None:
        item = self._components
        return item[1] if item and item[0] > self.clock.time() else None

    def fresh_counts(self, tenant_id: str) -> TenantCounts | None:
        item = self._counts.get(tenant_id)
        return item[1] if item and item[0] > self.clock.time() else None

    def refresh(self, tenant_id: str) -> tuple[list[CheckResult], TenantCounts]:
        """Blocking: run the checks and count rows (call from a thread)."""
        with self._lock:
            components = self.fresh_components()
            if components is None:
                components = self.health.run()
                self._components = (self.clock.time() + self.ttl, components)
            counts = self.fresh_counts(tenant_id)
            if counts is None:
                counts = self._count(tenant_id)
                if len(self._counts) > 10_000:
                    self._counts.clear()
                self._counts[tenant_id] = (self.clock.time() + self.ttl, counts)
            return components, counts

    def _count(self, tenant_id: str) -> TenantCounts:
        with self.sessions.tenant(tenant_id) as db:
            tenant = db.get(Tenant, tenant_id)
            users = db.scalar(select(func.count()).select_from(Membership)) or 0
            keys = (
                db.scalar(
                    select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))
                )
                or 0
            )
        return TenantCounts(
            tenant.name if tenant else "", {"users": int(users), "api_keys": int(keys)}
        )
