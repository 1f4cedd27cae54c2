"""`/api/v1/retention`: how long this tenant's records are kept (tenant admin, audited)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from watchkeeper.api.deps import Context, TenantDB, require
from watchkeeper.api.schemas.retention import RetentionPublic, RetentionUpdate
from watchkeeper.store.base import TenantRetention
from watchkeeper.tenancy import retention

router = APIRouter(prefix="/api/v1/retention", tags=["retention"])


def _public(policy: retention.Policy, context: Context) -> RetentionPublic:
    # A tenant's metrics_days is applied only by a store that can delete per tenant.
    per_tenant_metrics = isinstance(context.store, TenantRetention)
    return RetentionPublic(
        overrides=policy.overrides,
        effective=policy.effective,
        defaults=retention.defaults(context.settings),
        enforced_per_tenant=[
            k for k in retention.KINDS if k != "metrics_days" or per_tenant_metrics
        ],
    )


@router.get(
    "",
    response_model=RetentionPublic,
    summary="This tenant's retention periods",
    dependencies=[Depends(require("retention:read"))],
)
def get_retention(db: TenantDB, context: Context) -> RetentionPublic:
    return _public(retention.get_policy(db, context.settings), context)


@router.put(
    "",
    response_model=RetentionPublic,
    summary="Change this tenant's retention periods (null: back to the default)",
    dependencies=[Depends(require("retention:write"))],
)
def put_retention(
    body: RetentionUpdate, request: Request, db: TenantDB, context: Context
) -> RetentionPublic:
    changes = body.model_dump(exclude_unset=True)
    policy = retention.set_policy(db, context.settings, changes, now=context.clock.now())
    request.state.audit_details = {"retention": changes}
    return _public(policy, context)
