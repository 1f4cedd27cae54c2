"""The composition root: builds every component from the Settings, in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import structlog

from watchkeeper import template_sandbox
from watchkeeper.app_context import AppContext
from watchkeeper.audit import CHECKPOINT_FILE, AuditLog
from watchkeeper.audit_writer import AuditWriter
from watchkeeper.auth.service import AuthService
from watchkeeper.clock import Clock, SystemClock
from watchkeeper.config import Settings, sqlite_path
from watchkeeper.db.engine import build_engine
from watchkeeper.domain import regex
from watchkeeper.domain.series import SeriesSamples
from watchkeeper.events import EventBus
from watchkeeper.ingest.metadata import MetadataSink
from watchkeeper.ingest.service import IngestService
from watchkeeper.notify.outbox import OutboxPruner
from watchkeeper.observability.health import HealthChecker
from watchkeeper.observability.metrics import watch_pool
from watchkeeper.observability.status import StatusCache
from watchkeeper.query import Engine
from watchkeeper.query.limits import QueryLimits
from watchkeeper.runtime.housekeeping import Housekeeping
from watchkeeper.runtime.maintenance import TokenCleanup
from watchkeeper.runtime.supervisor import Supervisor
from watchkeeper.runtime.worker import Placement, Worker
from watchkeeper.store.base import CardinalityLimitError, MetricStore
from watchkeeper.store.retention import RetentionWorker
from watchkeeper.tenancy.scope import SessionFactory
from watchkeeper.tenancy.service import TenantDirectory

if TYPE_CHECKING:
    from watchkeeper.alert.handling import HandlingDefaults
    from watchkeeper.alert.worker import RuleEvaluationWorker
    from watchkeeper.incidents.lifecycle import Policy

log = structlog.get_logger(__name__)


def build_store(settings: Settings, clock: Clock) -> MetricStore:
    """The configured backend from the store registry (the one the contract suite runs over)."""
    from watchkeeper.store.registry import StoreOptions, build_metric_store

    storage = settings.storage
    if storage.backend == "embedded":
        from watchkeeper.store.embedded.chunk_cache import chunk_cache

        chunk_cache.resize(storage.chunk_cache_mb * 2**20)
    options = StoreOptions(
        path=settings.effective_storage_path,
        max_series_per_tenant=settings.metrics.series_limit,
        fsync=storage.fsync,
        remote_url=storage.remote_url,
        remote_write_url=storage.remote_write_url,
        remote_tenant_label=storage.remote_tenant_label,
        remote_tenant_header=storage.remote_tenant_header,
        remote_timeout_s=storage.remote_timeout_seconds,
        clock=clock,
    )
    return build_metric_store(storage.backend, options)


def ingest_sink(
    ingest: IngestService, tenants: TenantDirectory, source: str
) -> Callable[[str, list[SeriesSamples]], Awaitable[None]]:
    """What collectors write through: tenant by name, the same validation as the API."""

    async def sink(tenant: str, batch: list[SeriesSamples]) -> None:
        tenant_id = await anyio.to_thread.run_sync(tenants.id_of, tenant)
        result = await anyio.to_thread.run_sync(
            lambda: ingest.write(tenant_id, batch, source=source)
        )
        if result.cardinality_error is not None:
            raise CardinalityLimitError(result.cardinality_error)
        if result.rejected is not None:
            log.warning(
                "collector_samples_rejected",
                source=source,
                tenant=tenant,
                rejected=result.rejected.rejected_samples,
                first=result.rejected.rejections[0].message if result.rejected.rejections else "",
            )

    return sink


def metadata_sink(context: AppContext) -> MetadataSink:
    """Where collectors state their families' TYPE/HELP: tenant by name, as `ingest_sink`."""

    def record(tenant: str, types: Mapping[str, str], helps: Mapping[str, str]) -> None:
        context.metadata.record_exposition(context.tenants.id_of(tenant), types, helps)

    return record


def build_workers(context: AppContext) -> list[Worker]:
    """Every worker the settings ask for, run-once ones under a lease; the context is left as
    it is (the caller installs the list, and `for_roles` picks what this process runs)."""
    from watchkeeper.ingest.host import HostCollector
    from watchkeeper.ingest.scrape import ScrapeWorker, jobs_from_settings
    from watchkeeper.observability.metrics import TenantsSummed

    settings, clock = context.settings, context.clock
    # Also here: a run-time config change rebuilds the workers with the new limits.
    template_sandbox.configure(template_sandbox.limits_from(settings.security))
    workers: list[Worker] = [
        TokenCleanup(clock, context.sessions),
        OutboxPruner(
            clock,
            context.sessions,
            retention_days=settings.notifications.outbox_retention_days,
            dead_retention_days=settings.notifications.dead_letter_retention_days,
        ),
        Housekeeping(clock, context.sessions, settings, context.audit, store=context.store),
        RetentionWorker(
            context.store,
            clock,
            settings.metrics.retention_days,
            tiers=[(t.after_days * 86_400, t.resolution_ms) for t in settings.storage.downsampling],
        ),
    ]
    if settings.backup.enabled:
        from watchkeeper.backup.worker import BackupWorker

        workers.append(
            BackupWorker(clock, settings, context.store, config_file=context.config_file)
        )
    if settings.backup.wal_shipping and sqlite_path(settings.effective_database_url):
        from watchkeeper.backup.walship import WalShipWorker
        from watchkeeper.db.engine import auto_checkpoint_off

        if auto_checkpoint_off(context.engine):
            workers.append(WalShipWorker(clock, settings))
        else:  # the app's connections would checkpoint frames away before they are shipped
            log.warning("wal_shipping_starts_after_a_restart")
    if settings.metrics.host_collector_enabled:
        workers.append(
            HostCollector(
                ingest_sink(context.ingest, context.tenants, "host"),
                clock,
                settings.metrics.collection_interval,
                metadata=metadata_sink(context),
                own_metrics=TenantsSummed() if settings.metrics.self_metrics_enabled else None,
            )
        )
    if settings.enable_anomaly_detection:
        from watchkeeper.detect.runner import DetectionLoop

        workers.append(
            DetectionLoop(
                store=context.store,
                sessions=context.sessions,
                models=context.trainer.models,
                trainer=context.trainer,
                clock=clock,
                settings=settings.detection,
                retrain_interval_hours=settings.retrain_interval_hours,
            )
        )
        if settings.detection.forecast_enabled:
            from watchkeeper.detect.forecast_runner import ForecastLoop

            workers.append(
                ForecastLoop(
                    store=context.store,
                    engine=context.query,
                    sessions=context.sessions,
                    clock=clock,
                    settings=settings.detection,
                )
            )
    workers.append(build_rule_worker(context))
    workers.extend(build_incident_workers(context))
    workers.append(build_dispatch_worker(context))
    workers.append(build_external_alert_expiry(context))
    workers.extend(build_realtime_workers(context))
    workers.extend(build_delivery_workers(context))
    jobs = jobs_from_settings(settings.metrics)
    if jobs:
        workers.append(
            ScrapeWorker(
                jobs,
                ingest_sink(context.ingest, context.tenants, "scrape"),
                clock,
                metadata=metadata_sink(context),
            )
        )
    return with_leases(context, workers)


def for_roles(roles: Collection[str], workers: list[Worker]) -> list[Worker]:
    """The workers a process with these `server.roles` runs: an API-only process still feeds
    its own WebSocket clients and watches its host (`Placement.API_PROCESS`)."""
    if "workers" in roles:
        return workers
    return [w for w in workers if w.placement is Placement.API_PROCESS]


def build_dispatch_worker(context: AppContext) -> Worker:
    """Alert events to outbox rows: silences, inhibition, routing, grouping (per tenant)."""
    from watchkeeper.alert.dispatcher_worker import DispatchWorker

    settings = context.settings
    server = settings.server
    return DispatchWorker(
        sessions=context.sessions,
        clock=context.clock,
        defaults=handling_defaults(context),
        interval=settings.alerting.dispatch_interval_seconds,
        external_url=server.public_url or f"http://{server.host}:{server.port}",
    )


def handling_defaults(context: AppContext) -> HandlingDefaults:
    """The alert handling config of tenants without their own (`alerting.handling_config_file`)."""
    from watchkeeper.alert.handling import HandlingDefaults

    base = context.config_file.parent if context.config_file else None
    return HandlingDefaults(context.settings.alerting.handling_config_file, base)


def build_delivery_workers(context: AppContext) -> list[Worker]:
    """Outbox delivery (`notifications.workers` of them; they share the queue by leases)."""
    from watchkeeper.notify.delivery import DeliveryWorker
    from watchkeeper.notify.receivers import ReceiverStore

    settings = context.settings
    receivers = ReceiverStore.from_settings(settings)
    return [
        DeliveryWorker(
            sessions=context.sessions,
            clock=context.clock,
            settings=settings.notifications,
            receivers=receivers,
            name=f"notify-delivery-{index}",
        )
        for index in range(settings.notifications.workers)
    ]


def build_rule_worker(context: AppContext) -> RuleEvaluationWorker:
    from watchkeeper.alert.evaluator import GroupEvaluator
    from watchkeeper.alert.packs import pack_files
    from watchkeeper.alert.state import FlapPolicy
    from watchkeeper.alert.worker import RuleEvaluationWorker

    settings = context.settings
    alerting = settings.alerting
    server = settings.server
    evaluator = GroupEvaluator(
        query=context.query,
        store=context.store,
        sessions=context.sessions,
        clock=context.clock,
        flap=FlapPolicy(alerting.flap_max_changes, alerting.flap_window_seconds),
        external_url=server.public_url or f"http://{server.host}:{server.port}",
        budget_seconds=settings.security.rule_group_evaluation_seconds,
    )
    return RuleEvaluationWorker(
        evaluator=evaluator,
        sessions=context.sessions,
        tenants=context.tenants,
        clock=context.clock,
        rule_files=[
            *settings.rule_files,
            *pack_files(
                default_rule_pack=alerting.default_rule_pack,
                host_collector=settings.metrics.host_collector_enabled,
            ),
        ],
        default_interval=alerting.evaluation_interval_seconds,
        base_path=context.config_file.parent if context.config_file else None,
        tenant_pass_seconds=settings.security.rule_tenant_pass_seconds,
    )


def build_external_alert_expiry(context: AppContext) -> Worker:
    """Resolves alerts from Prometheus/Alertmanager whose endsAt passed without a re-send."""
    from watchkeeper.alert.external import ExternalAlertExpiry, ExternalAlerts
    from watchkeeper.alert.state import FlapPolicy

    alerting = context.settings.alerting
    flap = FlapPolicy(alerting.flap_max_changes, alerting.flap_window_seconds)
    return ExternalAlertExpiry(ExternalAlerts(context.sessions, context.clock, flap), context.clock)


def build_realtime_workers(context: AppContext) -> list[Worker]:
    """The event log's retention, the Redis relay of events, the escalation timer."""
    from watchkeeper.events import EventLogPruner, EventRelay
    from watchkeeper.oncall.incidents import TableIncidents
    from watchkeeper.oncall.worker import EscalationWorker

    realtime = context.settings.realtime
    workers: list[Worker] = [
        EventLogPruner(
            context.clock,
            context.sessions,
            max_per_tenant=realtime.event_log_max_per_tenant,
            max_hours=realtime.event_log_max_hours,
        ),
        EscalationWorker(
            context.sessions,
            TableIncidents(),
            context.clock,
            interval=realtime.escalation_interval_seconds,
        ),
    ]
    if context.events.redis_url:
        workers.append(EventRelay(context.events))
    return workers


def incident_policy(context: AppContext) -> Policy:
    """How incident changes are classified and who hears of them (the API and the worker)."""
    from watchkeeper.incidents.classifier import IncidentClassifier
    from watchkeeper.incidents.lifecycle import Policy

    if context.incident_classifier is None:
        context.incident_classifier = IncidentClassifier(context.settings.effective_models_path)
    return Policy(context.incident_classifier, receiver=context.settings.incidents.receiver)


def build_incident_workers(context: AppContext) -> list[Worker]:
    """The correlator: firing alerts into incidents (`incidents.enabled`)."""
    from watchkeeper.incidents.correlation import CorrelationRules, CorrelationWorker, Correlator

    settings = context.settings.incidents
    if not settings.enabled:
        return []
    correlator = Correlator(CorrelationRules.from_settings(settings), incident_policy(context))
    return [
        CorrelationWorker(
            correlator=correlator,
            sessions=context.sessions,
            clock=context.clock,
            interval=settings.interval_seconds,
        )
    ]


def configure_regexes(settings: Settings) -> None:
    """Every tenant regex (domain/regex.py) is bounded by the security section's limits."""
    regex.configure(
        regex.RegexLimits(
            max_length=settings.security.max_regex_length,
            max_memory_bytes=settings.security.max_regex_memory_bytes,
        )
    )


def build_context(
    settings: Settings, *, clock: Clock | None = None, config_file: Path | None = None
) -> AppContext:
    from watchkeeper.detect.persistence import ModelStore
    from watchkeeper.detect.training import Trainer

    clock = clock or SystemClock()
    configure_regexes(settings)
    # Every template renders under these (template_sandbox.py): rules, notifications, previews.
    template_sandbox.configure(template_sandbox.limits_from(settings.security))
    engine = build_engine(settings)
    watch_pool(engine.pool)
    sessions = SessionFactory(engine)
    events = EventBus(
        settings.redis_url,
        settings.redis_password.get_secret_value() if settings.redis_password else None,
    )
    events.attach(engine)
    store = build_store(settings, clock)
    supervisor = Supervisor([], clock)
    health = HealthChecker(
        engine,
        supervisor,
        settings.redis_url,
        settings.redis_password.get_secret_value() if settings.redis_password else None,
    )
    audit = AuditLog(
        sessions,
        settings.jwt_secret_key.get_secret_value(),
        checkpoint_file=settings.data_dir / CHECKPOINT_FILE,
    )
    context = AppContext(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=sessions,
        store=store,
        query=Engine(
            store,
            lookback_delta_ms=int(settings.query.lookback_delta_seconds * 1000),
            max_samples=settings.query.max_samples,
            timeout_s=settings.query.timeout_seconds,
            clock=clock,
            limits=QueryLimits(
                max_query_length=settings.query.max_query_length,
                max_nesting_depth=settings.query.max_nesting_depth,
            ),
        ),
        ingest=IngestService(store, clock),
        tenants=TenantDirectory(sessions),
        auth=AuthService(settings, sessions, clock),
        audit=audit,
        audit_writer=AuditWriter(
            audit,
            capacity=settings.security.audit_queue_entries,
            window=settings.security.audit_batch_window_seconds,
        ),
        supervisor=supervisor,
        health=health,
        status=StatusCache(sessions, health, clock),
        trainer=Trainer(
            store,
            sessions,
            ModelStore(settings.effective_models_path, clock),
            clock,
            settings.detection.training_hours,
        ),
        config_file=config_file,
        started_at=clock.time(),
        events=events,
    )
    context.workers = build_workers(context)
    supervisor.set_workers(for_roles(settings.server.roles, context.workers))
    return context


def with_leases(context: AppContext, workers: list[Worker]) -> list[Worker]:
    """Wrap each run-once worker (`Placement.RUN_ONCE`) so that among replicas only the lease
    holder runs it."""
    from watchkeeper.runtime.lease import Exclusive, LeaseTable, replica_identity

    leases = LeaseTable(
        context.sessions, context.clock, replica_identity(context.settings.data_dir)
    )
    ttl = context.settings.server.lease_ttl_seconds
    return [
        Exclusive(worker, leases, context.clock, ttl=ttl, renew_every=ttl / 3)
        if worker.placement is Placement.RUN_ONCE
        else worker
        for worker in workers
    ]
