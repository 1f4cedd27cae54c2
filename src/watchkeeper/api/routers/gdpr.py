"""A person's data: export (the person, or a superadmin) and erasure (a superadmin).

Users are global, so these routes read across tenants (`watchkeeper.auth.gdpr`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from watchkeeper.api.deps import Context, CurrentPrincipal, audit_caught_up, require
from watchkeeper.api.errors import ApiError
from watchkeeper.auth import gdpr

router = APIRouter(tags=["privacy"])


def _export(context: Context, user_id: str) -> dict[str, Any]:
    with context.sessions.system("personal data export") as db:
        return gdpr.export_user(db, user_id)


@router.get(
    "/api/v1/me/export",
    summary="Everything kept about you, as JSON",
    dependencies=[Depends(audit_caught_up)],
)
async def export_me(principal: CurrentPrincipal, context: Context) -> dict[str, Any]:
    if principal.kind != "user":
        raise ApiError(403, "an API key has no personal data; log in as a user")
    return await run_in_threadpool(_export, context, principal.id)


@router.get(
    "/api/v1/users/{user_id}/export",
    summary="Everything kept about a user, as JSON (superadmin)",
    dependencies=[Depends(require("users:export")), Depends(audit_caught_up)],
)
async def export_user(user_id: str, context: Context) -> dict[str, Any]:
    return await run_in_threadpool(_export, context, user_id)


@router.post(
    "/api/v1/users/{user_id}/erase",
    summary="Erase a user: pseudonymise everywhere, disable, revoke sessions and keys (superadmin)",
    dependencies=[Depends(require("users:erase")), Depends(audit_caught_up)],
)
async def erase_user(
    user_id: str, request: Request, principal: CurrentPrincipal, context: Context
) -> dict[str, Any]:
    def erase() -> gdpr.Erasure:
        with context.sessions.system("personal data erasure") as db:
            return gdpr.erase_user(
                db, context.audit, user_id, now=context.clock.now(), by=principal.id
            )

    done = await run_in_threadpool(erase)
    context.auth.forget_sessions(done.sessions_revoked)
    context.auth.forget_api_keys()
    request.state.audit_details = {"erased": done.pseudonym}
    return {
        "user_id": done.user_id,
        "pseudonym": done.pseudonym,
        "audit_records_pseudonymised": done.audit_records,
        "incident_lines_pseudonymised": done.incident_lines,
        "sessions_revoked": len(done.sessions_revoked),
        "api_keys_revoked": done.api_keys_revoked,
    }
