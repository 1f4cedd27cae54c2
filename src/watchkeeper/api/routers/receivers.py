"""Receivers (contact points): `/api/v1/receivers`, secrets write-only, plus a test send."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from watchkeeper.api.deps import Context, TenantDB, require
from watchkeeper.api.errors import ApiError
from watchkeeper.api.schemas.notifications import (
    NotificationPublic,
    ReceiverBody,
    ReceiverCreate,
    ReceiverPublic,
    ReceiverTest,
)
from watchkeeper.notify.queue import queue_test_message
from watchkeeper.notify.receivers import (
    DEFAULT_RECEIVER,
    ReceiverConfigError,
    ReceiverStore,
    redacted,
)

router = APIRouter(prefix="/api/v1/receivers", tags=["notifications"])


def _store(context: Context) -> ReceiverStore:
    return ReceiverStore.from_settings(context.settings)


def _public(data: dict[str, Any]) -> ReceiverPublic:
    return ReceiverPublic.model_validate(data)


def _integrations(body: ReceiverBody) -> list[dict[str, Any]]:
    return [i.model_dump() for i in body.integrations]


def _bad(exc: ReceiverConfigError) -> ApiError:
    return ApiError(422, str(exc), code="invalid_receiver")


@router.get(
    "", response_model=list[ReceiverPublic], dependencies=[Depends(require("receivers:read"))]
)
def list_receivers(context: Context, db: TenantDB) -> list[ReceiverPublic]:
    return [_public(redacted(r)) for r in _store(context).list(db)]


@router.post(
    "",
    response_model=ReceiverPublic,
    status_code=201,
    dependencies=[Depends(require("receivers:write"))],
)
def create_receiver(body: ReceiverCreate, context: Context, db: TenantDB) -> ReceiverPublic:
    try:
        made = _store(context).create(db, body.name, _integrations(body), context.clock.now())
    except ReceiverConfigError as exc:
        raise _bad(exc) from None
    return _public(redacted(made))


@router.get(
    "/{name}", response_model=ReceiverPublic, dependencies=[Depends(require("receivers:read"))]
)
def get_receiver(name: str, context: Context, db: TenantDB) -> ReceiverPublic:
    return _public(redacted(_store(context).get(db, name)))


@router.put(
    "/{name}", response_model=ReceiverPublic, dependencies=[Depends(require("receivers:write"))]
)
def put_receiver(name: str, body: ReceiverBody, context: Context, db: TenantDB) -> ReceiverPublic:
    try:
        made = _store(context).replace(db, name, _integrations(body), context.clock.now())
    except ReceiverConfigError as exc:
        raise _bad(exc) from None
    return _public(redacted(made))


@router.delete("/{name}", status_code=204, dependencies=[Depends(require("receivers:write"))])
def delete_receiver(name: str, context: Context, db: TenantDB) -> Response:
    if name == DEFAULT_RECEIVER and _store(context).get(db, name).implicit:
        raise ApiError(
            409, "the implicit default receiver comes from the settings; it cannot be deleted"
        )
    _store(context).delete(db, name)
    return Response(status_code=204)


@router.post(
    "/{name}/test",
    response_model=NotificationPublic,
    status_code=202,
    dependencies=[Depends(require("receivers:write"))],
)
def test_receiver(
    name: str, context: Context, db: TenantDB, body: ReceiverTest | None = None
) -> NotificationPublic:
    """Queue a test message to every integration; follow it at /api/v1/notifications."""
    try:
        row = queue_test_message(
            db,
            _store(context),
            name,
            context.clock.now(),
            recipients=body.recipients if body else (),
        )
    except ValueError as exc:  # no integrations (another tenant's empty implicit default)
        raise ApiError(409, str(exc), code="receiver_empty") from None
    return NotificationPublic.model_validate(row, from_attributes=True)
