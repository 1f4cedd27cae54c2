"""Alerts in from an existing stack: Alertmanager's `POST /api/v2/alerts` (what Prometheus'
`alerting:` section sends to) and a receiver for Alertmanager's webhook (version 4).

Prometheus authenticates with `authorization: {credentials: <api key>}` (a Bearer token),
which `get_principal` accepts as an API key; the key's tenant owns the alerts. The key
needs `alerts:write` (scope `write`, or an editor's token).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from watchkeeper.alert.external import (
    ExternalAlertError,
    ExternalAlerts,
    ReceivedAlert,
    Source,
    parse_postable_alerts,
    parse_webhook,
    webhook_summary,
)
from watchkeeper.alert.state import FlapPolicy
from watchkeeper.api.deps import Context, CurrentPrincipal, require
from watchkeeper.api.errors import ApiError
from watchkeeper.app_context import AppContext
from watchkeeper.auth.principal import Principal

router = APIRouter(tags=["alerts in"], dependencies=[Depends(require("alerts:write"))])

_ALERT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["labels"],
    "properties": {
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "startsAt": {"type": "string", "format": "date-time"},
        "endsAt": {"type": "string", "format": "date-time"},
        "generatorURL": {"type": "string"},
    },
}
_V2_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Alertmanager API v2 postableAlerts, as Prometheus' notifier sends them",
        "content": {"application/json": {"schema": {"type": "array", "items": _ALERT_SCHEMA}}},
    }
}
_WEBHOOK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Alertmanager's webhook_config body, version 4",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["version", "alerts"],
                    "properties": {
                        "version": {"type": "string", "enum": ["4"]},
                        "status": {"type": "string", "enum": ["firing", "resolved"]},
                        "receiver": {"type": "string"},
                        "groupKey": {"type": "string"},
                        "alerts": {
                            "type": "array",
                            "items": {
                                **_ALERT_SCHEMA,
                                "properties": {
                                    **_ALERT_SCHEMA["properties"],
                                    "status": {"type": "string", "enum": ["firing", "resolved"]},
                                    "fingerprint": {"type": "string"},
                                },
                            },
                        },
                    },
                }
            }
        },
    }
}


async def _json(request: Request) -> object:
    raw = await request.body()
    if not raw.strip():
        raise ApiError(400, "empty body: expected JSON alerts")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ApiError(
            400, f"request body is not valid JSON: {exc}", code="malformed_json"
        ) from None


async def _receive(
    request: Request,
    context: AppContext,
    principal: Principal,
    parse: Callable[[object], list[ReceivedAlert]],
    what: str,
    source: Source,
) -> dict[str, Any]:
    """The body parsed by `parse` (a 400 `invalid_<what>` if it does not parse), received as
    alerts from `source` for the caller's tenant."""
    try:
        alerts = parse(await _json(request))
    except ExternalAlertError as exc:
        raise ApiError(400, f"invalid {what}: {exc}", code=f"invalid_{what}") from None
    alerting = context.settings.alerting
    service = ExternalAlerts(
        context.sessions,
        context.clock,
        FlapPolicy(alerting.flap_max_changes, alerting.flap_window_seconds),
    )
    result = await run_in_threadpool(service.receive, principal.tenant_id, source, alerts)
    return webhook_summary(result)


@router.post(
    "/api/v2/alerts",
    openapi_extra=_V2_BODY,
    summary="Alertmanager API v2: receive alerts from Prometheus (its `alerting:` section)",
)
async def post_alerts_v2(
    request: Request, context: Context, principal: CurrentPrincipal
) -> dict[str, Any]:
    return await _receive(
        request, context, principal, parse_postable_alerts, "alerts", "prometheus"
    )


@router.post(
    "/api/v1/alerts/webhook",
    openapi_extra=_WEBHOOK_BODY,
    summary="Receive Alertmanager's webhook (version 4): its alerts become Watchkeeper alerts",
)
async def post_alertmanager_webhook(
    request: Request, context: Context, principal: CurrentPrincipal
) -> dict[str, Any]:
    return await _receive(request, context, principal, parse_webhook, "webhook", "alertmanager")
