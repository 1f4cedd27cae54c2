"""The Python dashboard API, over the same service and table as `POST /dashboards`::

    manager = DashboardManager()  # Settings from WATCHKEEPER_* / the config file, as the server
    board = manager.create_dashboard(
        name="Checkout",
        panels=[{"type": "graph", "metric": "rate(orders_total[5m])", "title": "Orders/s"}],
        tenant_id="default",  # a tenant's name or id
    )
    manager.get_dashboard(board.uid, tenant_id="default")  # the Grafana JSON model

Panel types: graph (a time series), stat, gauge, table, heatmap; `metric` is any PromQL.
The dashboard is stored in the metadata database, so the server lists it at `GET /dashboards`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from watchkeeper.clock import Clock, SystemClock
from watchkeeper.config import Settings, load_settings
from watchkeeper.dashboards import custom, service
from watchkeeper.dashboards.model import InvalidDashboard
from watchkeeper.dashboards.service import DashboardSummary
from watchkeeper.tenancy import service as tenancy
from watchkeeper.tenancy.scope import SessionFactory

__all__ = ["DashboardManager", "InvalidDashboard", "SavedDashboard"]


@dataclass(frozen=True)
class SavedDashboard:
    uid: str
    title: str
    version: int
    model: dict[str, Any]


class DashboardManager:
    """Create, read, replace and delete a tenant's dashboards in the metadata database.

    ValueError (InvalidDashboard) for a bad panel spec, naming it; NotFoundError for an
    unknown tenant or dashboard; ConflictError for a uid that exists.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        config_file: Path | None = None,
        clock: Clock | None = None,
        migrate: bool = True,
    ) -> None:
        self.settings = settings or load_settings(config_file)
        self.clock = clock or SystemClock()
        self._migrate = migrate
        self._engine: Engine | None = None

    def create_dashboard(
        self,
        *,
        name: str,
        panels: Sequence[Mapping[str, Any]],
        tenant_id: str = "default",
        uid: str | None = None,
    ) -> SavedDashboard:
        model = custom.to_model(name, panels, uid=uid)
        with self._tenant(tenant_id) as db:
            row = service.create_dashboard(db, model, now=self.clock.now())
            return SavedDashboard(row.uid, row.title, row.version, dict(row.model))

    def update_dashboard(
        self,
        uid: str,
        *,
        name: str,
        panels: Sequence[Mapping[str, Any]],
        tenant_id: str = "default",
    ) -> SavedDashboard:
        model = custom.to_model(name, panels, uid=uid)
        with self._tenant(tenant_id) as db:
            row = service.replace_dashboard(db, uid, model, now=self.clock.now())
            return SavedDashboard(row.uid, row.title, row.version, dict(row.model))

    def get_dashboard(self, uid: str, *, tenant_id: str = "default") -> dict[str, Any]:
        with self._tenant(tenant_id) as db:
            return service.get_dashboard(db, uid)

    def list_dashboards(self, *, tenant_id: str = "default") -> list[DashboardSummary]:
        with self._tenant(tenant_id) as db:
            return service.list_dashboards(db)

    def delete_dashboard(self, uid: str, *, tenant_id: str = "default") -> None:
        with self._tenant(tenant_id) as db:
            service.delete_dashboard(db, uid)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> DashboardManager:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _tenant(self, tenant: str) -> Iterator[Session]:
        sessions = SessionFactory(self._engine_once())
        with sessions.system("DashboardManager: find tenant") as db:
            tenant_id = tenancy.find_tenant(db, tenant).id
        with sessions.tenant(tenant_id) as db:
            yield db

    def _engine_once(self) -> Engine:
        if self._engine is None:
            from watchkeeper.db import migrate
            from watchkeeper.db.engine import build_engine

            self._engine = build_engine(self.settings)
            if self._migrate:
                migrate.upgrade(self._engine)
        return self._engine
