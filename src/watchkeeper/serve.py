"""Start the server: migrate, configure logs, run uvicorn or granian (chosen in the config)."""

from __future__ import annotations

import os
from pathlib import Path

import structlog
from fastapi import FastAPI

from watchkeeper.config import Settings, load_settings
from watchkeeper.observability.logging import configure_logging

_CONFIG_ENV = "WATCHKEEPER_CONFIG"

# uvicorn's own proxy-header handling (on by default, trusting 127.0.0.1) would replace the
# peer with whatever X-Forwarded-For says before the app sees it, so anything that reaches
# the port from loopback could pick its address. The app applies `security.trusted_proxies`
# itself (api/client_address.py).
UVICORN_OPTIONS: dict[str, object] = {"proxy_headers": False, "forwarded_allow_ips": ""}


def app_factory() -> FastAPI:
    """Import target for worker processes (several workers, or granian): rebuilds the app
    from the same config file and environment as the parent process."""
    from watchkeeper.api.app import create_app

    config = os.environ.get(_CONFIG_ENV)
    path = Path(config) if config else None
    settings = load_settings(path)
    configure_logging(settings.observability.log_level, settings.observability.log_format)
    return create_app(settings, config_file=path)


def run(
    settings: Settings,
    *,
    config_file: Path | None,
    host: str | None,
    port: int | None,
    migrate: bool,
) -> None:
    configure_logging(settings.observability.log_level, settings.observability.log_format)
    log = structlog.get_logger("watchkeeper")
    if migrate:
        from watchkeeper.db import migrate as migrations
        from watchkeeper.db.engine import build_engine

        engine = build_engine(settings)
        try:
            migrations.upgrade(engine)
        finally:
            engine.dispose()
    host = host or settings.server.host
    port = port or settings.server.port
    log.info(
        "starting",
        url=f"http://{host}:{port}",
        docs=f"http://{host}:{port}/docs",
        server=settings.server.server,
        workers=settings.server.workers,
        profile=settings.profile,
    )
    if config_file is not None:
        os.environ[_CONFIG_ENV] = str(config_file.resolve())
    if settings.server.server == "granian":
        from granian import Granian
        from granian.constants import Interfaces

        Granian(
            "watchkeeper.serve:app_factory",
            factory=True,
            address=host,
            port=port,
            interface=Interfaces.ASGI,
            workers=settings.server.workers,
            log_enabled=False,
        ).serve()
        return
    import uvicorn

    if settings.server.workers > 1:
        uvicorn.run(
            "watchkeeper.serve:app_factory",
            factory=True,
            host=host,
            port=port,
            workers=settings.server.workers,
            access_log=False,
            log_config=None,
            **UVICORN_OPTIONS,  # type: ignore[arg-type]
        )
        return
    from watchkeeper.api.app import create_app

    uvicorn.run(
        create_app(settings, config_file=config_file),
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
        **UVICORN_OPTIONS,  # type: ignore[arg-type]
    )
