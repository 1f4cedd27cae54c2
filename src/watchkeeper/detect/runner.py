"""The live detection loop: scores new samples of the selected series, writes the scores back
as series and records anomaly events with their explanations.

One pass, per tenant (`DetectionLoop.run_pass`):

1. read the tenant's model rows; a model whose row revision moved (training replaced it) is
   reloaded from its file;
2. for each configured selector, list the matching series active in the last `warmup_hours`
   and read each one's samples after its watermark (the newest point its detector learned; a
   new series starts `warmup_hours` back, so its model first learns from history), counters
   as rates (see `series_input`);
3. score them with the series' detector (restored from its saved state on first sight after
   a restart, else new from the registry), append `watchkeeper_anomaly_score{...,metric=...}`
   at the same timestamps, and record each event with `explain.explain` over the series'
   recent history;
4. every `checkpoint_interval_seconds`, save changed detectors' state and advance their rows'
   `last_sample_at`, so a restart resumes exactly where the saved state stops (samples after
   it are replayed from the store; their scores and events are deduplicated).

Batch-fitted detectors (Isolation Forest, LSTM, VAE, ensembles with one) are retrained from
stored history every RETRAIN_INTERVAL_HOURS; the default detector learns on every point.

Why one module of ~470 lines: each step of a pass reads and updates the same per-tenant live
models under the loop's lock, so the steps stay beside each other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import anyio
import numpy as np
import numpy.typing as npt
import structlog
from prometheus_client import Counter, Gauge

from watchkeeper.clock import Clock
from watchkeeper.config import DetectionSettings
from watchkeeper.db.tables import DetectionModel
from watchkeeper.detect import DETECTORS
from watchkeeper.detect.base import Detector, FloatArray
from watchkeeper.detect.ensemble import EnsembleDetector
from watchkeeper.detect.explain import explain
from watchkeeper.detect.isolation_forest import IsolationForestDetector
from watchkeeper.detect.persistence import ModelStore
from watchkeeper.detect.series_input import (
    OUTPUT_METRICS,
    DetectorInput,
    detector_input,
    score_labels,
    series_hash,
    series_text,
)
from watchkeeper.detect.service import (
    MODEL_FILES_LOCK,
    ModelFacts,
    NewAnomaly,
    current_models,
    record_anomalies,
    save_model_row,
)
from watchkeeper.detect.training import Trainer, batch_fitted
from watchkeeper.domain.series import (
    METRIC_NAME_LABEL,
    Labels,
    Matcher,
    MatchOp,
    SeriesSamples,
)
from watchkeeper.domain.times import utc
from watchkeeper.query.params import parse_selector
from watchkeeper.runtime.tenant_pass import each_tenant, enabled_tenants
from watchkeeper.runtime.worker import PeriodicWorker, Placement
from watchkeeper.store.base import CardinalityLimitError, MetricStore
from watchkeeper.tenancy.scope import SessionFactory

log = structlog.get_logger(__name__)

POINTS_SCORED = Counter("watchkeeper_detection_points", "Points scored by the detection loop")
EVENTS_RAISED = Counter("watchkeeper_detection_events", "Anomaly events raised by the loop")
POINTS_PER_SECOND = Gauge(
    "watchkeeper_detection_points_per_second", "Scoring throughput of the last detection pass"
)

CURRENT_MS = 600_000
"""A series whose watermark is this recent is read with the others in one select."""


@dataclass
class LiveModel:
    """One series' detector as the loop holds it between passes."""

    labels: Labels
    text: str
    hash: str
    detector: Detector
    watermark_ms: int
    """Timestamp of the newest point the detector has learned."""
    revision: int
    """Revision of the model row this state belongs to (0: no row yet)."""
    trained_at: float
    first_ms: int | None
    points: int = 0
    events: int = 0
    dirty: bool = False


@dataclass
class PassStats:
    """What one pass did; `points_per_second` is the loop's measured throughput."""

    tenants: int = 0
    series: int = 0
    points: int = 0
    events: int = 0
    seconds: float = 0.0
    scores_rejected: int = 0
    tenant_errors: list[str] = field(default_factory=list)

    @property
    def points_per_second(self) -> float:
        return self.points / self.seconds if self.seconds > 0 else 0.0


class DetectionLoop(PeriodicWorker):
    """The detection loop worker (see the module docstring). Tests call `run_pass` directly."""

    name = "detection"
    placement = Placement.RUN_ONCE

    def __init__(
        self,
        *,
        store: MetricStore,
        sessions: SessionFactory,
        models: ModelStore,
        trainer: Trainer,
        clock: Clock,
        settings: DetectionSettings,
        retrain_interval_hours: float,
    ) -> None:
        super().__init__(clock, settings.interval_seconds)
        self.store = store
        self.sessions = sessions
        self.models = models
        self.trainer = trainer
        self.settings = settings
        self.detector_name = settings.detector
        self.selectors: list[list[Matcher]] = [parse_selector(s) for s in settings.selectors]
        self.retrain_seconds = retrain_interval_hours * 3600.0
        self._live: dict[str, dict[str, LiveModel]] = {}
        self._last_checkpoint = clock.time()
        self._lock = threading.Lock()
        self.last_pass = PassStats()

    async def tick(self) -> None:
        await anyio.to_thread.run_sync(self.run_pass)

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            self.checkpoint()

    def tenants(self) -> list[str]:
        """The tenants this worker scores: all enabled ones (a lease would narrow this)."""
        return enabled_tenants(self.sessions, "detection loop: list tenants")

    def run_pass(self) -> PassStats:
        """Score every tenant's new points once; checkpoint when due."""
        with self._lock:
            started = time.perf_counter()  # throughput, not a comparison with "now"
            stats = PassStats()
            now_ms = round(self.clock.time() * 1000)
            tenant_ids = self.tenants()
            stats.tenant_errors += each_tenant(
                tenant_ids,
                lambda tenant_id: self._tenant_pass(tenant_id, now_ms, stats),
                log=log,
                event="detection_pass_failed",
            )
            stats.tenants += len(tenant_ids)
            stats.seconds = time.perf_counter() - started
            if (
                self.clock.time() - self._last_checkpoint
                >= self.settings.checkpoint_interval_seconds
            ):
                self._checkpoint_locked()
            self.last_pass = stats
            POINTS_PER_SECOND.set(stats.points_per_second)
            return stats

    def checkpoint(self) -> int:
        """Save every changed detector and its row now; returns how many were saved."""
        with self._lock:
            return self._checkpoint_locked()

    # -- one tenant -------------------------------------------------------------------------

    def _tenant_pass(self, tenant_id: str, now_ms: int, stats: PassStats) -> None:
        live = self._live.setdefault(tenant_id, {})
        with self.sessions.tenant(tenant_id) as db:
            rows = current_models(db)
        self._reload_replaced(tenant_id, live, rows)
        self._retrain_due(tenant_id, live)
        floor_ms = now_ms - round(self.settings.warmup_hours * 3_600_000)
        scores: list[SeriesSamples] = []
        anomalies: list[NewAnomaly] = []
        points_before = stats.points
        for model, samples in self._new_samples(tenant_id, live, rows, floor_ms, now_ms):
            points = detector_input(samples, after_ms=model.watermark_ms)
            if not len(points):
                continue
            values = self._score(model, points)
            scores.append(SeriesSamples(score_labels(model.labels), points.timestamps_ms, values))
            hits = np.flatnonzero(values >= model.detector.threshold)
            if len(hits):
                anomalies.extend(self._explain(tenant_id, model, points, values, hits))
            stats.series += 1
            stats.points += len(points)
        if scores:
            try:
                result = self.store.append(tenant_id, scores)
                stats.scores_rejected += result.out_of_order + len(result.errors)
            except CardinalityLimitError as exc:
                log.warning("anomaly_scores_not_written", tenant=tenant_id, reason=str(exc))
        if anomalies:
            with self.sessions.tenant(tenant_id) as db:
                stats.events += record_anomalies(db, anomalies, now=self.clock.now())
        POINTS_SCORED.inc(stats.points - points_before)
        EVENTS_RAISED.inc(len(anomalies))

    def _new_samples(
        self,
        tenant_id: str,
        live: dict[str, LiveModel],
        rows: dict[str, DetectionModel],
        floor_ms: int,
        now_ms: int,
    ) -> Iterator[tuple[LiveModel, SeriesSamples]]:
        """Each selected series with the samples from its watermark (inclusive) to now.

        Series scored recently are read together, from the oldest of their watermarks; the
        others (new, restored, or silent for a while) one by one from their own, so a late
        or backfilled sample is never skipped and a silent series never widens the shared read.
        """
        for matchers in self.selectors:
            listed = self.store.series(tenant_id, matchers, floor_ms, now_ms)
            models = [
                self._model_for(tenant_id, labels, live, rows, now_ms)
                for labels in listed
                if dict(labels).get(METRIC_NAME_LABEL) not in OUTPUT_METRICS
            ]
            current = {m.hash: m for m in models if m.watermark_ms >= now_ms - CURRENT_MS}
            if current:
                start_ms = max(floor_ms, min(m.watermark_ms for m in current.values()))
                for samples in self.store.select(tenant_id, matchers, start_ms, now_ms):
                    model = current.get(series_hash(series_text(samples.labels)))
                    if model is not None:
                        yield model, samples
            for model in models:
                if model.hash in current:
                    continue
                exact = [Matcher(name, MatchOp.EQUAL, value) for name, value in model.labels]
                start_ms = max(floor_ms, model.watermark_ms)
                for samples in self.store.select(tenant_id, exact, start_ms, now_ms):
                    if samples.labels == model.labels:
                        yield model, samples

    def _score(self, model: LiveModel, points: DetectorInput) -> FloatArray:
        values = model.detector.update_many(points.seconds, points.values)
        model.watermark_ms = int(points.timestamps_ms[-1])
        model.first_ms = (
            model.first_ms if model.first_ms is not None else int(points.timestamps_ms[0])
        )
        model.points += len(points)
        model.events += int(np.count_nonzero(values >= model.detector.threshold))
        model.dirty = True
        return values

    def _model_for(
        self,
        tenant_id: str,
        labels: Labels,
        live: dict[str, LiveModel],
        rows: dict[str, DetectionModel],
        now_ms: int,
    ) -> LiveModel:
        """The series' live model: held, restored from its saved state, or new."""
        text = series_text(labels)
        key = series_hash(text)
        model = live.get(key)
        if model is None:
            model = self._restore(tenant_id, labels, text, key, rows.get(key))
            if model is None:
                model = LiveModel(
                    labels=labels,
                    text=text,
                    hash=key,
                    detector=DETECTORS[self.detector_name](),
                    watermark_ms=-(2**62),
                    revision=rows[key].revision if key in rows else 0,
                    trained_at=now_ms / 1000,
                    first_ms=None,
                )
            live[key] = model
        return model

    def _restore(
        self, tenant_id: str, labels: Labels, text: str, key: str, row: DetectionModel | None
    ) -> LiveModel | None:
        if row is None:
            return None
        try:
            saved = self.models.load(tenant_id, text, row.detector)
        except Exception as exc:  # an unreadable file is relearned, not fatal
            log.warning("model_file_unreadable", series=text, error=str(exc))
            return None
        if saved is None:
            return None
        return LiveModel(
            labels=labels,
            text=text,
            hash=key,
            detector=saved.detector,
            watermark_ms=round(row.last_sample_at.timestamp() * 1000),
            revision=row.revision,
            trained_at=row.trained_at.timestamp(),
            first_ms=round(row.first_sample_at.timestamp() * 1000),
            points=row.points,
            events=row.events,
        )

    def _reload_replaced(
        self, tenant_id: str, live: dict[str, LiveModel], rows: dict[str, DetectionModel]
    ) -> None:
        for key, model in list(live.items()):
            row = rows.get(key)
            if row is not None and (
                row.revision != model.revision or row.detector != model.detector.name
            ):
                restored = self._restore(tenant_id, model.labels, model.text, key, row)
                if restored is not None:
                    live[key] = restored
                    log.info("model_reloaded", series=model.text, revision=row.revision)

    def _retrain_due(self, tenant_id: str, live: dict[str, LiveModel]) -> None:
        now = self.clock.time()
        for key, model in list(live.items()):
            if not batch_fitted(model.detector) or now - model.trained_at < self.retrain_seconds:
                continue
            matchers = [Matcher(name, MatchOp.EQUAL, value) for name, value in model.labels]
            for samples in self.trainer.history(tenant_id, matchers):
                if samples.labels != model.labels:
                    continue
                trained = self.trainer.train_series(tenant_id, samples, model.detector.name)
                if trained is not None:
                    live[key] = LiveModel(
                        labels=model.labels,
                        text=model.text,
                        hash=key,
                        detector=trained.detector,
                        watermark_ms=trained.last_ms,
                        revision=trained.revision,
                        trained_at=now,
                        first_ms=trained.first_ms,
                        points=trained.points,
                        events=trained.events,
                    )

    # -- events ---------------------------------------------------------------------------

    def _explain(
        self,
        tenant_id: str,
        model: LiveModel,
        points: DetectorInput,
        scores: FloatArray,
        hits: npt.NDArray[np.intp],
    ) -> list[NewAnomaly]:
        """Explain each event against the series' own history up to it."""
        first_ms = int(points.timestamps_ms[hits[0]])
        start_ms = first_ms - round(self.settings.explain_hours * 3_600_000)
        matchers = [Matcher(name, MatchOp.EQUAL, value) for name, value in model.labels]
        found = self.store.select(tenant_id, matchers, start_ms, int(points.timestamps_ms[-1]))
        history = next((s for s in found if s.labels == model.labels), None)
        past = detector_input(history) if history is not None else points
        names, total = _detector_names(model.detector)
        out: list[NewAnomaly] = []
        for i in hits:
            at_ms = int(points.timestamps_ms[i])
            upto = int(np.searchsorted(past.timestamps_ms, at_ms, side="right"))
            if upto == 0:
                continue
            agreeing = (
                model.detector.agreeing(int(i))
                if isinstance(model.detector, EnsembleDetector)
                else names
            )
            explanation = explain(
                model.text,
                past.seconds[:upto],
                past.values[:upto],
                float(scores[i]),
                agreeing,
                total,
                _attributions(model.detector, past.values[:upto]),
            )
            out.append(NewAnomaly(model.hash, dict(model.labels), model.detector.name, explanation))
        return out

    # -- persistence -------------------------------------------------------------------------

    def _checkpoint_locked(self) -> int:
        """One transaction per tenant: each changed model's row, then its file."""
        saved = 0
        now = self.clock.now()
        for tenant_id, live in self._live.items():
            dirty = [m for m in live.values() if m.dirty and m.first_ms is not None]
            if not dirty:
                continue
            revisions: list[tuple[LiveModel, int]] = []
            with MODEL_FILES_LOCK, self.sessions.tenant(tenant_id) as db:
                for model in dirty:
                    revision = save_model_row(
                        db,
                        _facts(model),
                        now=now,
                        expected_revision=model.revision,
                        retrained=False,
                    )
                    if revision is None:  # training replaced it; the next pass reloads
                        continue
                    self.models.save(tenant_id, model.text, model.detector)
                    revisions.append((model, revision))
            for model, revision in revisions:  # committed: the rows now describe the files
                model.revision = revision
                model.dirty = False
            saved += len(revisions)
        self._last_checkpoint = self.clock.time()
        return saved


def _facts(model: LiveModel) -> ModelFacts:
    assert model.first_ms is not None
    return ModelFacts(
        series_hash=model.hash,
        series=model.text,
        labels=dict(model.labels),
        detector=model.detector.name,
        trained_at=utc(model.trained_at),
        first_sample_at=utc(model.first_ms / 1000),
        last_sample_at=utc(model.watermark_ms / 1000),
        points=model.points,
        events=model.events,
    )


def _detector_names(detector: Detector) -> tuple[list[str], int]:
    if isinstance(detector, EnsembleDetector):
        return detector.member_names, len(detector.members)
    return [detector.name], 1


def _attributions(detector: Detector, values: FloatArray) -> dict[str, float]:
    """SHAP attributions when an Isolation Forest took part: which window positions made
    the point anomalous, shown with the anomaly (the other detectors have no attribution)."""
    members = detector.members if isinstance(detector, EnsembleDetector) else [detector]
    for member in members:
        if isinstance(member, IsolationForestDetector) and len(values) >= member.window:
            return member.attributions(values)
    return {}
