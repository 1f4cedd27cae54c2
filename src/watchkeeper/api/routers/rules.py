"""Rules as code and alerts: Prometheus' `/api/v1/rules` and `/api/v1/alerts`, rule group CRUD."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any, Literal

import promql_parser as pp
from fastapi import APIRouter, Depends, Query, Request, Response

from watchkeeper.alert import service
from watchkeeper.alert.handling import MuteStatus, mute_status
from watchkeeper.alert.rules import CompiledGroup
from watchkeeper.alert.state import ACTIVE_STATES
from watchkeeper.api.deps import Context, TenantDB, require
from watchkeeper.api.documents import document_body
from watchkeeper.api.errors import ApiError
from watchkeeper.api.routers.alerting import current as current_handling
from watchkeeper.api.schemas.rules import (
    RULE_GROUP_BODY,
    AlertDetail,
    AlertDetailResponse,
    AlertMuteStatus,
    AlertPublic,
    AlertsData,
    AlertsResponse,
    RuleGroupDocument,
    RuleGroupPublic,
    RuleGroupsData,
    RulePublic,
    RulesResponse,
    TransitionPublic,
)
from watchkeeper.db.tables import AlertInstance, AlertRuleGroup
from watchkeeper.domain.series import Matcher
from watchkeeper.query import QueryError, format_value
from watchkeeper.query.syntax import matchers_of, parse

router = APIRouter(prefix="/api/v1", tags=["rules and alerts"])

AlertState = Literal["pending", "firing", "resolved", "inactive"]


def _alert(row: AlertInstance, mute: MuteStatus | None = None) -> AlertPublic:
    return AlertPublic(
        labels=row.labels,
        annotations=row.annotations,
        state=row.state,
        activeAt=row.active_at,
        value=format_value(row.value),
        fingerprint=row.fingerprint,
        startsAt=row.fired_at,
        endsAt=row.ends_at,
        generatorURL=row.generator_url,
        flapping=row.flapping,
        explanation=row.explanation,
        status=None
        if mute is None
        else AlertMuteStatus(
            state="suppressed" if mute.suppressed else "active",
            silencedBy=list(mute.silenced_by),
            inhibitedBy=list(mute.inhibited_by),
        ),
    )


def _rule_state(alerts: list[AlertPublic]) -> Literal["inactive", "pending", "firing"]:
    states = {a.state for a in alerts}
    return "firing" if "firing" in states else "pending" if "pending" in states else "inactive"


def _group_public(
    row: AlertRuleGroup, group: CompiledGroup, alerts: dict[str, list[AlertPublic]]
) -> RuleGroupPublic:
    rules = []
    for rule in group.rules:
        health: dict[str, Any] = row.rule_health.get(rule.name, {})
        common: dict[str, Any] = {
            "name": rule.name,
            "query": rule.query,
            "type": rule.kind,
            "ruleType": rule.spec.type,
            "labels": rule.spec.labels,
            "health": health.get("health", "unknown"),
            "lastError": health.get("lastError", ""),
            "evaluationTime": health.get("evaluationTime", 0.0),
            "lastEvaluation": health.get("lastEvaluation"),
        }
        if rule.kind == "alerting":
            mine = alerts.get(rule.name, [])
            common |= {
                "state": _rule_state(mine),
                "duration": rule.spec.for_,
                "keepFiringFor": rule.spec.keep_firing_for,
                "annotations": rule.spec.annotations,
                "alerts": mine,
            }
        rules.append(RulePublic(**common))
    entries = [h for h in row.rule_health.values() if isinstance(h, dict)]
    group_error = next((str(h["groupError"]) for h in entries if h.get("groupError")), "")
    return RuleGroupPublic(
        name=row.name,
        file=row.file or f"api/{row.name}",
        source=row.source,
        interval=group.interval_seconds,
        limit=group.spec.limit,
        rules=rules,
        evaluationTime=row.evaluation_seconds,
        lastEvaluation=row.last_evaluation,
        health="err" if group_error else "ok" if row.last_evaluation else "unknown",
        lastError=group_error,
    )


@router.get(
    "/rules",
    response_model=RulesResponse,
    response_model_exclude_none=True,
    dependencies=[Depends(require("rules:read"))],
    summary="Rule groups with their rules, health and alerts (Prometheus' format)",
)
def list_rules(
    db: TenantDB,
    context: Context,
    type: Literal["alert", "record"] | None = Query(None, description="only this kind of rule"),
    rule_group: list[str] | None = Query(None, alias="rule_group[]"),
) -> RulesResponse:
    by_rule: dict[tuple[str, str], list[AlertPublic]] = defaultdict(list)
    for alert in service.select_alerts(db):
        by_rule[(alert.group_name, alert.rule_name)].append(_alert(alert))
    groups = []
    default = context.settings.alerting.evaluation_interval_seconds
    for row in service.list_groups(db):
        if rule_group and row.name not in rule_group:
            continue
        group = service.compile_row(row, default)
        alerts = {rule: items for (name, rule), items in by_rule.items() if name == row.name}
        public = _group_public(row, group, alerts)
        if type is not None:
            wanted = "alerting" if type == "alert" else "recording"
            public.rules = [r for r in public.rules if r.type == wanted]
        groups.append(public)
    return RulesResponse(data=RuleGroupsData(groups=groups))


def _document(row: AlertRuleGroup) -> RuleGroupDocument:
    return RuleGroupDocument(
        name=row.name,
        source=row.source,
        file=row.file,
        revision=row.revision,
        created_at=row.created_at,
        updated_at=row.updated_at,
        group=row.spec,
    )


@router.get(
    "/rules/groups/{name}",
    response_model=RuleGroupDocument,
    dependencies=[Depends(require("rules:read"))],
    summary="One rule group as stored (its rule-file form)",
)
def get_rule_group(name: str, db: TenantDB) -> RuleGroupDocument:
    return _document(service.get_group(db, name))


async def group_body(request: Request, name: str, context: Context) -> CompiledGroup:
    """The body as YAML or JSON, validated; a 422 names every problem's location."""
    return await document_body(
        request,
        "a rule group",
        "rule group",
        lambda data: service.validate_group(
            data,
            name=name,
            default_interval=context.settings.alerting.evaluation_interval_seconds,
        ),
    )


GroupBody = Annotated[CompiledGroup, Depends(group_body)]


@router.post(
    "/rules/groups/{name}",
    response_model=RuleGroupDocument,
    status_code=201,
    dependencies=[Depends(require("rules:write"))],
    openapi_extra=RULE_GROUP_BODY,
    summary="Create a rule group from YAML or JSON (409 if it exists)",
)
def create_rule_group(group: GroupBody, context: Context, db: TenantDB) -> RuleGroupDocument:
    row, _ = service.save_group(db, group, now=context.clock.now(), create=True)
    return _document(row)


@router.put(
    "/rules/groups/{name}",
    response_model=RuleGroupDocument,
    dependencies=[Depends(require("rules:write"))],
    openapi_extra=RULE_GROUP_BODY,
    summary="Create or replace a rule group from YAML or JSON",
)
def replace_rule_group(
    group: GroupBody, response: Response, context: Context, db: TenantDB
) -> RuleGroupDocument:
    row, created = service.save_group(db, group, now=context.clock.now(), create=False)
    if created:
        response.status_code = 201
    return _document(row)


@router.delete(
    "/rules/groups/{name}",
    status_code=204,
    dependencies=[Depends(require("rules:write"))],
    summary="Delete a rule group; its firing alerts are resolved",
)
def delete_rule_group(name: str, context: Context, db: TenantDB) -> Response:
    service.delete_group(db, name, now=context.clock.now())
    return Response(status_code=204)


def _matchers(filters: list[str]) -> list[Matcher]:
    matchers: list[Matcher] = []
    for text in filters:
        selector = text if text.strip().startswith("{") else "{" + text + "}"
        try:
            node = parse(selector)
            if not isinstance(node, pp.VectorSelector):
                raise QueryError(f"{text!r} is not a list of label matchers")
            matchers.extend(matchers_of(node))
        except QueryError as exc:
            raise ApiError(400, f"invalid filter {text!r}: {exc.message}") from None
    return matchers


@router.get(
    "/alerts",
    response_model=AlertsResponse,
    dependencies=[Depends(require("alerts:read"))],
    summary="Alerts of the rules (Prometheus' format), filtered by state and labels",
)
def list_alerts(
    db: TenantDB,
    context: Context,
    state: list[AlertState] | None = Query(None, description="default: pending and firing"),
    filter: list[str] = Query(
        [], description='label matchers, e.g. severity="page" or {job=~"api.*"}'
    ),
    silenced: bool | None = Query(None, description="only alerts (not) silenced now"),
    inhibited: bool | None = Query(None, description="only alerts (not) inhibited now"),
) -> AlertsResponse:
    rows = service.select_alerts(
        db, states=state or list(ACTIVE_STATES), matchers=_matchers(filter)
    )
    mutes = mute_status(db, current_handling(db, context), rows, now=context.clock.time())
    if silenced is not None:
        rows = [r for r in rows if bool(mutes[r.fingerprint].silenced_by) is silenced]
    if inhibited is not None:
        rows = [r for r in rows if bool(mutes[r.fingerprint].inhibited_by) is inhibited]
    return AlertsResponse(data=AlertsData(alerts=[_alert(r, mutes[r.fingerprint]) for r in rows]))


@router.get(
    "/alerts/{fingerprint}",
    response_model=AlertDetailResponse,
    dependencies=[Depends(require("alerts:read"))],
    summary="One alert with its state history",
)
def get_alert(fingerprint: str, db: TenantDB) -> AlertDetailResponse:
    row, transitions = service.alert_with_history(db, fingerprint)
    detail = AlertDetail(
        **_alert(row).model_dump(),
        group=row.group_name,
        rule=row.rule_name,
        history=[
            TransitionPublic(
                at=t.at, from_state=t.from_state, to_state=t.to_state, value=format_value(t.value)
            )
            for t in transitions
        ],
    )
    return AlertDetailResponse(data=detail)
