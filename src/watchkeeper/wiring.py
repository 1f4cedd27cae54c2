"""The composition root: builds every component from the Settings, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from watchkeeper.audit import AuditLog
from watchkeeper.auth.service import AuthService
from watchkeeper.clock import Clock, SystemClock
from watchkeeper.config import Settings
from watchkeeper.db.engine import build_engine
from watchkeeper.observability.health import HealthChecker
from watchkeeper.observability.metrics import watch_pool
from watchkeeper.observability.status import StatusCache
from watchkeeper.runtime.maintenance import TokenCleanup
from watchkeeper.runtime.supervisor import Supervisor
from watchkeeper.runtime.worker import Worker
from watchkeeper.tenancy.scope import SessionFactory


@dataclass
class AppContext:
    """Everything a request or worker needs, built once; replaced parts on config reload."""

    settings: Settings
    clock: Clock
    engine: Engine
    sessions: SessionFactory
    auth: AuthService
    audit: AuditLog
    supervisor: Supervisor
    health: HealthChecker
    status: StatusCache
    config_file: Path | None = None
    started_at: float = field(default=0.0)


def build_workers(settings: Settings, clock: Clock, sessions: SessionFactory) -> list[Worker]:
    return [TokenCleanup(clock, sessions)]


def build_context(
    settings: Settings, *, clock: Clock | None = None, config_file: Path | None = None
) -> AppContext:
    clock = clock or SystemClock()
    engine = build_engine(settings)
    watch_pool(engine.pool)
    sessions = SessionFactory(engine)
    supervisor = Supervisor(build_workers(settings, clock, sessions), clock)
    health = HealthChecker(
        engine,
        supervisor,
        settings.redis_url,
        settings.redis_password.get_secret_value() if settings.redis_password else None,
    )
    return AppContext(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=sessions,
        auth=AuthService(settings, sessions, clock),
        audit=AuditLog(sessions, settings.jwt_secret_key.get_secret_value()),
        supervisor=supervisor,
        health=health,
        status=StatusCache(sessions, health, clock),
        config_file=config_file,
        started_at=clock.time(),
    )
