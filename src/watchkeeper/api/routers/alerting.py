"""The tenant's alert handling configuration (route, inhibit_rules, time_intervals, receivers)
and `POST /api/v1/alerts/route-test`: where an alert would go, why, and what would mute it."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from watchkeeper.alert import handling
from watchkeeper.alert.model import ConfigError
from watchkeeper.alert.mute import MuteKind
from watchkeeper.api.deps import Context, CurrentPrincipal, TenantDB, require
from watchkeeper.api.errors import ApiError
from watchkeeper.api.schemas.silences import (
    HandlingConfigDocument,
    RouteTestAnswer,
    RouteTestRequest,
)
from watchkeeper.wiring import handling_defaults

router = APIRouter(prefix="/api/v1", tags=["alert handling"])

CONFIG_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


def current(db: TenantDB, context: Context) -> handling.Handling:
    """The handling config in force; a broken default file is the operator's 503, not a 500."""
    try:
        return handling.load(db, handling_defaults(context))
    except ConfigError as exc:
        raise ApiError(503, f"the alert handling configuration is invalid: {exc}") from None


def _document(config: handling.Handling) -> HandlingConfigDocument:
    return HandlingConfigDocument(
        source=config.source,
        updated_at=config.updated_at,
        updated_by=config.updated_by,
        config=json.loads(json.dumps(config.document(), default=str)),
        text=config.text,
    )


@router.get(
    "/alerting/config",
    response_model=HandlingConfigDocument,
    dependencies=[Depends(require("alerting:read"))],
    summary="The alert handling configuration in force (route, inhibit_rules, ...)",
)
def get_config(db: TenantDB, context: Context) -> HandlingConfigDocument:
    return _document(current(db, context))


async def config_text(request: Request) -> str:
    raw = await request.body()
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise ApiError(422, "the body must be UTF-8 YAML or JSON") from None
    if not text.strip():
        raise ApiError(422, "the body must be an alert handling configuration in YAML or JSON")
    return text


ConfigText = Annotated[str, Depends(config_text)]


@router.put(
    "/alerting/config",
    response_model=HandlingConfigDocument,
    dependencies=[Depends(require("alerting:write"))],
    openapi_extra=CONFIG_BODY,
    summary="Replace the alert handling configuration (YAML or JSON); invalid: 422, unchanged",
)
def put_config(
    text: ConfigText, db: TenantDB, context: Context, principal: CurrentPrincipal
) -> HandlingConfigDocument:
    try:
        saved = handling.save(db, text, now=context.clock.now(), actor=principal.name)
    except ConfigError as exc:
        raise ApiError(
            422,
            f"invalid alert handling configuration: {exc}",
            details=[{"field": exc.path, "message": exc.message}],
        ) from None
    return _document(saved)


@router.post(
    "/alerts/route-test",
    response_model=RouteTestAnswer,
    dependencies=[Depends(require("alerts:read"))],
    summary="Which routes an alert with these labels takes, why, and what would mute it",
)
def route_test(body: RouteTestRequest, db: TenantDB, context: Context) -> RouteTestAnswer:
    config = current(db, context)
    explanation = handling.explain(db, config, body.labels, clock=context.clock)
    answer = explanation.to_dict()
    group_by = {r["route"]: r["group_by"] for r in explanation.routing.to_dict()["routes"]}
    for route in answer["routes"]:
        route["group_by"] = group_by.get(route["route"], [])
    silenced = [i for m in explanation.mutes if m.kind is MuteKind.SILENCE for i in m.silence_ids]
    inhibited = [
        m.source_fingerprint
        for m in explanation.mutes
        if m.kind is MuteKind.INHIBITION and m.source_fingerprint
    ]
    return RouteTestAnswer(**answer, silenced_by=silenced, inhibited_by=inhibited)
