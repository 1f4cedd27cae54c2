"""create_app(): the FastAPI application with every router, error handler and middleware."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

import watchkeeper
from watchkeeper.api.client_address import ClientAddresses
from watchkeeper.api.docs import install_docs
from watchkeeper.api.errors import install_error_handlers
from watchkeeper.api.hotpath import HotPaths
from watchkeeper.api.middleware import RequestContextMiddleware
from watchkeeper.api.openapi import install_openapi
from watchkeeper.api.ratelimit import RateLimitMiddleware
from watchkeeper.api.routers import (
    admin,
    ai,
    alerting,
    alertmanager_in,
    alertmanager_v2,
    apikeys,
    auth,
    backup,
    dashboards,
    events,
    gdpr,
    health,
    incidents,
    ingest,
    metrics,
    metrics_query,
    notifications,
    oncall,
    otlp,
    prometheus,
    prometheus_status,
    receivers,
    remote_read,
    retention,
    rules,
    silences,
    slos,
    system,
    templates,
    tenants,
    two_factor,
    users,
)
from watchkeeper.api.security_headers import SecurityHeaders
from watchkeeper.app_context import AppContext
from watchkeeper.clock import Clock
from watchkeeper.config import Settings
from watchkeeper.observability.tracing import build_tracer_provider, instrument
from watchkeeper.ratelimit.limiter import INGEST_PREFIXES, READ_PREFIXES, RateLimiter
from watchkeeper.runtime.lease import release_identity
from watchkeeper.web.routes import install_web
from watchkeeper.wiring import build_context

# Data-plane writes arrive many times a second from machines; auditing each would drown
# the trail. They are counted on /metrics instead (documented in docs/operations.md).
# Reads sent as POST (Grafana's default for PromQL, remote_read) change nothing: not audited.
AUDIT_EXEMPT_PREFIXES = INGEST_PREFIXES + READ_PREFIXES


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    config_file: Path | None = None,
    context: AppContext | None = None,
    start_workers: bool = True,
) -> FastAPI:
    """`start_workers=False` builds an app whose lifespan runs no background worker (tests
    that evaluate, dispatch or detect by hand, without a worker racing them)."""
    context = context or build_context(settings, clock=clock, config_file=config_file)
    if not start_workers:
        context.supervisor.hold()
    provider = build_tracer_provider(settings.observability)
    limiter = RateLimiter(
        lambda: context.settings.security.rate_limits,
        context.clock,
        redis_url=settings.redis_url,
        redis_password=settings.redis_password.get_secret_value()
        if settings.redis_password
        else None,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=_warm_up, name="warm-up", daemon=True).start()
        context.audit_writer.start()
        await context.supervisor.start()
        try:
            yield
        finally:
            await context.supervisor.stop()
            # Every entry queued by a request is committed before the process ends.
            await anyio.to_thread.run_sync(context.audit_writer.stop)
            if context.incident_classifier is not None:  # a correction's refit in progress
                await anyio.to_thread.run_sync(context.incident_classifier.wait_for_refits, 30.0)
            if provider is not None:
                provider.shutdown()
            await limiter.close()
            context.engine.dispose()
            context.store.close()
            release_identity(settings.data_dir)

    docs = settings.docs_enabled
    app = FastAPI(
        title="Watchkeeper",
        version=watchkeeper.__version__,
        description="Self-hosted monitoring and AIOps. Authenticate with `POST /auth/login`, "
        "then send `Authorization: Bearer <access_token>` (or an API key).",
        lifespan=lifespan,
        # Tracing is ours (observability/tracing.py, opt-in by config); FastAPI's own
        # telemetry would add a second set of spans and costs 13 µs per request to check.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # Our own /docs and /redoc (api/docs.py): FastAPI's load their scripts from a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    if docs:
        install_docs(app)
    app.state.context = context
    app.state.rate_limiter = limiter
    install_error_handlers(app)
    install_openapi(app)
    # Routes are matched in order: the hot paths (probes, status, ingest, query) come first.
    # A workers-only process answers probes, its status and its own metrics, nothing else.
    serves_api = "api" in settings.server.roles
    for router in (
        health.router,
        system.router,
        ingest.router,
        otlp.router,
        prometheus.router,
        prometheus_status.router,
        remote_read.router,
        metrics_query.router,
        metrics.router,
        auth.router,
        two_factor.router,
        admin.router,
        backup.router,
        tenants.router,
        users.router,
        apikeys.router,
        ai.router,
        rules.router,
        slos.router,
        incidents.router,
        receivers.router,
        notifications.router,
        silences.router,
        alerting.router,
        events.router,
        templates.router,
        oncall.router,
        alertmanager_in.router,
        alertmanager_v2.router,
        retention.router,
        gdpr.router,
        dashboards.router,
    ):
        if serves_api or router in (health.router, system.router, metrics.router):
            app.include_router(router)
    if serves_api:
        install_web(app)  # the console at /ui/ (web/routes.py), after every API route

    def max_body(path: str) -> int:
        current = context.settings
        return (
            current.metrics.max_body_bytes
            if path.startswith(INGEST_PREFIXES)
            else current.api.max_body_bytes
        )

    # Starlette runs the last added middleware first: request context, the rate limiter's
    # edge (address refusals, failure counting), then the hot paths.
    app.add_middleware(HotPaths, context=context, limiter=limiter)
    app.add_middleware(RateLimitMiddleware, limiter=limiter)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=max_body,
        access_log=lambda: context.settings.observability.access_log,
        audit=context.audit_writer,
        now=context.clock.now,
        audit_exempt=lambda path: path.startswith(AUDIT_EXEMPT_PREFIXES),
        client_ip=ClientAddresses(lambda: context.settings.security.trusted_proxies),
        security_headers=SecurityHeaders.from_settings(settings),
    )
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            allow_credentials=False,
        )
    instrument(app, context.engine, provider)
    return app


def _warm_up() -> None:
    """Pay numba's compile of the query kernels at start-up, not in the first request or
    worker pass that needs them.

    The built-in incident classifier is not fitted here: importing scikit-learn and fitting
    adds about 190 MB to a server that may never open an incident; the first incident pays
    it instead (5 s measured on the loaded 2-core CI machine, in the correlator's thread)."""
    from watchkeeper.query.warmup import warm_up

    warm_up()
