"""Incidents, their alerts and timeline, and what correlation and classification learn
(migration 0007)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from watchkeeper.db.tables.base import Base, TenantOwned, UtcDateTime, new_id


class Incident(TenantOwned, Base):
    """An incident: related alerts seen as one problem, from trigger to resolution.

    `number` is the tenant's human-facing sequence (#1, #2, ...). `correlation_key` is what
    the correlator matches new alerts on (shared label values, or the alertname);
    `category_source` is "model" or "operator" (an operator's choice is never overwritten).
    `notify_seq` counts the notifications queued, so each one's idempotency key is stable.
    A merged incident is resolved with `merged_into` naming the incident that absorbed it.
    """

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number", name="uq_incidents_number"),
        Index("ix_incidents_tenant_status", "tenant_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))  # triggered | acknowledged | resolved
    severity: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32), default="")
    category_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    category_source: Mapped[str] = mapped_column(String(16), default="model")
    assignee: Mapped[str | None] = mapped_column(String(32), nullable=True)
    correlation_key: Mapped[str] = mapped_column(String(500), default="")
    correlation_reason: Mapped[str] = mapped_column(Text, default="")
    merged_into: Mapped[str | None] = mapped_column(String(32), nullable=True)
    notify_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_alert_at: Mapped[datetime] = mapped_column(UtcDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class IncidentAlert(TenantOwned, Base):
    """An alert (by fingerprint) that belongs to an incident, and why it joined."""

    __tablename__ = "incident_alerts"
    __table_args__ = (
        UniqueConstraint("incident_id", "fingerprint", name="uq_incident_alerts_member"),
        Index("ix_incident_alerts_fingerprint", "tenant_id", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    fingerprint: Mapped[str] = mapped_column(String(16))
    group_name: Mapped[str] = mapped_column(String(200), default="")
    alertname: Mapped[str] = mapped_column(String(200))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    annotations: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16))  # firing | resolved
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    reason: Mapped[str] = mapped_column(Text)


class IncidentEvent(TenantOwned, Base):
    """One line of an incident's timeline: who (`actor`) did or saw what (`kind`), when."""

    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident", "tenant_id", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("incidents.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AlertnameFiring(TenantOwned, Base):
    """How often alerts of one alertname fired: the denominator of learned co-occurrence."""

    __tablename__ = "incident_alertname_firings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "alertname", name="uq_incident_alertname_firings_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alertname: Mapped[str] = mapped_column(String(200))
    fired: Mapped[int] = mapped_column(Integer, default=0)


class AlertnameCooccurrence(TenantOwned, Base):
    """Evidence that two alertnames (`name_a` < `name_b`) belong together: firings within the
    correlation window of each other, plus operators' merges, minus their splits."""

    __tablename__ = "incident_cooccurrence"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name_a", "name_b", name="uq_incident_cooccurrence_pair"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name_a: Mapped[str] = mapped_column(String(200))
    name_b: Mapped[str] = mapped_column(String(200))
    together: Mapped[float] = mapped_column(Float, default=0.0)


class CategoryCorrection(TenantOwned, Base):
    """An operator's category for an incident's text: training data for the tenant's model."""

    __tablename__ = "incident_category_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class CorrelationCursor(TenantOwned, Base):
    """The correlator's place in a tenant's alert transitions, and its in-flight memory:
    `pending` alerts waiting for `min_alerts`, `recent` firings for co-occurrence counting."""

    __tablename__ = "incident_correlation_cursors"
    __table_args__ = (UniqueConstraint("tenant_id", name="uq_incident_correlation_cursors_tenant"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    last_transition_id: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recent: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
