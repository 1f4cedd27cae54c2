"""The outbox and dead letter (`/api/v1/notifications`) and recipients' quiet hours."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from watchkeeper.api.deps import Context, TenantDB, require
from watchkeeper.api.errors import ApiError
from watchkeeper.api.schemas.notifications import (
    NotificationDetail,
    NotificationPublic,
    QuietHoursBody,
    QuietHoursPublic,
)
from watchkeeper.notify import antispam, queue
from watchkeeper.notify.outbox import OutboxStatus

router = APIRouter(prefix="/api/v1", tags=["notifications"])

MAX_ID = 2**63 - 1


@router.get(
    "/notifications",
    response_model=list[NotificationPublic],
    dependencies=[Depends(require("notifications:read"))],
)
def list_notifications(
    db: TenantDB,
    status: OutboxStatus | None = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    source: Annotated[str | None, Query(max_length=32)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[NotificationPublic]:
    """Newest first; page with `before_id` = the last id of the previous page."""
    rows = queue.list_notifications(
        db, status=status, channel=channel, source=source, before_id=before_id, limit=limit
    )
    return [NotificationPublic.model_validate(r, from_attributes=True) for r in rows]


@router.get(
    "/notifications/{notification_id}",
    response_model=NotificationDetail,
    dependencies=[Depends(require("notifications:read"))],
)
def get_notification(
    notification_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: TenantDB
) -> NotificationDetail:
    row = queue.get_notification(db, notification_id)
    return NotificationDetail.model_validate(row, from_attributes=True)


@router.post(
    "/notifications/{notification_id}/retry",
    response_model=NotificationPublic,
    dependencies=[Depends(require("notifications:write"))],
)
def retry_notification(
    notification_id: Annotated[int, Path(ge=1, le=MAX_ID)], context: Context, db: TenantDB
) -> NotificationPublic:
    row = queue.retry_notification(db, notification_id, context.clock.now())
    return NotificationPublic.model_validate(row, from_attributes=True)


@router.get(
    "/quiet-hours",
    response_model=list[QuietHoursPublic],
    dependencies=[Depends(require("notifications:read"))],
)
def list_quiet_hours(db: TenantDB) -> list[QuietHoursPublic]:
    return [
        QuietHoursPublic.model_validate(r, from_attributes=True)
        for r in antispam.list_quiet_hours(db)
    ]


@router.put(
    "/quiet-hours/{recipient}",
    response_model=QuietHoursPublic,
    dependencies=[Depends(require("notifications:write"))],
)
def put_quiet_hours(
    recipient: str, body: QuietHoursBody, context: Context, db: TenantDB
) -> QuietHoursPublic:
    """A recipient's (e-mail address or phone number) quiet hours in their time zone."""
    row = antispam.set_quiet_hours(
        db,
        recipient,
        timezone=body.timezone,
        start=body.start,
        end=body.end,
        now=context.clock.now(),
    )
    return QuietHoursPublic.model_validate(row, from_attributes=True)


@router.delete(
    "/quiet-hours/{recipient}",
    status_code=204,
    dependencies=[Depends(require("notifications:write"))],
)
def delete_quiet_hours(recipient: str, db: TenantDB) -> Response:
    if not antispam.delete_quiet_hours(db, recipient):
        raise ApiError(404, f"no quiet hours for {recipient!r}")
    return Response(status_code=204)
