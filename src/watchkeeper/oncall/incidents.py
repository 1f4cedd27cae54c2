"""The seam between incidents and escalation: what the escalation timer needs to know.

`IncidentSource.open_incidents` lists a tenant's incidents that are not resolved;
`TableIncidents` reads them from the incidents tables (migration 0007), the production
source; unit tests of the timer may use their own small one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.db.tables import Incident, IncidentAlert
from watchkeeper.incidents.lifecycle import OPEN_STATUSES


@dataclass(frozen=True)
class IncidentView:
    id: str
    tenant_id: str
    status: str  # triggered | acknowledged | resolved
    severity: str
    created_at: datetime
    labels: Mapping[str, str] = field(default_factory=dict)
    acknowledged_at: datetime | None = None
    title: str = ""
    number: int | None = None


class IncidentSource(Protocol):
    def open_incidents(self, db: Session) -> Sequence[IncidentView]:
        """The tenant's (the session's) incidents that are triggered or acknowledged."""
        ...


def _common_labels(label_sets: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not label_sets:
        return {}
    common = dict(label_sets[0])
    for labels in label_sets[1:]:
        common = {k: v for k, v in common.items() if labels.get(k) == v}
    return common


class TableIncidents:
    """Open incidents from the `incidents` table; labels are what their alerts share.

    A merged incident is resolved by the merge, so it drops out here and its escalation
    ends; the incident that absorbed it carries on with its own.
    """

    def open_incidents(self, db: Session) -> list[IncidentView]:
        rows = db.scalars(
            select(Incident).where(Incident.status.in_(OPEN_STATUSES)).order_by(Incident.number)
        ).all()
        labels: dict[str, list[Mapping[str, str]]] = {}
        if rows:
            for incident_id, alert_labels in db.execute(
                select(IncidentAlert.incident_id, IncidentAlert.labels).where(
                    IncidentAlert.incident_id.in_([r.id for r in rows])
                )
            ):
                labels.setdefault(incident_id, []).append(alert_labels or {})
        return [
            IncidentView(
                id=row.id,
                tenant_id=row.tenant_id,
                status=row.status,
                severity=row.severity,
                created_at=row.created_at,
                labels=_common_labels(labels.get(row.id, [])),
                acknowledged_at=row.acknowledged_at,
                title=row.title,
                number=row.number,
            )
            for row in rows
        ]
