"""What the detection loop and training record: anomaly events, operators' verdicts on them,
each series' saved model, training jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from watchkeeper.db.tables.base import Base, TenantOwned, UtcDateTime, new_id


class AnomalyRecord(TenantOwned, Base):
    """A point the detection loop judged anomalous, with its explanation as data and words.

    `series_hash` (SHA-256 of the canonical series text) plus `at` is unique, so replaying
    samples after a crash does not record an event twice.
    """

    __tablename__ = "anomaly_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "series_hash", "at", name="uq_anomaly_events_series_at"),
        Index("ix_anomaly_events_tenant_at", "tenant_id", "at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    series_hash: Mapped[str] = mapped_column(String(64))
    series: Mapped[str] = mapped_column(Text)
    metric: Mapped[str] = mapped_column(String(200), index=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    detector: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    pattern: Mapped[str] = mapped_column(String(32))
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    sentence: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AnomalyFeedback(TenantOwned, Base):
    """An operator's verdict on one anomaly event (migration 0016): true or false positive.

    One verdict per event (a new one replaces it); it goes with the event when retention
    removes that. Kept as data so detectors can later learn from it (precision per model).
    """

    __tablename__ = "anomaly_feedback"

    anomaly_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("anomaly_events.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class DetectionModel(TenantOwned, Base):
    """One series' detector as the loop and training know it: where its saved state stands.

    `revision` grows each time training replaces the model, so the loop reloads it;
    `last_sample_at` is the newest sample inside the saved state (where scoring resumes).
    """

    __tablename__ = "detection_models"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "series_hash", "detector", name="uq_detection_models_series_detector"
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    series_hash: Mapped[str] = mapped_column(String(64))
    series: Mapped[str] = mapped_column(Text)
    metric: Mapped[str] = mapped_column(String(200))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    detector: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    trained_at: Mapped[datetime] = mapped_column(UtcDateTime())
    first_sample_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_sample_at: Mapped[datetime] = mapped_column(UtcDateTime())
    points: Mapped[int] = mapped_column(Integer, default=0)
    events: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TrainingJob(TenantOwned, Base):
    """A request to (re)train the detectors of the series a selector matches."""

    __tablename__ = "training_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    selector: Mapped[str] = mapped_column(Text)
    detector: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # queued | running | succeeded | failed
    series_total: Mapped[int] = mapped_column(Integer, default=0)
    series_trained: Mapped[int] = mapped_column(Integer, default=0)
    points: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
