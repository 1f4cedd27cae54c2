"""The application context: what `wiring.build_context` builds and every request and worker uses.

Apart from the composition root, so the API and the services can name the context without
importing everything that builds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine as DbEngine

from watchkeeper.audit import AuditLog
from watchkeeper.audit_writer import AuditWriter
from watchkeeper.auth.service import AuthService
from watchkeeper.clock import Clock
from watchkeeper.config import Settings
from watchkeeper.events import EventBus
from watchkeeper.ingest.metadata import MetadataRegistry
from watchkeeper.ingest.service import IngestService
from watchkeeper.observability.health import HealthChecker
from watchkeeper.observability.status import StatusCache
from watchkeeper.query import Engine
from watchkeeper.runtime.supervisor import Supervisor
from watchkeeper.runtime.worker import Worker
from watchkeeper.store.base import MetricStore
from watchkeeper.tenancy.scope import SessionFactory
from watchkeeper.tenancy.service import TenantDirectory

if TYPE_CHECKING:  # the detectors import numba: loaded only when a context is built
    from watchkeeper.alert.worker import RuleEvaluationWorker
    from watchkeeper.detect.runner import DetectionLoop
    from watchkeeper.detect.training import Trainer
    from watchkeeper.incidents.classifier import IncidentClassifier
    from watchkeeper.ingest.scrape import ScrapeWorker

_W = TypeVar("_W")


@dataclass
class AppContext:
    """Everything a request or worker needs, built once; replaced parts on config reload."""

    settings: Settings
    clock: Clock
    engine: DbEngine
    sessions: SessionFactory
    store: MetricStore
    query: Engine
    ingest: IngestService
    tenants: TenantDirectory
    auth: AuthService
    audit: AuditLog
    audit_writer: AuditWriter
    supervisor: Supervisor
    health: HealthChecker
    status: StatusCache
    trainer: Trainer
    config_file: Path | None = None
    started_at: float = field(default=0.0)
    workers: list[Worker] = field(default_factory=list)
    """Every worker built from the settings (`wiring.build_workers`), also those this process's
    roles leave to other replicas: the supervisor runs `wiring.for_roles` of them."""
    incident_classifier: IncidentClassifier | None = None
    """Per-tenant incident category models (built on first use: fitting takes a second)."""
    events: EventBus = field(default_factory=EventBus)
    """Committed events to /ws/notifications clients (directly or through Redis)."""
    metadata: MetadataRegistry = field(default_factory=MetadataRegistry)
    """Metric type/help/unit per tenant, as scrapes, remote_write and collectors state it."""

    @property
    def detection(self) -> DetectionLoop | None:
        """The detection loop (None when ENABLE_ANOMALY_DETECTION is false)."""
        from watchkeeper.detect.runner import DetectionLoop

        return self._built(DetectionLoop)

    @property
    def rules(self) -> RuleEvaluationWorker | None:
        """The rule evaluation worker (built with the workers)."""
        from watchkeeper.alert.worker import RuleEvaluationWorker

        return self._built(RuleEvaluationWorker)

    @property
    def scraper(self) -> ScrapeWorker | None:
        """The scrape worker, for `GET /api/v1/targets` (None: no scrape jobs)."""
        from watchkeeper.ingest.scrape import ScrapeWorker

        return self._built(ScrapeWorker)

    def _built(self, kind: type[_W]) -> _W | None:
        """The built worker of this class, inside its lease wrapper if it runs under one."""
        from watchkeeper.runtime.lease import Exclusive

        for worker in self.workers:
            inner = worker.worker if isinstance(worker, Exclusive) else worker
            if isinstance(inner, kind):
                return inner
        return None
