"""MTTA, MTTR and open incidents on `/metrics`.

The histograms are observed when an incident is acknowledged or resolved; the gauge is
recounted from the database by the correlation worker, so it is right after a restart and
across API replicas.
"""

from __future__ import annotations

from prometheus_client import Gauge, Histogram
from sqlalchemy import func, select

from watchkeeper.db.tables import Incident
from watchkeeper.tenancy.scope import SessionFactory

_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400, 259200)

TIME_TO_ACKNOWLEDGE = Histogram(
    "watchkeeper_incident_time_to_acknowledge_seconds",
    "Time from an incident opening to its first acknowledgement (MTTA = sum / count)",
    ["severity"],
    buckets=_BUCKETS,
)
TIME_TO_RESOLVE = Histogram(
    "watchkeeper_incident_time_to_resolve_seconds",
    "Time from an incident opening to its resolution (MTTR = sum / count)",
    ["severity"],
    buckets=_BUCKETS,
)
OPEN_INCIDENTS = Gauge(
    "watchkeeper_incidents_open",
    "Incidents not yet resolved, by status and severity (all tenants)",
    ["status", "severity"],
)


def refresh_open_gauge(sessions: SessionFactory) -> dict[tuple[str, str], int]:
    with sessions.system("incident metrics: count open incidents") as db:
        rows = db.execute(
            select(Incident.status, Incident.severity, func.count())
            .where(Incident.status != "resolved")
            .group_by(Incident.status, Incident.severity)
        ).all()
    counts = {(status, severity): int(n) for status, severity, n in rows}
    OPEN_INCIDENTS.clear()
    for (status, severity), n in counts.items():
        OPEN_INCIDENTS.labels(status, severity).set(n)
    return counts
