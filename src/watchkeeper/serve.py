"""Start the server: migrate, configure logs, run uvicorn or granian (chosen in the config).

TLS is terminated here when `server.tls_cert_file`/`tls_key_file` are set (TLS 1.3 only in
production); the production profile refuses to start without it unless
`security.tls_proxy` declares a TLS-terminating proxy in front (`config.serving_problems`).
Files are created owner-only (umask 077) and the data folder's modes are fixed at start.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI

from watchkeeper.config import (
    ConfigError,
    ConfigProblem,
    Settings,
    load_settings,
    serving_problems,
)
from watchkeeper.observability.logging import configure_logging
from watchkeeper.runtime.drain import granian_server, listen_for_drain, uvicorn_server
from watchkeeper.runtime.file_modes import restrict_umask, secure_data

_CONFIG_ENV = "WATCHKEEPER_CONFIG"

# uvicorn's own proxy-header handling (on by default, trusting 127.0.0.1) would replace the
# peer with whatever X-Forwarded-For says before the app sees it, so anything that reaches
# the port from loopback could pick its address. The app applies `security.trusted_proxies`
# itself (api/client_address.py).
UVICORN_OPTIONS: dict[str, object] = {"proxy_headers": False, "forwarded_allow_ips": ""}
TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def app_factory() -> FastAPI:
    """Import target for worker processes (several workers, or granian): rebuilds the app
    from the same config file and environment as the parent process."""
    from watchkeeper.api.app import create_app

    config = os.environ.get(_CONFIG_ENV)
    path = Path(config) if config else None
    settings = load_settings(path)
    listen_for_drain()  # granian's main process forwards SIGTERM's drain (runtime/drain.py)
    configure_logging(settings.observability.log_level, settings.observability.log_format)
    return create_app(settings, config_file=path)


def build_ssl_context(cert_file: Path, key_file: Path, min_version: str) -> ssl.SSLContext:
    """A server context that refuses protocol versions older than `min_version`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[min_version]
    context.load_cert_chain(cert_file, key_file)
    return context


@dataclass(frozen=True)
class SslContextFactory:
    """uvicorn's `ssl_context_factory` (picklable, for worker processes)."""

    cert_file: Path
    key_file: Path
    min_version: str

    def __call__(self, _config: Any, _default: Any) -> ssl.SSLContext:
        return build_ssl_context(self.cert_file, self.key_file, self.min_version)


def check_can_serve(settings: Settings) -> None:
    """Raise ConfigError for what `serve` refuses: production without TLS, unreadable
    certificate or key."""
    problems = serving_problems(settings)
    server = settings.server
    if not problems and server.tls_cert_file is not None and server.tls_key_file is not None:
        try:
            build_ssl_context(server.tls_cert_file, server.tls_key_file, settings.tls_min_version)
        except (OSError, ssl.SSLError) as exc:
            problems.append(
                ConfigProblem(
                    "server.tls_cert_file / server.tls_key_file",
                    f"{server.tls_cert_file}, {server.tls_key_file}",
                    f"cannot load the certificate and key: {exc}",
                )
            )
    if problems:
        raise ConfigError(problems, f"{settings.profile} configuration (serve)")


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
    check_can_serve(settings)
    restrict_umask()
    if migrate:
        from watchkeeper.db import migrate as migrations
        from watchkeeper.db.engine import build_engine

        engine = build_engine(settings)
        try:
            migrations.upgrade(engine)
        finally:
            engine.dispose()
    tightened = secure_data(settings, config_file)
    if tightened:
        log.warning("permissions_restricted", paths=[str(p) for p in tightened[:20]])
    server = settings.server
    host = host or server.host
    port = port or server.port
    tls = server.tls_cert_file is not None and server.tls_key_file is not None
    scheme = "https" if tls else "http"
    log.info(
        "starting",
        url=f"{scheme}://{host}:{port}",
        docs=f"{scheme}://{host}:{port}/docs" if settings.docs_enabled else None,
        server=server.server,
        workers=server.workers,
        profile=settings.profile,
        tls_min_version=settings.tls_min_version if tls else None,
    )
    if config_file is not None:
        os.environ[_CONFIG_ENV] = str(config_file.resolve())
    if server.server == "granian":
        _run_granian(settings, host, port)
        return
    _run_uvicorn(settings, config_file, host, port)


def _run_granian(settings: Settings, host: str, port: int) -> None:
    from granian.constants import Interfaces, SSLProtocols
    from granian.http import HTTP1Settings

    server = settings.server
    tls: dict[str, Any] = {}
    if server.tls_cert_file is not None and server.tls_key_file is not None:
        tls = {
            "ssl_cert": server.tls_cert_file,
            "ssl_key": server.tls_key_file,
            "ssl_protocol_min": SSLProtocols.tls13
            if settings.tls_min_version == "1.3"
            else SSLProtocols.tls12,
        }
    options: dict[str, Any] = {
        "target": "watchkeeper.serve:app_factory",
        "factory": True,
        "address": host,
        "port": port,
        "interface": Interfaces.ASGI,
        "workers": server.workers,
        "log_enabled": False,
        # Granian has no idle keep-alive timeout to set; its header read timeout and buffer
        # bound slow and oversized headers.
        "http1_settings": HTTP1Settings(
            header_read_timeout=server.header_read_timeout_seconds * 1000,
            max_buffer_size=max(server.max_header_bytes, 65536),
        ),
        **tls,
    }
    granian_server(
        options,
        drain_seconds=settings.drain_seconds,
        shutdown_timeout=server.shutdown_timeout_seconds,
    ).serve()


def _run_uvicorn(settings: Settings, config_file: Path | None, host: str, port: int) -> None:
    import uvicorn

    from watchkeeper.serve_protocol import GuardedHttpToolsProtocol

    server = settings.server
    GuardedHttpToolsProtocol.header_read_timeout = server.header_read_timeout_seconds
    GuardedHttpToolsProtocol.max_header_bytes = server.max_header_bytes
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,
        "log_config": None,
        "timeout_keep_alive": server.timeout_keep_alive_seconds,
        "h11_max_incomplete_event_size": server.max_header_bytes,
        "http": GuardedHttpToolsProtocol,
        **UVICORN_OPTIONS,
    }
    if server.tls_cert_file is not None and server.tls_key_file is not None:
        options["ssl_certfile"] = str(server.tls_cert_file)
        options["ssl_keyfile"] = str(server.tls_key_file)
        options["ssl_context_factory"] = SslContextFactory(
            server.tls_cert_file, server.tls_key_file, settings.tls_min_version
        )
    if server.workers > 1:
        # Worker processes are spawned: they get the protocol's default limits (15 s, 64 KiB).
        uvicorn.run(
            "watchkeeper.serve:app_factory", factory=True, workers=server.workers, **options
        )
        return
    from watchkeeper.api.app import create_app

    # SIGTERM drains first (runtime/drain.py); what is left of the shutdown bound after the
    # drain goes half to the requests in flight, half to stopping the workers.
    in_flight = max(1, int((server.shutdown_timeout_seconds - settings.drain_seconds) / 2))
    config = uvicorn.Config(
        create_app(settings, config_file=config_file),
        timeout_graceful_shutdown=in_flight,
        **options,
    )
    config.load_app()
    running = uvicorn_server(
        config,
        drain_seconds=settings.drain_seconds,
        shutdown_timeout=server.shutdown_timeout_seconds,
    )
    with contextlib.suppress(KeyboardInterrupt):
        running.run()
    if not running.started:  # as uvicorn.run: the app failed to start
        sys.exit(3)
