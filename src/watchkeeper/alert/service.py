"""Rule groups and alerts as the API and the CLI use them; every function takes a tenant session.

Groups come from two places: the API (`source="api"`, editable) and the `rule_files`
(`source="file"`, synchronised at start by `sync_file_groups`, read-only over the API so
the files stay the truth).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.alert.rule_files import FileGroup
from watchkeeper.alert.rules import (
    CompiledGroup,
    RuleProblem,
    RuleValidationError,
    compile_group,
    group_spec,
)
from watchkeeper.alert.state import (
    ACTIVE_STATES,
    find_alert,
    history,
    list_alerts,
    retire_group_alerts,
)
from watchkeeper.db.tables import AlertInstance, AlertRuleGroup, AlertTransition
from watchkeeper.domain.series import Matcher
from watchkeeper.tenancy.scope import SessionFactory
from watchkeeper.tenancy.service import ConflictError, NotFoundError, TenantDirectory

log = structlog.get_logger(__name__)


def validate_group(data: Any, *, name: str, default_interval: float) -> CompiledGroup:
    """A group body from the API: valid, named as in the path, without a `tenant` key."""
    if isinstance(data, dict) and "groups" in data:
        groups = data["groups"]
        if not isinstance(groups, list) or len(groups) != 1:
            raise RuleValidationError(
                [RuleProblem("groups", "send one group (or its `groups:` list of exactly one)")]
            )
        data = groups[0]
    if isinstance(data, dict):
        data = {"name": name, **data}
    spec = group_spec(data)
    if spec.name != name:
        raise RuleValidationError(
            [RuleProblem("name", f"{spec.name!r} differs from the group name in the path")]
        )
    if spec.tenant is not None:
        raise RuleValidationError(
            [RuleProblem("tenant", "the tenant of an API group is the caller's; remove the key")]
        )
    return compile_group(spec, default_interval=default_interval)


def _find(db: Session, name: str) -> AlertRuleGroup | None:
    return db.scalar(select(AlertRuleGroup).where(AlertRuleGroup.name == name))


def get_group(db: Session, name: str) -> AlertRuleGroup:
    row = _find(db, name)
    if row is None:
        raise NotFoundError(f"rule group {name!r} not found")
    return row


def list_groups(db: Session) -> list[AlertRuleGroup]:
    return list(db.scalars(select(AlertRuleGroup).order_by(AlertRuleGroup.name)))


def _writable(row: AlertRuleGroup) -> None:
    if row.source == "file":
        raise ConflictError(
            f"rule group {row.name!r} is loaded from {row.file}; change the file instead"
        )


def save_group(
    db: Session, group: CompiledGroup, *, now: datetime, create: bool
) -> tuple[AlertRuleGroup, bool]:
    """Create (POST: 409 if it exists) or create-or-replace (PUT); returns (row, created)."""
    row = _find(db, group.name)
    if row is not None:
        if create:
            raise ConflictError(f"rule group {group.name!r} already exists")
        _writable(row)
        row.spec = group.spec.to_file_form()
        row.interval_seconds = group.interval_seconds
        row.revision += 1
        row.updated_at = now
        return row, False
    row = AlertRuleGroup(
        name=group.name,
        source="api",
        file="",
        interval_seconds=group.interval_seconds,
        spec=group.spec.to_file_form(),
        revision=1,
        created_at=now,
        updated_at=now,
        evaluation_seconds=0.0,
        rule_health={},
    )
    db.add(row)
    db.flush()
    return row, True


def delete_group(db: Session, name: str, *, now: datetime, from_file: bool = False) -> int:
    """Delete a group; its firing alerts are resolved (and notified). Returns that count."""
    row = get_group(db, name)
    if not from_file:
        _writable(row)
    queued = retire_group_alerts(db, name, now.timestamp())
    db.delete(row)
    return queued


def compile_row(row: AlertRuleGroup, default_interval: float) -> CompiledGroup:
    """The stored group compiled for evaluation (it was valid when stored)."""
    return compile_group(group_spec(row.spec), default_interval=default_interval)


@dataclass(frozen=True)
class SyncReport:
    saved: int
    removed: int
    skipped: list[str]


def sync_file_groups(
    sessions: SessionFactory, tenants: TenantDirectory, groups: Sequence[FileGroup], now: datetime
) -> SyncReport:
    """Make the database's file groups what the rule files say (add, replace, remove)."""
    saved, skipped = 0, []
    wanted: dict[str, set[str]] = {}
    for item in groups:
        try:
            tenant_id = tenants.id_of(item.tenant)
        except NotFoundError:
            skipped.append(f"{item.file}: group {item.group.name}: no tenant {item.tenant!r}")
            continue
        with sessions.tenant(tenant_id) as db:
            row = _find(db, item.group.name)
            if row is not None and row.source != "file":
                skipped.append(
                    f"{item.file}: group {item.group.name}: the API already created this group"
                )
                continue
            spec = item.group.spec.to_file_form()
            if row is None:
                db.add(
                    AlertRuleGroup(
                        name=item.group.name,
                        source="file",
                        file=item.file,
                        interval_seconds=item.group.interval_seconds,
                        spec=spec,
                        revision=1,
                        created_at=now,
                        updated_at=now,
                        evaluation_seconds=0.0,
                        rule_health={},
                    )
                )
            elif row.spec != spec or row.file != item.file:
                row.spec, row.file, row.revision = spec, item.file, row.revision + 1
                row.interval_seconds, row.updated_at = item.group.interval_seconds, now
        wanted.setdefault(tenant_id, set()).add(item.group.name)
        saved += 1
    removed = 0
    with sessions.system("rule files: list file groups") as db:
        stale = [
            (row.tenant_id, row.name)
            for row in db.scalars(select(AlertRuleGroup).where(AlertRuleGroup.source == "file"))
            if row.name not in wanted.get(row.tenant_id, set())
        ]
    for tenant_id, name in stale:
        with sessions.tenant(tenant_id) as db:
            delete_group(db, name, now=now, from_file=True)
        removed += 1
    for problem in skipped:
        log.error("rule_group_skipped", problem=problem)
    return SyncReport(saved, removed, skipped)


def select_alerts(
    db: Session, *, states: Sequence[str] = ACTIVE_STATES, matchers: Sequence[Matcher] = ()
) -> list[AlertInstance]:
    """Alerts in these states whose labels match every matcher."""
    return [
        row
        for row in list_alerts(db, states=states)
        if all(m.matches(row.labels.get(m.name, "")) for m in matchers)
    ]


def alert_with_history(
    db: Session, fingerprint: str
) -> tuple[AlertInstance, list[AlertTransition]]:
    row = find_alert(db, fingerprint)
    if row is None:
        raise NotFoundError(f"alert {fingerprint!r} not found")
    return row, history(db, row)
