"""The embedding API: run Watchkeeper inside another asyncio program::

    config = MonitoringFactory.create_default_config()
    config.tier = MonitoringTier.ENTERPRISE
    orchestrator = await initialize_monitoring(config)
    await orchestrator.start_all_services()
    ...
    await orchestrator.stop_all_services()

The orchestrator is the server itself: the schema is migrated, `create_app` builds the
AppContext from the Settings, and starting runs the app's lifespan (the supervisor and its
workers) or, when `config.port` is set, a uvicorn server on that port in a task. Nothing is
reimplemented here.

Tiers choose which of the existing features run (the keys below are overridden by the tier):

- BASIC: ingestion, storage, PromQL, rules, alerting and notifications
  (`enable_anomaly_detection: false`, `incidents.enabled: false`);
- STANDARD (default): BASIC plus the anomaly detection and forecast loops
  (`enable_anomaly_detection: true`, `detection.forecast_enabled: true`);
- ENTERPRISE: STANDARD plus incident correlation (`incidents.enabled: true`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from watchkeeper.config import (
    ConfigError,
    ConfigProblem,
    Settings,
    apply_patch,
    deep_merge,
    load_settings,
)

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from watchkeeper.app_context import AppContext
    from watchkeeper.clock import Clock


class MonitoringTier(StrEnum):
    BASIC = "basic"
    STANDARD = "standard"
    ENTERPRISE = "enterprise"


TIER_SETTINGS: dict[MonitoringTier, dict[str, Any]] = {
    MonitoringTier.BASIC: {"enable_anomaly_detection": False, "incidents": {"enabled": False}},
    MonitoringTier.STANDARD: {
        "enable_anomaly_detection": True,
        "detection": {"forecast_enabled": True},
        "incidents": {"enabled": False},
    },
    MonitoringTier.ENTERPRISE: {
        "enable_anomaly_detection": True,
        "detection": {"forecast_enabled": True},
        "incidents": {"enabled": True},
    },
}
"""What each tier switches on or off; every other setting is the config's own."""

ENVIRONMENTS = {
    "dev": "dev",
    "development": "dev",
    "staging": "staging",
    "production": "production",
    "prod": "production",
}


@dataclass
class MonitoringConfig:
    """Validated Settings plus how to run them embedded (tier, optional HTTP port)."""

    settings: Settings
    tier: MonitoringTier = MonitoringTier.STANDARD
    host: str = "127.0.0.1"
    port: int | None = None
    """Serve the HTTP API on this port (0: any free port); None: workers only, no HTTP."""
    migrate: bool = True
    """Before starting, bring the schema up to date and, on a database without tenants,
    create tenant `default` (as `watchkeeper init` does; it adds no user)."""
    config_file: Path | None = field(default=None)

    def update_config(self, section: str, values: Mapping[str, Any]) -> Settings:
        """Change keys of one section, validated as `PUT /admin/config` validates them.

        On success the config holds a new Settings (returned); on any invalid value
        ConfigError lists each wrong key (e.g. `metrics.collection_interval`) and nothing
        changes.
        """
        if not isinstance(values, Mapping):
            raise ConfigError(
                [ConfigProblem(section, repr(values), "give the section's keys as a mapping")],
                "configuration change",
            )
        self.settings = apply_patch(self.settings, {section: dict(values)})
        return self.settings

    def effective_settings(self) -> Settings:
        """The Settings with the tier applied (what the orchestrator runs)."""
        return apply_patch(self.settings, TIER_SETTINGS[MonitoringTier(self.tier)])


class MonitoringFactory:
    """Builds configs from the environment (WATCHKEEPER_* variables) and an optional file."""

    @staticmethod
    def create_default_config(
        data_dir: Path | str | None = None,
        *,
        config_file: Path | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> MonitoringConfig:
        """The defaults (dev profile unless the environment says otherwise)."""
        values = dict(overrides or {})
        if data_dir is not None:
            values["data_dir"] = str(data_dir)
        return MonitoringConfig(
            load_settings(config_file, overrides=values), config_file=config_file
        )


def setup_monitoring_config(
    environment: str = "dev",
    *,
    data_dir: Path | str | None = None,
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> MonitoringConfig:
    """A config for an environment (dev/development, staging, production/prod).

    The profile's rules apply: production refuses the development secrets, so give
    JWT_SECRET_KEY and ENCRYPTION_KEY (environment, file or `overrides`).
    """
    profile = ENVIRONMENTS.get(environment.lower())
    if profile is None:
        raise ConfigError(
            [ConfigProblem("profile", repr(environment), f"use one of {sorted(ENVIRONMENTS)}")],
            "monitoring environment",
        )
    values = deep_merge({"profile": profile}, overrides or {})
    return MonitoringFactory.create_default_config(
        data_dir, config_file=config_file, overrides=values
    )


class MonitoringOrchestrator:
    """Starts and stops the server's workers (and HTTP API) inside the caller's event loop."""

    def __init__(self, config: MonitoringConfig, app: FastAPI) -> None:
        self.config = config
        self.app = app
        self.context: AppContext = app.state.context
        self._lifespan: AbstractAsyncContextManager[Any] | None = None
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._listener: socket.socket | None = None
        self._closed = False

    @property
    def settings(self) -> Settings:
        return self.context.settings

    @property
    def running(self) -> bool:
        return self._lifespan is not None or self._serving is not None

    @property
    def url(self) -> str | None:
        """The HTTP API's base URL once started with a port, else None."""
        if self._server is None or self._listener is None or not self._server.started:
            return None
        host, port = self._listener.getsockname()[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def status(self) -> dict[str, str]:
        """Each worker's state (running, standby, backoff, stopped)."""
        return {s.name: s.status for s in self.context.supervisor.states()}

    async def start_all_services(self, *, timeout: float = 30.0) -> None:
        """Start the workers (and the HTTP API); returns once every worker has started."""
        if self.running:
            raise RuntimeError("the services are already running")
        if self._closed:
            raise RuntimeError("this orchestrator was stopped; call initialize_monitoring again")
        if self.config.port is None:
            lifespan = self.app.router.lifespan_context(self.app)
            await lifespan.__aenter__()
            self._lifespan = lifespan
        else:
            await self._start_http(self.config.port, timeout)
        with anyio.fail_after(timeout):
            while "starting" in self.status().values():
                await asyncio.sleep(0)

    async def _start_http(self, port: int, timeout: float) -> None:
        import uvicorn

        from watchkeeper.serve import UVICORN_OPTIONS
        from watchkeeper.serve_protocol import GuardedHttpToolsProtocol

        class EmbeddedServer(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                # The embedding program owns the process' signals, not the server.
                yield

        host = self.config.host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            # Bound here, not by uvicorn: its bind failure is sys.exit(1), which would end
            # the embedding program.
            listener = socket.create_server((host, port), family=family)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        limits = self.settings.server
        GuardedHttpToolsProtocol.header_read_timeout = limits.header_read_timeout_seconds
        GuardedHttpToolsProtocol.max_header_bytes = limits.max_header_bytes
        server = EmbeddedServer(
            uvicorn.Config(
                self.app,
                log_config=None,
                access_log=False,
                lifespan="on",
                timeout_keep_alive=limits.timeout_keep_alive_seconds,
                h11_max_incomplete_event_size=limits.max_header_bytes,
                http=GuardedHttpToolsProtocol,
                **UVICORN_OPTIONS,  # type: ignore[arg-type]
            )
        )
        self._server, self._listener = server, listener
        self._serving = asyncio.create_task(
            server.serve(sockets=[listener]), name="watchkeeper-http"
        )
        with anyio.move_on_after(timeout):
            while not server.started and not self._serving.done():
                await asyncio.sleep(0.02)
        if not server.started:
            task, self._serving, self._server, self._listener = self._serving, None, None, None
            error: BaseException | None = TimeoutError(f"not started within {timeout} s")
            if task.done():
                error = task.exception()
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            listener.close()
            raise RuntimeError(f"the HTTP server did not start on {host}:{port}: {error}")

    async def stop_all_services(self) -> None:
        """Stop the workers (letting work in progress finish) and close the stores.

        Also closes the database engine and metric store of an orchestrator never started."""
        if not self.running:
            if not self._closed:
                self._closed = True
                self.context.engine.dispose()
                self.context.store.close()
            return
        self._closed = True  # the app's lifespan closes them
        if self._lifespan is not None:
            lifespan, self._lifespan = self._lifespan, None
            await lifespan.__aexit__(None, None, None)
        if self._serving is not None and self._server is not None:
            self._server.should_exit = True
            task, self._serving = self._serving, None
            await task
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    async def __aenter__(self) -> MonitoringOrchestrator:
        await self.start_all_services()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop_all_services()


async def initialize_monitoring(
    config: MonitoringConfig | None = None, *, clock: Clock | None = None
) -> MonitoringOrchestrator:
    """Migrate (when `config.migrate`), build the app and its context; call
    `start_all_services()` on the result to run them."""
    config = config or MonitoringFactory.create_default_config()
    settings = config.effective_settings()
    if config.port is not None:
        from watchkeeper.serve import check_can_serve

        check_can_serve(settings)  # what `watchkeeper serve` refuses (production without TLS)
    app = await anyio.to_thread.run_sync(_build_app, config, settings, clock)
    return MonitoringOrchestrator(config, app)


def _build_app(config: MonitoringConfig, settings: Settings, clock: Clock | None) -> FastAPI:
    from watchkeeper.api.app import create_app
    from watchkeeper.clock import SystemClock
    from watchkeeper.runtime.file_modes import secure_data

    clock = clock or SystemClock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if config.migrate:
        _prepare_database(settings, clock)
    app = create_app(settings, clock=clock, config_file=config.config_file)
    # As `serve` does, minus the process-wide umask, which belongs to the embedding program:
    # the data folder 0700 keeps what is created in it later private.
    secure_data(settings, config.config_file)
    return app


def _prepare_database(settings: Settings, clock: Clock) -> None:
    """The schema, and the tenant the host collector writes to (`bootstrap._populate` without
    the admin user: an embedding program has no one to give a generated password to)."""
    from watchkeeper.db import migrate
    from watchkeeper.db.engine import build_engine
    from watchkeeper.tenancy import service
    from watchkeeper.tenancy.scope import SessionFactory

    engine = build_engine(settings)
    try:
        migrate.upgrade(engine)
        with SessionFactory(engine).system("embedded start") as db:
            if not service.list_tenants(db):
                service.create_tenant(db, name="default", display_name="Default", now=clock.now())
    finally:
        engine.dispose()
