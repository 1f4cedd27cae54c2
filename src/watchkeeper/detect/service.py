"""Anomaly events, detection models and training jobs, over tenant-scoped sessions.

Every function takes a session already bound to one tenant (`SessionFactory.tenant`), so none
of them filters on a tenant itself. The routers in `api/routers/ai.py`, the detection loop
(`runner.py`), training (`training.py`) and anomaly rules (`alert/candidates.py`) are their
only callers.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from watchkeeper.db.tables import AnomalyRecord, DetectionModel, TrainingJob
from watchkeeper.detect.explain import Explanation
from watchkeeper.domain.series import METRIC_NAME_LABEL, Matcher, MatchOp
from watchkeeper.domain.times import utc
from watchkeeper.events import publish
from watchkeeper.tenancy.scope import tenant_of
from watchkeeper.tenancy.service import NotFoundError

MODEL_FILES_LOCK = threading.Lock()
"""Held while a model file and its row change together, so the loop's checkpoint and a
training job never interleave (one process; separate roles would take a lease instead)."""

JOB_STATUSES = ("queued", "running", "succeeded", "failed")


# -- anomaly events ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewAnomaly:
    """An event found by the loop, about to be recorded."""

    series_hash: str
    labels: dict[str, str]
    detector: str
    explanation: Explanation


def explanation_data(e: Explanation) -> dict[str, Any]:
    """The explanation as JSON-safe data (non-finite numbers become None)."""

    def num(v: float) -> float | None:
        return float(v) if math.isfinite(v) else None

    return {
        "series": e.series,
        "observed": num(e.observed),
        "expected": num(e.expected),
        "band": num(e.band),
        "deviation_sigma": num(e.deviation_sigma),
        "pattern": e.pattern.value,
        "started_at": utc(e.started_at).isoformat(),
        "context": e.context,
        "detectors_agreeing": list(e.detectors_agreeing),
        "detectors_total": e.detectors_total,
        "score": num(e.score),
        "attributions": {k: num(v) for k, v in e.attributions.items()},
        "unit": e.unit,
    }


def record_anomalies(db: Session, anomalies: Sequence[NewAnomaly], *, now: datetime) -> int:
    """Insert the events not recorded yet (a replay after a crash finds the same ones)."""
    if not anomalies:
        return 0
    hashes = {a.series_hash for a in anomalies}
    times = [utc(a.explanation.timestamp) for a in anomalies]
    recorded = db.execute(
        select(AnomalyRecord.series_hash, AnomalyRecord.at).where(
            AnomalyRecord.series_hash.in_(hashes),
            AnomalyRecord.at >= min(times),
            AnomalyRecord.at <= max(times),
        )
    )
    known = {(series, at) for series, at in recorded}
    added = 0
    rows: list[AnomalyRecord] = []
    for anomaly, at in zip(anomalies, times, strict=True):
        if (anomaly.series_hash, at) in known:
            continue
        known.add((anomaly.series_hash, at))
        e = anomaly.explanation
        rows.append(
            AnomalyRecord(
                series_hash=anomaly.series_hash,
                series=e.series,
                metric=anomaly.labels.get(METRIC_NAME_LABEL, ""),
                labels=anomaly.labels,
                at=at,
                detector=anomaly.detector,
                score=float(e.score),
                pattern=e.pattern.value,
                explanation=explanation_data(e),
                sentence=e.sentence(),
                created_at=now,
            )
        )
        db.add(rows[-1])
        added += 1
    db.flush()
    _publish_anomalies(db, rows, now)
    return added


def _publish_anomalies(db: Session, rows: Sequence[AnomalyRecord], now: datetime) -> None:
    """`anomaly` events for /ws/notifications, committed with the rows (events/bus.py)."""
    tenant_id = tenant_of(db)
    for row in rows:
        publish(
            db,
            tenant_id or row.tenant_id,
            "anomaly",
            {
                "id": row.id,
                "metric": row.metric,
                "labels": dict(row.labels),
                "at": row.at.isoformat(),
                "detector": row.detector,
                "score": row.score,
                "pattern": row.pattern,
                "sentence": row.sentence,
            },
            now=now,
        )


@dataclass(frozen=True, slots=True)
class AnomalyPage:
    items: list[AnomalyRecord]
    next_cursor: str | None


def encode_cursor(record: AnomalyRecord) -> str:
    raw = json.dumps([record.at.isoformat(), record.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ValueError (answered 422) for a cursor this API did not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, record_id = json.loads(raw)
        return datetime.fromisoformat(at).astimezone(UTC), str(record_id)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError("invalid cursor: pass the next_cursor of a previous page") from exc


def list_anomalies(
    db: Session,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    matchers: Sequence[Matcher] = (),
    min_score: float | None = None,
    pattern: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> AnomalyPage:
    """Newest first. Time, score, pattern and metric name filter in SQL; the remaining label
    matchers on the stored labels, reading further pages until `limit` events match."""
    query = select(AnomalyRecord)
    if start is not None:
        query = query.where(AnomalyRecord.at >= start)
    if end is not None:
        query = query.where(AnomalyRecord.at <= end)
    if min_score is not None:
        query = query.where(AnomalyRecord.score >= min_score)
    if pattern is not None:
        query = query.where(AnomalyRecord.pattern == pattern)
    for m in matchers:
        if m.name == METRIC_NAME_LABEL and m.op is MatchOp.EQUAL:
            query = query.where(AnomalyRecord.metric == m.value)
    after = decode_cursor(cursor) if cursor else None
    found: list[AnomalyRecord] = []
    batch = max(limit + 1, 200)
    while len(found) <= limit:
        page = query
        if after is not None:
            at, record_id = after
            page = page.where(
                or_(
                    AnomalyRecord.at < at,
                    and_(AnomalyRecord.at == at, AnomalyRecord.id < record_id),
                )
            )
        rows = list(
            db.scalars(page.order_by(AnomalyRecord.at.desc(), AnomalyRecord.id.desc()).limit(batch))
        )
        for row in rows:
            if all(m.matches(row.labels.get(m.name, "")) for m in matchers):
                found.append(row)
        if len(rows) < batch:
            break
        after = (rows[-1].at, rows[-1].id)
    items = found[:limit]
    next_cursor = encode_cursor(items[-1]) if len(found) > limit else None
    return AnomalyPage(items, next_cursor)


def latest_anomaly(db: Session, series_hash: str) -> AnomalyRecord | None:
    """The newest event recorded for one series: anomaly rules attach its explanation."""
    return db.scalar(
        select(AnomalyRecord)
        .where(AnomalyRecord.series_hash == series_hash)
        .order_by(AnomalyRecord.at.desc())
        .limit(1)
    )


# -- models --------------------------------------------------------------------------------


def current_models(db: Session) -> dict[str, DetectionModel]:
    """Per series hash, the model the loop should use: the most recently trained one (a
    series trained with another detector than the configured one keeps that detector)."""
    current: dict[str, DetectionModel] = {}
    for row in db.scalars(select(DetectionModel)):
        held = current.get(row.series_hash)
        if held is None or (row.trained_at, row.updated_at) > (held.trained_at, held.updated_at):
            current[row.series_hash] = row
    return current


def list_models(db: Session) -> list[DetectionModel]:
    return list(db.scalars(select(DetectionModel).order_by(DetectionModel.series)))


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What a model row records about one detector's state file."""

    series_hash: str
    series: str
    labels: dict[str, str]
    detector: str
    trained_at: datetime
    first_sample_at: datetime
    last_sample_at: datetime
    points: int
    events: int


def save_model_row(
    db: Session, facts: ModelFacts, *, now: datetime, expected_revision: int | None, retrained: bool
) -> int | None:
    """Create or update the row; returns its new revision, or None when the row has moved on
    since `expected_revision` (training replaced the model: the caller must not overwrite it).

    `retrained` bumps the revision so the loop reloads the model file.
    """
    row = db.scalar(
        select(DetectionModel).where(
            DetectionModel.series_hash == facts.series_hash,
            DetectionModel.detector == facts.detector,
        )
    )
    if row is None:
        row = DetectionModel(
            series_hash=facts.series_hash,
            series=facts.series,
            metric=facts.labels.get(METRIC_NAME_LABEL, ""),
            labels=facts.labels,
            detector=facts.detector,
            revision=0,
        )
        db.add(row)
    elif not retrained and row.revision != expected_revision:
        return None
    if retrained or row.revision == 0:
        row.revision += 1
    row.trained_at = facts.trained_at
    row.first_sample_at = facts.first_sample_at
    row.last_sample_at = facts.last_sample_at
    row.points = facts.points
    row.events = facts.events
    row.updated_at = now
    db.flush()
    return row.revision


def alerts_per_1000(row: DetectionModel) -> float | None:
    """The quality figure of a model: events per 1,000 points it scored on its own history.

    Without labels no accuracy exists; what an operator can judge is how often a model fires
    on the series it learned. A calibrated model on a healthy series stays near 1 or below.
    """
    return round(1000.0 * row.events / row.points, 3) if row.points else None


# -- training jobs -------------------------------------------------------------------------


def create_training_job(
    db: Session, *, selector: str, detector: str, created_by: str | None, now: datetime
) -> TrainingJob:
    job = TrainingJob(
        selector=selector,
        detector=detector,
        status="queued",
        series_total=0,
        series_trained=0,
        points=0,
        created_by=created_by,
        created_at=now,
    )
    db.add(job)
    db.flush()
    return job


def get_training_job(db: Session, job_id: str) -> TrainingJob:
    """The job, if it is one of this tenant's (another tenant's job is simply not found)."""
    job = db.scalar(select(TrainingJob).where(TrainingJob.id == job_id))
    if job is None:
        raise NotFoundError(f"training job {job_id!r} not found")
    return job


def update_training_job(
    db: Session,
    job_id: str,
    *,
    status: str | None = None,
    series_total: int | None = None,
    series_trained: int | None = None,
    points: int | None = None,
    error: str | None = None,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
) -> TrainingJob:
    """Record a job's progress; only the given fields change."""
    job = get_training_job(db, job_id)
    if status is not None:
        if status not in JOB_STATUSES:
            raise ValueError(f"unknown job status {status!r}")
        job.status = status
    if series_total is not None:
        job.series_total = series_total
    if series_trained is not None:
        job.series_trained = series_trained
    if points is not None:
        job.points = points
    if error is not None:
        job.error = error
    if started_at is not None:
        job.started_at = started_at
    if finished_at is not None:
        job.finished_at = finished_at
    db.flush()
    return job
