"""Training detectors on stored history: `POST /ai/train` jobs and the loop's retraining.

Training builds a fresh detector, feeds it the series' stored history (the last
`detection.training_hours`, counters as rates), saves its state under the models path and
bumps the model row's revision; the detection loop sees the new revision on its next pass,
loads the file and resumes scoring after the newest trained point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import structlog

from watchkeeper.clock import Clock
from watchkeeper.db.tables import TrainingJob
from watchkeeper.detect import DETECTORS
from watchkeeper.detect.base import Detector
from watchkeeper.detect.ensemble import EnsembleDetector
from watchkeeper.detect.persistence import ModelStore
from watchkeeper.detect.series_input import (
    OUTPUT_METRICS,
    DetectorInput,
    detector_input,
    series_hash,
    series_text,
)
from watchkeeper.detect.service import (
    MODEL_FILES_LOCK,
    ModelFacts,
    create_training_job,
    save_model_row,
    update_training_job,
)
from watchkeeper.detect.windowed import WindowedDetector
from watchkeeper.domain.series import Matcher, SeriesSamples
from watchkeeper.domain.times import utc
from watchkeeper.store.base import MetricStore
from watchkeeper.tenancy.scope import SessionFactory

log = structlog.get_logger(__name__)


def batch_fitted(detector: Detector) -> bool:
    """Whether the detector fits a model on a batch of history (and so gains from retraining);
    the default detector learns on every point and is never retrained wholesale."""
    if isinstance(detector, EnsembleDetector):
        return any(batch_fitted(m) for m in detector.members)
    return isinstance(detector, WindowedDetector)


@dataclass(frozen=True, slots=True)
class TrainedSeries:
    """A detector fitted on one series' history, and what it saw."""

    labels: dict[str, str]
    text: str
    hash: str
    detector: Detector
    first_ms: int
    last_ms: int
    points: int
    events: int
    revision: int


def fit_on_history(detector_name: str, points: DetectorInput) -> tuple[Detector, int]:
    """A fresh detector fed every point; returns it and how many events it raised."""
    detector = DETECTORS[detector_name]()
    scores = detector.update_many(points.seconds, points.values)
    return detector, int(np.count_nonzero(scores >= detector.threshold))


class Trainer:
    """Fits detectors on stored history and saves them where the detection loop finds them."""

    def __init__(
        self,
        store: MetricStore,
        sessions: SessionFactory,
        models: ModelStore,
        clock: Clock,
        history_hours: float,
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.models = models
        self.clock = clock
        self.history_hours = history_hours

    def history(self, tenant_id: str, matchers: Sequence[Matcher]) -> list[SeriesSamples]:
        """The stored history of every matching series (not the loop's own output)."""
        now_ms = round(self.clock.time() * 1000)
        start_ms = now_ms - round(self.history_hours * 3_600_000)
        found = self.store.select(tenant_id, matchers, start_ms, now_ms)
        return [s for s in found if s.metric_name not in OUTPUT_METRICS]

    def train_series(
        self, tenant_id: str, samples: SeriesSamples, detector_name: str
    ) -> TrainedSeries | None:
        """Fit, save the state file and bump the row's revision; None without any point."""
        points = detector_input(samples)
        if not len(points):
            return None
        detector, events = fit_on_history(detector_name, points)
        text = series_text(samples.labels)
        trained = TrainedSeries(
            labels=samples.label_dict(),
            text=text,
            hash=series_hash(text),
            detector=detector,
            first_ms=int(points.timestamps_ms[0]),
            last_ms=int(points.timestamps_ms[-1]),
            points=len(points),
            events=events,
            revision=0,
        )
        facts = ModelFacts(
            series_hash=trained.hash,
            series=text,
            labels=trained.labels,
            detector=detector.name,
            trained_at=self.clock.now(),
            first_sample_at=utc(trained.first_ms / 1000),
            last_sample_at=utc(trained.last_ms / 1000),
            points=trained.points,
            events=events,
        )
        with MODEL_FILES_LOCK, self.sessions.tenant(tenant_id) as db:
            self.models.save(tenant_id, text, detector)
            revision = save_model_row(
                db, facts, now=self.clock.now(), expected_revision=None, retrained=True
            )
        assert revision is not None  # a retrained row always takes the new model
        return replace(trained, revision=revision)

    def submit(
        self, tenant_id: str, *, selector: str, detector: str, created_by: str | None
    ) -> TrainingJob:
        """Record a queued job, committed before it is handed to a background thread."""
        with self.sessions.tenant(tenant_id) as db:
            return create_training_job(
                db,
                selector=selector,
                detector=detector,
                created_by=created_by,
                now=self.clock.now(),
            )

    def run_job(self, tenant_id: str, job_id: str, matchers: Sequence[Matcher]) -> None:
        """Run a queued training job to the end, recording progress and the outcome."""
        with self.sessions.tenant(tenant_id) as db:
            job = update_training_job(db, job_id, status="running", started_at=self.clock.now())
            detector_name = job.detector
        trained = points = 0
        try:
            series = self.history(tenant_id, matchers)
            with self.sessions.tenant(tenant_id) as db:
                update_training_job(db, job_id, series_total=len(series))
            for samples in series:
                result = self.train_series(tenant_id, samples, detector_name)
                if result is not None:
                    trained += 1
                    points += result.points
                with self.sessions.tenant(tenant_id) as db:
                    update_training_job(db, job_id, series_trained=trained, points=points)
        except Exception as exc:
            log.error("training_job_failed", job=job_id, tenant=tenant_id, exc_info=exc)
            with self.sessions.tenant(tenant_id) as db:
                update_training_job(
                    db,
                    job_id,
                    status="failed",
                    error=f"{type(exc).__name__}: {exc}",
                    finished_at=self.clock.now(),
                )
            return
        with self.sessions.tenant(tenant_id) as db:
            update_training_job(db, job_id, status="succeeded", finished_at=self.clock.now())
