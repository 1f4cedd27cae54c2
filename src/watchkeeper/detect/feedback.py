"""Operators' verdicts on anomaly events: true or false positive, one per event.

Over tenant-scoped sessions like `service.py`: an event of another tenant is simply not
found. The verdicts are data for later (a detector's precision, learning from them); nothing
here changes detection.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.db.tables import AnomalyFeedback, AnomalyRecord
from watchkeeper.tenancy.service import NotFoundError

Label = Literal["true_positive", "false_positive"]


def _event(db: Session, anomaly_id: str) -> AnomalyRecord:
    row = db.scalar(select(AnomalyRecord).where(AnomalyRecord.id == anomaly_id))
    if row is None:
        raise NotFoundError(f"anomaly {anomaly_id!r} not found")
    return row


def set_feedback(
    db: Session, anomaly_id: str, label: Label, *, by: str, now: datetime
) -> AnomalyFeedback:
    """Record (or replace) the verdict on one event."""
    _event(db, anomaly_id)
    row = db.scalar(select(AnomalyFeedback).where(AnomalyFeedback.anomaly_id == anomaly_id))
    if row is None:
        row = AnomalyFeedback(anomaly_id=anomaly_id, label=label, by=by, at=now)
        db.add(row)
    else:
        row.label, row.by, row.at = label, by, now
    db.flush()
    return row


def clear_feedback(db: Session, anomaly_id: str) -> None:
    """Undo the verdict; 404 when the event has none (so a double undo says so)."""
    _event(db, anomaly_id)
    row = db.scalar(select(AnomalyFeedback).where(AnomalyFeedback.anomaly_id == anomaly_id))
    if row is None:
        raise NotFoundError(f"anomaly {anomaly_id!r} has no feedback")
    db.delete(row)
    db.flush()


def feedback_for(db: Session, anomaly_ids: Sequence[str]) -> dict[str, AnomalyFeedback]:
    """The verdicts on these events (a page of the list), by event id."""
    if not anomaly_ids:
        return {}
    rows = db.scalars(select(AnomalyFeedback).where(AnomalyFeedback.anomaly_id.in_(anomaly_ids)))
    return {r.anomaly_id: r for r in rows}
