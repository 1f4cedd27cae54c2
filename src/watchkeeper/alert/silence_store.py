"""Silences in the database: the `Silences` registry's rules (mute.py) over a tenant's rows.

Each operation loads the tenant's silences into a `Silences` registry, applies the change
there (so validation and Alertmanager's update semantics live in one place) and writes back
the rows that changed, in the caller's tenant session. Expired silences are kept as history.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from watchkeeper.alert.matchers import matches
from watchkeeper.alert.mute import Silence, SilenceError, Silences, SilenceState
from watchkeeper.db.tables import SilenceRow
from watchkeeper.domain.series import Matcher
from watchkeeper.domain.times import utc
from watchkeeper.tenancy.service import NotFoundError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _stored(seconds: float) -> datetime:
    """Rounded down to the microsecond the database keeps, so a silence starting "now" is
    active at that same instant (rounding to nearest could put its start just after now).

    `seconds * 1e6` is itself rounded in floating point and can carry up to the next whole
    microsecond; read back (`datetime.timestamp()` divides the microseconds by 1e6) that start
    would lie after `now` and the silence would be pending at its own creation. Step back one
    microsecond when the round trip would exceed `seconds`.
    """
    micros = math.floor(seconds * 1_000_000)
    if micros / 1_000_000 > seconds:
        micros -= 1
    return _EPOCH + timedelta(microseconds=micros)


_ID = re.compile(r"[0-9A-Za-z-]{1,36}")  # ids are UUIDs; anything else cannot exist


def _data(row: SilenceRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "matchers": row.matchers,
        "startsAt": row.starts_at.timestamp(),
        "endsAt": row.ends_at.timestamp(),
        "createdBy": row.created_by,
        "comment": row.comment,
        "updatedAt": row.updated_at.timestamp(),
    }


def _silence(row: SilenceRow) -> Silence:
    return Silence.from_dict(_data(row))


def load(db: Session) -> Silences:
    """Every silence of the session's tenant (history included) as a registry."""
    return Silences.from_dict({"silences": [_data(r) for r in db.scalars(select(SilenceRow))]})


def load_current(db: Session, now: float) -> Silences:
    """The silences that are active or pending at `now`: what muting needs."""
    rows = db.scalars(select(SilenceRow).where(SilenceRow.ends_at > utc(now)))
    return Silences.from_dict({"silences": [_data(r) for r in rows]})


def _save(db: Session, silences: Iterable[Silence], now: float) -> None:
    for silence in silences:
        data = silence.to_dict()
        row = db.get(SilenceRow, silence.id)
        if row is None:
            row = SilenceRow(id=silence.id, created_at=utc(now))
            db.add(row)
        row.matchers = data["matchers"]
        row.starts_at = _stored(silence.starts_at)
        row.ends_at = _stored(silence.ends_at)
        row.created_by = silence.created_by
        row.comment = silence.comment
        row.updated_at = utc(silence.updated_at)
    db.flush()


@dataclass(frozen=True)
class SilenceSpec:
    """What a caller asks for: Alertmanager's postableSilence (times in Unix seconds)."""

    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str


def create_or_update(
    db: Session, spec: SilenceSpec, *, now: float, silence_id: str | None = None
) -> Silence:
    """Create a silence, or update `silence_id` (Alertmanager: an active silence whose
    matchers or start change is expired and replaced, so the answer may carry a new id)."""
    registry = load(db)
    if silence_id is None:
        silence = registry.create(
            matchers=spec.matchers,
            starts_at=spec.starts_at,
            ends_at=spec.ends_at,
            created_by=spec.created_by,
            comment=spec.comment,
            now=now,
        )
        _save(db, [silence], now)
        return silence
    _require(registry, silence_id)
    old = registry.get(silence_id)
    # A start already past on an active silence is "keep the start" (it would clamp to now,
    # which would count as a change and replace the silence).
    keep_start = old.state_at(now) is SilenceState.ACTIVE and spec.starts_at <= now
    silence = registry.update(
        silence_id,
        now=now,
        matchers=spec.matchers,
        starts_at=None if keep_start else spec.starts_at,
        ends_at=spec.ends_at,
        comment=spec.comment,
        created_by=spec.created_by,
    )
    _save(db, {registry.get(silence_id), silence}, now)
    return silence


def expire(db: Session, silence_id: str, *, now: float) -> Silence:
    """End a silence now (DELETE /api/v2/silence/{id}); it stays as history."""
    registry = load(db)
    _require(registry, silence_id)
    silence = registry.expire(silence_id, now=now)
    _save(db, [silence], now)
    return silence


def get(db: Session, silence_id: str) -> Silence:
    row = db.get(SilenceRow, silence_id) if _ID.fullmatch(silence_id) else None
    if row is None:
        raise NotFoundError(f"silence {silence_id!r} not found")
    return _silence(row)


def _require(registry: Silences, silence_id: str) -> None:
    try:
        registry.get(silence_id)
    except SilenceError:
        raise NotFoundError(f"silence {silence_id!r} not found") from None


def select_silences(
    db: Session,
    *,
    now: float,
    state: SilenceState | None = None,
    filters: Sequence[Matcher] = (),
) -> list[Silence]:
    """Silences (newest start first), optionally in one state, and whose equality matchers
    satisfy every filter matcher (Alertmanager's `GET /silences?filter=`)."""
    found = []
    for silence in load(db).select(now=now, state=state):
        labels = {m.name: m.value for m in silence.matchers}
        if matches(filters, labels):
            found.append(silence)
    return found


def count_active(db: Session, now: float) -> int:
    """Active silences over every tenant (a system session), for the gauge."""
    at = utc(now)
    return int(
        db.scalar(
            select(func.count())
            .select_from(SilenceRow)
            .where(SilenceRow.starts_at <= at, SilenceRow.ends_at > at)
        )
        or 0
    )
