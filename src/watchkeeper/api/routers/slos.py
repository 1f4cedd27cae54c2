"""SLOs: `/api/v1/slos` CRUD (YAML or JSON bodies, as rule groups take) and their status.

Each SLO generates the rule group `slo:<name>` (visible in /api/v1/rules, not editable
there); the middleware audits every change.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from watchkeeper.alert import service as rules_service
from watchkeeper.api.deps import Context, CurrentPrincipal, TenantDB, require
from watchkeeper.api.documents import document_body
from watchkeeper.api.errors import ApiError
from watchkeeper.api.schemas.slos import (
    SLO_BODY,
    SliSeriesPublic,
    SloList,
    SloPublic,
    SloStatus,
)
from watchkeeper.db.tables import SloDefinition
from watchkeeper.query import QueryError
from watchkeeper.slo import service
from watchkeeper.slo.spec import SloSpec, duration_text, parse_slo

router = APIRouter(prefix="/api/v1/slos", tags=["slos"])

MAX_BODY_BYTES = 64 * 1024


def _public(row: SloDefinition) -> SloPublic:
    spec = service.spec_of(row)
    return SloPublic(
        name=row.name,
        group=spec.group_name,
        revision=row.revision,
        created_at=row.created_at,
        updated_at=row.updated_at,
        slo=row.spec,
    )


async def _body(request: Request, name: str | None = None) -> SloSpec:
    """The body as YAML or JSON, validated; a 422 names every problem's place."""
    if len(await request.body()) > MAX_BODY_BYTES:
        raise ApiError(413, f"an SLO body is at most {MAX_BODY_BYTES} bytes")

    def validate(data: Any) -> SloSpec:
        if name is not None and isinstance(data, dict):
            if data.setdefault("name", name) != name:
                raise ApiError(422, f"{data['name']!r} differs from the SLO name in the path")
        return parse_slo(data)

    spec = await document_body(request, "an SLO", "SLO", validate)
    if spec.tenant is not None:
        raise ApiError(422, "the tenant of an SLO is the caller's; remove the `tenant` key")
    return spec


@router.get(
    "",
    response_model=SloList,
    dependencies=[Depends(require("slos:read"))],
    summary="Every SLO of the tenant",
)
def list_slos(db: TenantDB) -> SloList:
    return SloList(slos=[_public(row) for row in service.list_slos(db)])


@router.post(
    "",
    response_model=SloPublic,
    status_code=201,
    dependencies=[Depends(require("slos:write"))],
    openapi_extra=SLO_BODY,
    summary="Create an SLO (409 if it exists); its rule group is generated",
)
async def create_slo(request: Request, context: Context, db: TenantDB) -> SloPublic:
    spec = await _body(request)
    row, _ = service.save_slo(
        db,
        spec,
        now=context.clock.now(),
        create=True,
        default_interval=context.settings.alerting.evaluation_interval_seconds,
    )
    return _public(row)


@router.get(
    "/{name}",
    response_model=SloPublic,
    dependencies=[Depends(require("slos:read"))],
    summary="One SLO as written",
)
def get_slo(name: str, db: TenantDB) -> SloPublic:
    return _public(service.get_slo(db, name))


@router.put(
    "/{name}",
    response_model=SloPublic,
    dependencies=[Depends(require("slos:write"))],
    openapi_extra=SLO_BODY,
    summary="Create or replace an SLO; its rule group is regenerated",
)
async def replace_slo(
    name: str, request: Request, response: Response, context: Context, db: TenantDB
) -> SloPublic:
    spec = await _body(request, name)
    row, created = service.save_slo(
        db,
        spec,
        now=context.clock.now(),
        create=False,
        default_interval=context.settings.alerting.evaluation_interval_seconds,
    )
    if created:
        response.status_code = 201
    return _public(row)


@router.delete(
    "/{name}",
    status_code=204,
    dependencies=[Depends(require("slos:write"))],
    summary="Delete an SLO and its rule group (its firing alerts are resolved)",
)
def delete_slo(name: str, context: Context, db: TenantDB) -> Response:
    service.delete_slo(db, name, now=context.clock.now())
    return Response(status_code=204)


@router.get(
    "/{name}/status",
    response_model=SloStatus,
    dependencies=[Depends(require("slos:read"))],
    summary="The SLI now, the error budget left and the burn rate over each alert window",
)
def slo_status(name: str, db: TenantDB, context: Context, principal: CurrentPrincipal) -> SloStatus:
    spec = service.spec_of(service.get_slo(db, name))
    try:
        series = service.slo_status(
            context.query, principal.tenant_id, spec, at_ms=round(context.clock.time() * 1000)
        )
    except QueryError as exc:
        raise ApiError(422, f"the SLO's queries failed: {exc.message}") from None
    firing = sorted(
        {
            row.rule_name
            for row in rules_service.select_alerts(db, states=["firing"])
            if row.group_name == spec.group_name
        }
    )
    one = series[0] if len(series) == 1 else None
    return SloStatus(
        name=spec.name,
        objective=spec.objective,
        window=duration_text(spec.window),
        error_budget=spec.error_budget,
        sli=one.sli if one else None,
        error_budget_remaining=one.error_budget_remaining if one else None,
        burn_rates=one.burn_rates if one else {},
        series=[
            SliSeriesPublic(
                labels=s.labels,
                sli=s.sli,
                error_budget_remaining=s.error_budget_remaining,
                burn_rates=s.burn_rates,
            )
            for s in series
        ],
        firing_alerts=firing,
    )
