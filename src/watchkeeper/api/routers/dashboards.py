"""Dashboards: the built-in Main, AI and Operational ones and each tenant's own, as Grafana
dashboard JSON models (import them into Grafana, or render them in the console).

`POST` and `PUT` take a dashboard JSON model, Grafana's HTTP API envelope
(`{"dashboard": {...}}`), or the short form `{"name": ..., "panels": [{"type", "metric",
"title"}]}` of the Python API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Response

from watchkeeper.api.deps import Context, TenantDB, require
from watchkeeper.api.errors import ApiError
from watchkeeper.api.schemas.dashboards import DashboardSaved, DashboardSummaryPublic
from watchkeeper.dashboards import custom, service
from watchkeeper.dashboards.model import InvalidDashboard
from watchkeeper.db.tables import StoredDashboard

router = APIRouter(prefix="/dashboards", tags=["dashboards"])

_BODY = Body(
    description='A Grafana dashboard JSON model, `{"dashboard": model}`, or '
    '`{"name": ..., "panels": [{"type": "graph", "metric": "node_load1", "title": "Load"}]}`',
    examples=[{"name": "Load", "panels": [{"type": "graph", "metric": "node_load1"}]}],
)


def _model_of(body: dict[str, Any], uid: str | None = None) -> object:
    try:
        if "dashboard" in body and "title" not in body:
            return body["dashboard"]
        if "name" in body and "title" not in body:
            specs = body.get("panels", [])
            if not isinstance(specs, list):
                raise InvalidDashboard("`panels` must be a list")
            return custom.to_model(str(body["name"]), specs, uid=uid)
        return body
    except InvalidDashboard as exc:
        raise _invalid(exc) from None


def _invalid(exc: InvalidDashboard) -> ApiError:
    return ApiError(422, f"invalid dashboard: {exc}", code="invalid_dashboard")


def _saved(row: StoredDashboard) -> DashboardSaved:
    return DashboardSaved(uid=row.uid, title=row.title, version=row.version, url=_url(row.uid))


def _url(uid: str) -> str:
    return f"/dashboards/{uid}"


@router.get(
    "",
    response_model=list[DashboardSummaryPublic],
    dependencies=[Depends(require("dashboards:read"))],
    summary="The built-in dashboards, then the tenant's own",
)
def list_dashboards(db: TenantDB) -> list[DashboardSummaryPublic]:
    return [
        DashboardSummaryPublic(
            uid=d.uid,
            title=d.title,
            builtin=d.builtin,
            tags=d.tags,
            version=d.version,
            updated_at=d.updated_at,
            url=_url(d.uid),
        )
        for d in service.list_dashboards(db)
    ]


@router.get(
    "/{uid}",
    dependencies=[Depends(require("dashboards:read"))],
    summary="A dashboard's Grafana JSON model",
)
def get_dashboard(uid: str, db: TenantDB) -> dict[str, Any]:
    return service.get_dashboard(db, uid)


@router.post(
    "",
    status_code=201,
    response_model=DashboardSaved,
    dependencies=[Depends(require("dashboards:write"))],
    summary="Store a dashboard for this tenant (422 names what is invalid; 409 if its uid exists)",
)
def create_dashboard(
    db: TenantDB, context: Context, body: dict[str, Any] = _BODY
) -> DashboardSaved:
    try:
        row = service.create_dashboard(db, _model_of(body), now=context.clock.now())
    except InvalidDashboard as exc:
        raise _invalid(exc) from None
    return _saved(row)


@router.put(
    "/{uid}",
    response_model=DashboardSaved,
    dependencies=[Depends(require("dashboards:write"))],
    summary="Replace a stored dashboard (built-ins are read-only: 409)",
)
def replace_dashboard(
    uid: str, db: TenantDB, context: Context, body: dict[str, Any] = _BODY
) -> DashboardSaved:
    try:
        row = service.replace_dashboard(db, uid, _model_of(body, uid), now=context.clock.now())
    except InvalidDashboard as exc:
        raise _invalid(exc) from None
    return _saved(row)


@router.delete(
    "/{uid}",
    status_code=204,
    response_class=Response,
    dependencies=[Depends(require("dashboards:write"))],
)
def delete_dashboard(uid: str, db: TenantDB) -> Response:
    service.delete_dashboard(db, uid)
    return Response(status_code=204)
