"""Configuration at run time and the audit trail."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from watchkeeper.api.deps import Context, CurrentPrincipal, TenantDB, audit_caught_up, require
from watchkeeper.api.schemas.admin import (
    AuditRecordPublic,
    AuditVerifyResult,
    ConfigUpdateResult,
)
from watchkeeper.audit import list_records
from watchkeeper.runtime.reconfigure import update_config

router = APIRouter(tags=["admin"])


@router.get(
    "/admin/config",
    summary="The running configuration, secrets redacted",
    dependencies=[Depends(require("config:read"))],
)
def get_config(context: Context) -> dict[str, Any]:
    return context.settings.redacted()


@router.put(
    "/admin/config",
    response_model=ConfigUpdateResult,
    summary="Change settings: validated whole, persisted, audited; a bad value changes nothing",
    dependencies=[Depends(require("config:write"))],
)
async def put_config(
    request: Request,
    context: Context,
    patch: dict[str, Any] = Body(..., examples=[{"metrics": {"retention_days": 30}}]),
) -> ConfigUpdateResult:
    updated, changed, restart = await update_config(context, patch)
    request.state.audit_details = {"changed": changed}
    return ConfigUpdateResult(changed=changed, restart_required=restart, config=updated.redacted())


@router.get(
    "/api/v1/audit",
    response_model=list[AuditRecordPublic],
    summary="This tenant's audit trail, newest first",
    dependencies=[Depends(require("audit:read")), Depends(audit_caught_up)],
)
def audit(
    db: TenantDB,
    principal: CurrentPrincipal,
    limit: int = Query(100, ge=1, le=1000),
    before_id: int | None = Query(
        None, ge=1, le=2**63 - 1, description="page: records older than this id"
    ),
) -> list[AuditRecordPublic]:
    rows = list_records(db, principal.tenant_id, limit=limit, before_id=before_id)
    return [AuditRecordPublic.model_validate(r) for r in rows]


@router.get(
    "/admin/audit/verify",
    response_model=AuditVerifyResult,
    summary="Check the whole audit trail (every tenant): chain, checkpoints, truncation",
    dependencies=[Depends(require("config:read")), Depends(audit_caught_up)],
)
async def audit_verify(context: Context) -> AuditVerifyResult:
    report = await run_in_threadpool(context.audit.verify)
    return AuditVerifyResult(
        intact=report.intact,
        checked=report.checked,
        first_bad=report.first_bad,
        missing=list(report.missing) if report.missing else None,
        problems=report.problems,
        warnings=report.warnings,
    )
