"""Scraping Prometheus text-format targets, with Prometheus' `up`, report series and staleness.

One `ScrapeLoop` per target scrapes every `interval` seconds of the injected clock, starting at
a stable per-target offset inside the interval (as Prometheus spreads its targets). Each scrape
attaches the target labels `job`, `instance` and the job's extra labels with honor_labels=false
semantics: a scraped label that conflicts with a target label is kept as `exported_<name>`.
Samples without a timestamp get the scrape's start time. After each scrape the loop writes
`up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
`scrape_samples_post_metric_relabeling` and `scrape_series_added`. A series that disappears
from the target gets a staleness marker; a failed scrape (connection error, timeout, non-200,
malformed body, refused batch) writes `up` 0 and marks every series of the target stale, and
stopping a loop marks everything it wrote stale, report series included.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import numpy as np

from watchkeeper import __version__
from watchkeeper.clock import Clock
from watchkeeper.config import MetricsSettings, ScrapeTarget
from watchkeeper.domain.series import (
    LABEL_NAME_RE,
    METRIC_NAME_LABEL,
    Labels,
    SeriesSamples,
    labels_from_dict,
)
from watchkeeper.ingest.exposition import ExposedSample, ExpositionError, parse_exposition
from watchkeeper.ingest.metadata import MetadataSink
from watchkeeper.ingest.outcome import RejectedBatch
from watchkeeper.ingest.sink import Sink, deliver
from watchkeeper.ingest.staleness import StalenessTracker, stale_markers
from watchkeeper.ingest.validation import BatchValidator, IngestLimits
from watchkeeper.runtime.worker import Placement
from watchkeeper.store.base import CardinalityLimitError

log = logging.getLogger(__name__)

ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"
REPORT_SERIES = (
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
)


@dataclass(frozen=True)
class ScrapeJob:
    """A scrape job: like a Prometheus `scrape_configs` entry with static targets."""

    job_name: str
    targets: tuple[str, ...]
    interval: float
    timeout: float = 10.0
    metrics_path: str = "/metrics"
    scheme: str = "http"
    bearer_token: str | None = None
    basic_auth: tuple[str, str] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    tenant: str = "default"
    max_body_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        bad = [k for k in self.labels if not LABEL_NAME_RE.match(k) or k.startswith("__")]
        if bad:
            raise ValueError(f"job {self.job_name!r}: invalid target label names {bad}")

    @classmethod
    def from_settings(cls, target: ScrapeTarget, default_interval: float) -> ScrapeJob:
        """A job from `metrics.scrape_configs[i]`; the interval defaults to collection_interval."""
        interval = target.scrape_interval or default_interval
        token = target.bearer_token.get_secret_value() if target.bearer_token else None
        return cls(
            job_name=target.job_name,
            targets=tuple(target.targets),
            interval=interval,
            timeout=min(target.scrape_timeout, interval),
            metrics_path=target.metrics_path,
            scheme=target.scheme,
            bearer_token=token,
            labels=dict(target.labels),
            tenant=target.tenant,
        )

    def target_labels(self, target: str) -> dict[str, str]:
        """The labels Prometheus gives a target: job, instance (its address) and extra labels."""
        return {"job": self.job_name, "instance": target, **self.labels}


@dataclass(frozen=True)
class ScrapeReport:
    """What one scrape did; `error` is None when the target was up."""

    target: str
    timestamp_ms: int
    up: bool
    duration_seconds: float
    samples_scraped: int
    series_added: int
    stale_markers: int
    duplicates_dropped: int = 0
    error: str | None = None


class ScrapeFailedError(Exception):
    """The target could not be scraped; the message is what `ScrapeReport.error` shows."""


def attach_target_labels(scraped: dict[str, str], target: dict[str, str]) -> dict[str, str]:
    """Prometheus' honor_labels=false: target labels win, clashing ones become exported_<name>."""
    labels = dict(scraped)
    for name, value in target.items():
        exposed = labels.get(name, "")
        if exposed != "":
            exported = "exported_" + name
            while labels.get(exported, "") != "":
                exported = "exported_" + exported
            labels[exported] = exposed
        labels[name] = value
    return labels


class ScrapeLoop:
    """Scrapes one target of one job forever; `scrape_once` is one round, for tests and tools."""

    def __init__(
        self,
        job: ScrapeJob,
        target: str,
        sink: Sink,
        clock: Clock,
        validator: BatchValidator | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.job = job
        self.target = target
        self.url = f"{job.scheme}://{target}{job.metrics_path}"
        self.sink = sink
        self.clock = clock
        self.validator = validator or BatchValidator()
        self.client = client
        self.last_report: ScrapeReport | None = None
        self._target_labels = job.target_labels(target)
        self._tracker = StalenessTracker()
        self._reported = False
        self.metadata: MetadataSink | None = None
        self._families: tuple[dict[str, str], dict[str, str]] = ({}, {})

    def offset(self) -> float:
        """A stable delay inside the interval, so targets do not all scrape at once."""
        key = f"{self.job.job_name}/{self.url}".encode()
        return (zlib.crc32(key) / 2**32) * self.job.interval

    async def run(self) -> None:
        """Scrape at the interval until cancelled; then mark everything written stale."""
        try:
            await self.clock.sleep(self.offset())
            next_at = self.clock.time()
            while True:
                await self.scrape_once()
                next_at += self.job.interval
                now = self.clock.time()
                next_at = max(next_at, now)  # after an overrun, skip missed ticks, do not burst
                await self.clock.sleep(next_at - now)
        finally:
            await self.end()

    async def end(self) -> None:
        """Staleness markers for every series this loop wrote (the target went away)."""
        ts_ms = int(self.clock.time() * 1000)
        markers = self._tracker.end_all(ts_ms)
        if self._reported:
            markers += stale_markers(self._report_labels(), ts_ms)
            self._reported = False
        if markers:
            try:
                await deliver(self.sink, self.job.tenant, markers)
            except Exception:
                log.exception("could not write staleness markers for %s", self.url)

    async def scrape_once(self) -> ScrapeReport:
        """Scrape, write samples, markers and report series in one batch; return the report."""
        started = self.clock.time()
        ts_ms = int(started * 1000)
        previous = self._tracker.live
        try:
            body = await self._fetch()
            batch, current, scraped, duplicates = self._samples(body, ts_ms)
            outcome = self.validator.validate(batch, ts_ms)
            if isinstance(outcome, RejectedBatch):
                first = outcome.rejections[0]
                raise ScrapeFailedError(
                    f"{outcome.rejected_samples} samples invalid: {first.message}"
                )
            batch = outcome.series
        except (httpx.HTTPError, ScrapeFailedError, TimeoutError, ExpositionError) as exc:
            return await self._fail(started, ts_ms, _describe(exc))
        markers = stale_markers(previous - current, ts_ms)
        added = len(current - previous)
        report = ScrapeReport(
            self.target, ts_ms, True, self.clock.time() - started, scraped, added, len(markers),
            duplicates,
        )  # fmt: skip
        try:
            await deliver(self.sink, self.job.tenant, batch + markers + self._report(report))
        except CardinalityLimitError as exc:  # nothing written: the previous series are live
            return await self._fail(started, ts_ms, f"samples refused: {exc}")
        self._tracker.replace(current)
        if self.metadata is not None:
            self.metadata(self.job.tenant, *self._families)
        self._reported = True
        self.last_report = report
        return report

    async def _fail(self, started: float, ts_ms: int, error: str) -> ScrapeReport:
        markers = self._tracker.end_all(ts_ms)
        report = ScrapeReport(
            self.target, ts_ms, False, self.clock.time() - started, 0, 0, len(markers), 0, error
        )
        try:
            await deliver(self.sink, self.job.tenant, markers + self._report(report))
            self._reported = True
        except CardinalityLimitError as exc:
            log.warning("scrape report for %s refused: %s", self.url, exc)
        self.last_report = report
        log.info("scrape of %s failed: %s", self.url, error)
        return report

    async def _fetch(self) -> str:
        if self.client is None:
            raise RuntimeError("ScrapeLoop needs an httpx.AsyncClient (ScrapeWorker.run sets one)")
        job = self.job
        headers = {
            "Accept": ACCEPT,
            "User-Agent": f"Watchkeeper/{__version__}",
            "X-Prometheus-Scrape-Timeout-Seconds": f"{job.timeout:g}",
        }
        if job.bearer_token:
            headers["Authorization"] = f"Bearer {job.bearer_token}"
        auth = httpx.BasicAuth(*job.basic_auth) if job.basic_auth else None
        async with asyncio.timeout(job.timeout):
            request = self.client.stream(
                "GET", self.url, headers=headers, auth=auth, timeout=job.timeout
            )
            async with request as response:
                if response.status_code != 200:
                    raise ScrapeFailedError(
                        f"server returned HTTP status {response.status_code} "
                        f"{response.reason_phrase}"
                    )
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > job.max_body_bytes:
                        raise ScrapeFailedError(f"body larger than {job.max_body_bytes} bytes")
                    chunks.append(chunk)
        try:
            return b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ScrapeFailedError(f"body is not UTF-8: {exc}") from None

    def _samples(self, body: str, ts_ms: int) -> tuple[list[SeriesSamples], set[Labels], int, int]:
        """Series for the exposed samples; the set to track for staleness; counts."""
        exposition = parse_exposition(body)
        exposed = exposition.samples
        self._families = (exposition.types, exposition.help)
        batch: list[SeriesSamples] = []
        tracked: set[Labels] = set()
        seen: set[tuple[Labels, int]] = set()
        duplicates = 0
        for sample in exposed:
            labels = self._labels_for(sample)
            at = ts_ms if sample.timestamp_ms is None else sample.timestamp_ms
            if (labels, at) in seen:  # Prometheus keeps the first, counts the rest
                duplicates += 1
                continue
            seen.add((labels, at))
            if sample.timestamp_ms is None:  # explicit timestamps are not tracked, as Prometheus
                tracked.add(labels)
            batch.append(
                SeriesSamples(
                    labels, np.array([at], dtype=np.int64), np.array([sample.value], np.float64)
                )
            )
        return batch, tracked, len(exposed), duplicates

    def _labels_for(self, sample: ExposedSample) -> Labels:
        labels = attach_target_labels(sample.labels, self._target_labels)
        labels[METRIC_NAME_LABEL] = sample.name
        return labels_from_dict(labels)

    def _report_labels(self) -> list[Labels]:
        return [
            labels_from_dict({**self._target_labels, METRIC_NAME_LABEL: name})
            for name in REPORT_SERIES
        ]

    def _report(self, report: ScrapeReport) -> list[SeriesSamples]:
        values = (
            1.0 if report.up else 0.0,
            report.duration_seconds,
            report.samples_scraped,
            report.samples_scraped,  # no metric relabelling: the same count
            report.series_added,
        )
        ts = np.array([report.timestamp_ms], dtype=np.int64)
        return [
            SeriesSamples(labels, ts, np.array([value], dtype=np.float64))
            for labels, value in zip(self._report_labels(), values, strict=True)
        ]


def _describe(exc: Exception) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "scrape timed out"
    text = str(exc) or type(exc).__name__
    return text if not isinstance(exc, httpx.HTTPError) else f"{type(exc).__name__}: {text}"


class ScrapeWorker:
    """The scraper role: one loop per target of every job, sharing one HTTP client.

    >>> worker = ScrapeWorker(jobs_from_settings(settings.metrics), sink, SystemClock())
    >>> await worker.run()  # until cancelled; the supervisor restarts it if it raises
    """

    name = "scraper"
    placement = Placement.RUN_ONCE

    def __init__(
        self,
        jobs: Sequence[ScrapeJob],
        sink: Sink,
        clock: Clock,
        limits: IngestLimits | None = None,
        metadata: MetadataSink | None = None,
    ) -> None:
        self.clock = clock
        validator = BatchValidator(limits)
        self.loops = [
            ScrapeLoop(job, target, sink, clock, validator)
            for job in jobs
            for target in job.targets
        ]
        for loop in self.loops:
            loop.metadata = metadata

    def reports(self) -> list[ScrapeReport]:
        """The last report of every target that has been scraped (for status pages)."""
        return [loop.last_report for loop in self.loops if loop.last_report is not None]

    async def run(self) -> None:
        async with httpx.AsyncClient(follow_redirects=True) as client:
            for loop in self.loops:
                loop.client = client
            if not self.loops:
                await asyncio.Event().wait()
            async with asyncio.TaskGroup() as group:
                for loop in self.loops:
                    group.create_task(loop.run(), name=f"scrape {loop.url}")


def jobs_from_settings(metrics: MetricsSettings) -> list[ScrapeJob]:
    """Every configured scrape job; intervals default to `metrics.collection_interval`."""
    return [ScrapeJob.from_settings(t, metrics.collection_interval) for t in metrics.scrape_configs]
