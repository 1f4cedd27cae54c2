"""SLOs as the API and the CLI use them: every function takes a tenant-scoped session.

Each SLO owns one rule group, `slo:<name>` (source "slo"): saving the SLO regenerates it,
deleting the SLO deletes it (its firing alerts are resolved), and the rules API refuses to
edit it by hand, so the group is always what the SLO says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.alert.service import new_group_row
from watchkeeper.alert.state import retire_group_alerts
from watchkeeper.db.tables import AlertRuleGroup, SloDefinition
from watchkeeper.query import Engine, VectorResult
from watchkeeper.slo.spec import (
    ALERT_WINDOWS,
    SloSpec,
    compile_slo,
    duration_text,
    sli_queries,
)
from watchkeeper.tenancy.service import ConflictError, NotFoundError

SLO_SOURCE = "slo"


def _find(db: Session, name: str) -> SloDefinition | None:
    return db.scalar(select(SloDefinition).where(SloDefinition.name == name))


def _group(db: Session, name: str) -> AlertRuleGroup | None:
    return db.scalar(select(AlertRuleGroup).where(AlertRuleGroup.name == name))


def list_slos(db: Session) -> list[SloDefinition]:
    return list(db.scalars(select(SloDefinition).order_by(SloDefinition.name)))


def get_slo(db: Session, name: str) -> SloDefinition:
    row = _find(db, name)
    if row is None:
        raise NotFoundError(f"SLO {name!r} not found")
    return row


def spec_of(row: SloDefinition) -> SloSpec:
    return SloSpec.model_validate(row.spec)


def _write_group(db: Session, spec: SloSpec, *, now: datetime, default_interval: float) -> None:
    compiled = compile_slo(spec, default_interval=default_interval)
    body = compiled.spec.to_file_form()
    row = _group(db, spec.group_name)
    if row is not None and row.source != SLO_SOURCE:
        raise ConflictError(
            f"rule group {spec.group_name!r} exists and is not managed by an SLO; "
            "rename the SLO or delete that group"
        )
    if row is None:
        db.add(
            new_group_row(
                name=spec.group_name,
                source=SLO_SOURCE,
                file="",
                interval_seconds=compiled.interval_seconds,
                spec=body,
                now=now,
            )
        )
    elif row.spec != body:
        row.spec, row.interval_seconds = body, compiled.interval_seconds
        row.revision += 1
        row.updated_at = now


def save_slo(
    db: Session, spec: SloSpec, *, now: datetime, create: bool, default_interval: float
) -> tuple[SloDefinition, bool]:
    """Create (POST: 409 if it exists) or create-or-replace (PUT) an SLO and its rule group;
    returns (row, created)."""
    if spec.tenant is not None:
        raise ValueError("the tenant of an SLO sent to the API is the caller's; remove `tenant`")
    row = _find(db, spec.name)
    if row is not None and create:
        raise ConflictError(f"SLO {spec.name!r} already exists")
    _write_group(db, spec, now=now, default_interval=default_interval)
    if row is None:
        row = SloDefinition(
            name=spec.name, spec=spec.to_file_form(), revision=1, created_at=now, updated_at=now
        )
        db.add(row)
        db.flush()
        return row, True
    row.spec, row.revision, row.updated_at = spec.to_file_form(), row.revision + 1, now
    return row, False


def delete_slo(db: Session, name: str, *, now: datetime) -> None:
    """Delete an SLO and its rule group; the group's firing alerts are resolved (notified)."""
    row = get_slo(db, name)
    group = _group(db, SloSpec.model_validate(row.spec).group_name)
    if group is not None and group.source == SLO_SOURCE:
        retire_group_alerts(db, group.name, now.timestamp())
        db.delete(group)
    db.delete(row)


@dataclass(frozen=True)
class SliSeries:
    """The SLO now, for one label set of its SLI (one, unless good/total keep labels)."""

    labels: dict[str, str]
    sli: float | None
    """Share of good events over the SLO window (None: no events)."""
    error_budget_remaining: float | None
    """1 = untouched, 0 = spent, below 0 = overspent."""
    burn_rates: dict[str, float | None] = field(default_factory=dict)
    """Error rate over each alert window divided by the error budget."""


def _vector(
    engine: Engine, tenant_id: str, query: str, at_ms: int
) -> dict[tuple[tuple[str, str], ...], float]:
    result = engine.instant_query(tenant_id, query, at_ms)
    if not isinstance(result, VectorResult):
        return {}
    return {
        tuple(sorted((k, v) for k, v in s.labels if k != "__name__")): s.value
        for s in result.samples
    }


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def slo_status(engine: Engine, tenant_id: str, spec: SloSpec, *, at_ms: int) -> list[SliSeries]:
    """The SLI, budget left and burn rates now, computed from good/total (not from the
    recorded series, so it answers from the first minute and for any past time)."""
    sli = sli_queries(spec)
    budget = spec.error_budget
    window = _vector(engine, tenant_id, sli.error_ratio(duration_text(spec.window)), at_ms)
    burns = {
        duration_text(w): _vector(engine, tenant_id, sli.error_ratio(duration_text(w)), at_ms)
        for w in ALERT_WINDOWS
    }
    out = []
    for key in sorted(set(window) | {k for v in burns.values() for k in v}):
        error = _finite(window.get(key))
        rates = {}
        for name, values in burns.items():
            value = _finite(values.get(key))
            rates[name] = None if value is None else value / budget
        out.append(
            SliSeries(
                labels=dict(key),
                sli=None if error is None else 1 - error,
                error_budget_remaining=None if error is None else 1 - error / budget,
                burn_rates=rates,
            )
        )
    return out
