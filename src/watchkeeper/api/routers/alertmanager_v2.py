"""Alertmanager API v2, read side: `GET /api/v2/alerts`, `/api/v2/alerts/groups`,
`/api/v2/status`, `/api/v2/receivers`, in Alertmanager's own shapes (its OpenAPI spec,
`api/v2/openapi.yaml`), so `amtool`, Grafana's Alertmanager data source and karma read us.

Alertmanager holds only alerts that fire (Prometheus sends no pending ones) and drops resolved
ones from these answers, so only firing alerts appear here. An alert's `state` is `suppressed`
when a silence or an inhibition mutes it now, else `active`; we compute that on each request,
so `unprocessed` never occurs. Groups are the dispatcher's aggregation groups: one per route
an alert reaches and per value of that route's `group_by` labels. The tenant comes from the
credential, as everywhere.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query

import watchkeeper
from watchkeeper.alert import service
from watchkeeper.alert.handling import Handling, MuteStatus, mute_status
from watchkeeper.alert.matchers import MatcherParseError, parse_matchers
from watchkeeper.alert.routing import Route
from watchkeeper.api.deps import Context, TenantDB, require
from watchkeeper.api.errors import ApiError
from watchkeeper.api.routers.alerting import current as current_handling
from watchkeeper.db.tables import AlertInstance
from watchkeeper.domain.regex import RegexError
from watchkeeper.domain.series import Matcher, MatchOp
from watchkeeper.domain.times import GO_ZERO_TIME, rfc3339, utc

router = APIRouter(prefix="/api/v2", tags=["alertmanager v2"])

_READ = [Depends(require("alerts:read"))]


def _iso(moment: datetime | None) -> str:
    """Go's `strfmt.DateTime` form, in milliseconds, as Alertmanager's API v2 writes times."""
    return rfc3339((moment or GO_ZERO_TIME).astimezone(UTC), "milliseconds")


def _filters(filters: Sequence[str]) -> list[Matcher]:
    found: list[Matcher] = []
    for text in filters:
        try:
            found.extend(parse_matchers(text))
        except MatcherParseError as exc:
            raise ApiError(400, f"bad matcher format: {exc}", code="bad_data") from None
    return found


def _receiver_filter(pattern: str | None) -> Matcher | None:
    """Alertmanager matches `receiver` as an anchored regex over receiver names."""
    if pattern is None:
        return None
    matcher = Matcher("receiver", MatchOp.REGEX, pattern)
    try:
        matcher.matches("")
    except RegexError as exc:
        raise ApiError(400, f"failed to parse receiver param: {exc}", code="bad_data") from None
    return matcher


def _gettable(
    row: AlertInstance, mute: MuteStatus, receivers: list[str], valid_for: float
) -> dict[str, Any]:
    """One `gettableAlert`. A rule's firing alert has no end yet: like Prometheus' notifier,
    state one `valid_for` seconds after its last evaluation (it is re-stated every pass)."""
    ends = row.ends_at or row.last_evaluation + timedelta(seconds=valid_for)
    return {
        "labels": dict(row.labels),
        "annotations": dict(row.annotations),
        "startsAt": _iso(row.fired_at or row.active_at),
        "endsAt": _iso(ends),
        "updatedAt": _iso(row.last_evaluation),
        "generatorURL": row.generator_url or "",
        "fingerprint": row.fingerprint,
        "receivers": [{"name": name} for name in receivers],
        "status": {
            "state": "suppressed" if mute.suppressed else "active",
            "silencedBy": list(mute.silenced_by),
            "inhibitedBy": list(mute.inhibited_by),
        },
    }


def _valid_for(context: Context) -> float:
    """Prometheus' `ValidUntil`: four evaluation intervals ahead."""
    return 4 * context.settings.alerting.evaluation_interval_seconds


def _keep(mute: MuteStatus, *, active: bool, silenced: bool, inhibited: bool) -> bool:
    """Alertmanager's `alertFilter`: each flag admits alerts in that state."""
    if mute.silenced_by and not silenced:
        return False
    if mute.inhibited_by and not inhibited:
        return False
    return mute.suppressed or active


def _firing(
    db: TenantDB,
    context: Context,
    filters: Sequence[str],
    *,
    active: bool,
    silenced: bool,
    inhibited: bool,
) -> Iterator[tuple[AlertInstance, MuteStatus, dict[str, str], list[Route]]]:
    """Firing alerts that pass the matchers and state flags, with their mute status, labels
    and the routes they reach."""
    matchers = _filters(filters)
    handling = current_handling(db, context)
    rows = service.select_alerts(db, states=["firing"], matchers=matchers)
    mutes = mute_status(db, handling, rows, now=context.clock.time())
    for row in rows:
        mute = mutes[row.fingerprint]
        if _keep(mute, active=active, silenced=silenced, inhibited=inhibited):
            labels = dict(row.labels)
            yield row, mute, labels, handling.config.tree.route_for(labels)


@router.get(
    "/alerts",
    dependencies=_READ,
    summary="Firing alerts with their status and receivers (Alertmanager's getAlerts)",
)
def get_alerts(
    db: TenantDB,
    context: Context,
    active: bool = Query(True, description="include active (not muted) alerts"),
    silenced: bool = Query(True, description="include silenced alerts"),
    inhibited: bool = Query(True, description="include inhibited alerts"),
    unprocessed: bool = Query(True, description="accepted; no alert is ever unprocessed here"),
    filter: list[str] = Query([], description='matchers, e.g. alertname="Down"'),
    receiver: str | None = Query(None, description="regex the receiver name must match"),
) -> list[dict[str, Any]]:
    del unprocessed
    wanted = _receiver_filter(receiver)
    valid_for = _valid_for(context)
    answer: list[dict[str, Any]] = []
    flags = {"active": active, "silenced": silenced, "inhibited": inhibited}
    for row, mute, _, routes in _firing(db, context, filter, **flags):
        receivers = sorted({r.receiver for r in routes})
        if wanted is None or any(wanted.matches(name) for name in receivers):
            answer.append(_gettable(row, mute, receivers, valid_for))
    return answer


@router.get(
    "/alerts/groups",
    dependencies=_READ,
    summary="Firing alerts in the dispatcher's aggregation groups (Alertmanager's getAlertGroups)",
)
def get_alert_groups(
    db: TenantDB,
    context: Context,
    active: bool = Query(True, description="include active (not muted) alerts"),
    silenced: bool = Query(True, description="include silenced alerts"),
    inhibited: bool = Query(True, description="include inhibited alerts"),
    filter: list[str] = Query([], description='matchers, e.g. alertname="Down"'),
    receiver: str | None = Query(None, description="regex the receiver name must match"),
) -> list[dict[str, Any]]:
    wanted = _receiver_filter(receiver)
    valid_for = _valid_for(context)
    groups: dict[str, dict[str, Any]] = {}
    flags = {"active": active, "silenced": silenced, "inhibited": inhibited}
    for row, mute, labels, routes in _firing(db, context, filter, **flags):
        receivers = sorted({r.receiver for r in routes})
        for route in routes:
            if wanted is not None and not wanted.matches(route.receiver):
                continue
            key = route.group_key(labels)
            group = groups.setdefault(
                key,
                {
                    "labels": route.group_labels(labels),
                    "receiver": {"name": route.receiver},
                    "alerts": [],
                },
            )
            group["alerts"].append(_gettable(row, mute, receivers, valid_for))
    return [groups[key] for key in sorted(groups)]


def _receiver_names(handling: Handling) -> list[str]:
    document = handling.document()
    names: list[str] = []
    if isinstance(document, dict) and isinstance(document.get("receivers"), list):
        names = [str(r["name"]) for r in document["receivers"] if isinstance(r, dict)]
    for route in handling.config.tree:
        if route.receiver not in names:
            names.append(route.receiver)
    return names


@router.get(
    "/receivers",
    dependencies=_READ,
    summary="Receivers of the tenant's alert handling configuration (Alertmanager's getReceivers)",
)
def get_receivers(db: TenantDB, context: Context) -> list[dict[str, str]]:
    return [{"name": name} for name in _receiver_names(current_handling(db, context))]


@router.get(
    "/status",
    dependencies=[Depends(require("alerting:read"))],
    summary="Version, cluster and the handling configuration as YAML (Alertmanager's getStatus)",
)
def get_status(db: TenantDB, context: Context) -> dict[str, Any]:
    handling = current_handling(db, context)
    return {
        "cluster": {"status": "disabled", "peers": []},
        "versionInfo": {
            "version": watchkeeper.__version__,
            "revision": "",
            "branch": "",
            "buildUser": "watchkeeper",
            "buildDate": "",
            "goVersion": f"python{platform.python_version()}",
        },
        "config": {"original": handling.text},
        "uptime": _iso(utc(context.started_at)),
    }
