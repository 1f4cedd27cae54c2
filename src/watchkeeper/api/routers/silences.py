"""Silences, Alertmanager v2-compatible (`/api/v2/silences`, `/api/v2/silence/{id}`), mirrored
under `/api/v1/silences` so `amtool` and Grafana work unchanged. Viewers read, editors change;
the middleware audits every change (the silence id is added to the record's details)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Request, Response

from watchkeeper.alert import silence_store
from watchkeeper.alert.matchers import MatcherParseError, parse_matchers
from watchkeeper.alert.mute import Silence, SilenceError, SilenceState, matcher_from_api
from watchkeeper.api.deps import Context, CurrentPrincipal, TenantDB, require
from watchkeeper.api.errors import ApiError
from watchkeeper.api.schemas.silences import (
    GettableSilence,
    PostableSilence,
    SilenceCreated,
    SilenceMatcher,
    SilenceStatus,
)
from watchkeeper.domain.series import Matcher
from watchkeeper.domain.times import utc

router = APIRouter(tags=["silences"])


_LATEST = datetime(9999, 1, 1, tzinfo=UTC).timestamp()


def _seconds(name: str, moment: datetime) -> float:
    seconds = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    if not 0 <= seconds < _LATEST:
        raise ApiError(422, f"{name} must be between 1970 and 9999", details=[{"field": name}])
    return seconds


def _public(silence: Silence, now: float) -> GettableSilence:
    data = silence.to_dict()
    return GettableSilence(
        id=silence.id,
        status=SilenceStatus(state=silence.state_at(now).value),
        updatedAt=utc(silence.updated_at),
        matchers=[SilenceMatcher(**m) for m in data["matchers"]],
        startsAt=utc(silence.starts_at),
        endsAt=utc(silence.ends_at),
        createdBy=silence.created_by,
        comment=silence.comment,
    )


def _filters(filters: list[str]) -> list[Matcher]:
    found: list[Matcher] = []
    for text in filters:
        try:
            found.extend(parse_matchers(text))
        except MatcherParseError as exc:
            raise ApiError(400, f"invalid filter {text!r}: {exc}") from None
    return found


@router.get(
    "/api/v2/silences",
    response_model=list[GettableSilence],
    dependencies=[Depends(require("silences:read"))],
    summary="Silences, newest first, expired ones included (Alertmanager v2)",
)
@router.get(
    "/api/v1/silences",
    response_model=list[GettableSilence],
    dependencies=[Depends(require("silences:read"))],
    summary="Silences (same as /api/v2/silences)",
)
def list_silences(
    db: TenantDB,
    context: Context,
    filter: list[str] = Query(
        [], description='matchers the silence\'s equality matchers satisfy, e.g. alertname="X"'
    ),
    state: SilenceState | None = Query(None, description="only silences in this state"),
) -> list[GettableSilence]:
    now = context.clock.time()
    found = silence_store.select_silences(db, now=now, state=state, filters=_filters(filter))
    return [_public(s, now) for s in found]


@router.post(
    "/api/v2/silences",
    response_model=SilenceCreated,
    dependencies=[Depends(require("silences:write"))],
    summary="Create a silence, or update the one named by `id` (Alertmanager v2)",
)
@router.post(
    "/api/v1/silences",
    response_model=SilenceCreated,
    dependencies=[Depends(require("silences:write"))],
    summary="Create or update a silence (same as /api/v2/silences)",
)
def post_silence(
    body: PostableSilence,
    request: Request,
    db: TenantDB,
    context: Context,
    principal: CurrentPrincipal,
) -> SilenceCreated:
    now = context.clock.time()
    spec = silence_store.SilenceSpec(
        matchers=tuple(matcher_from_api(m.model_dump()) for m in body.matchers),
        starts_at=_seconds("startsAt", body.startsAt),
        ends_at=_seconds("endsAt", body.endsAt),
        created_by=body.createdBy if body.createdBy is not None else principal.name,
        comment=body.comment,
    )
    try:
        silence = silence_store.create_or_update(db, spec, now=now, silence_id=body.id)
    except SilenceError as exc:
        raise ApiError(422, f"invalid silence: {exc}") from None
    request.state.audit_details = {"silence_id": silence.id, "replaces": body.id}
    return SilenceCreated(silenceID=silence.id)


@router.get(
    "/api/v2/silence/{silence_id}",
    response_model=GettableSilence,
    dependencies=[Depends(require("silences:read"))],
    summary="One silence (Alertmanager v2)",
)
@router.get(
    "/api/v1/silences/{silence_id}",
    response_model=GettableSilence,
    dependencies=[Depends(require("silences:read"))],
    summary="One silence (same as /api/v2/silence/{id})",
)
def get_silence(silence_id: str, db: TenantDB, context: Context) -> GettableSilence:
    return _public(silence_store.get(db, silence_id), context.clock.time())


@router.delete(
    "/api/v2/silence/{silence_id}",
    dependencies=[Depends(require("silences:write"))],
    summary="Expire a silence now; it stays as history (Alertmanager v2)",
)
@router.delete(
    "/api/v1/silences/{silence_id}",
    dependencies=[Depends(require("silences:write"))],
    summary="Expire a silence (same as DELETE /api/v2/silence/{id})",
)
def expire_silence(silence_id: str, request: Request, db: TenantDB, context: Context) -> Response:
    try:
        silence_store.expire(db, silence_id, now=context.clock.time())
    except SilenceError as exc:
        raise ApiError(409, str(exc)) from None
    request.state.audit_details = {"silence_id": silence_id}
    return Response(status_code=200)
