"""Scraping real HTTP targets: target labels, up and report series, staleness, failures."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from watchkeeper.clock import ManualClock
from watchkeeper.config import MetricsSettings, ScrapeTarget
from watchkeeper.domain.series import SeriesSamples, is_stale_nan
from watchkeeper.ingest.scrape import (
    ScrapeJob,
    ScrapeLoop,
    ScrapeWorker,
    attach_target_labels,
    jobs_from_settings,
)
from watchkeeper.store.base import CardinalityLimitError

from .conftest import ExpositionServer, RecordingSink, until_asleep

pytestmark = pytest.mark.anyio

BODY = """# TYPE requests_total counter
requests_total{code="200"} 10
requests_total{code="500"} 2
temperature 21.5
"""


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def make_loop(
    address: str, sink: RecordingSink, clock: ManualClock, client: httpx.AsyncClient, **job: object
) -> ScrapeLoop:
    spec = ScrapeJob(job_name="app", targets=(address,), interval=15.0, **job)  # type: ignore[arg-type]
    return ScrapeLoop(spec, address, sink, clock, client=client)


def stale(series: SeriesSamples) -> bool:
    return bool(is_stale_nan(series.values).all())


async def test_scrape_attaches_target_labels_and_writes_report_series(
    exposition_server: ExpositionServer, sink: RecordingSink, client: httpx.AsyncClient
) -> None:
    exposition_server.body = BODY
    clock = ManualClock(1_700_000_000.0)
    loop = make_loop(exposition_server.address, sink, clock, client, labels={"env": "prod"})

    report = await loop.scrape_once()

    target = f'env="prod",instance="{exposition_server.address}",job="app"'
    written = sink.last()
    assert report.up and report.samples_scraped == 3
    assert written[f'requests_total{{code="200",{target}}}'].values.tolist() == [10.0]
    assert written[f"up{{{target}}}"].values.tolist() == [1.0]
    assert written[f"scrape_samples_scraped{{{target}}}"].values.tolist() == [3.0]
    assert f"scrape_duration_seconds{{{target}}}" in written
    assert written[f"scrape_series_added{{{target}}}"].values.tolist() == [3.0]
    assert {int(s.timestamps[0]) for s in written.values()} == {1_700_000_000_000}
    assert sink.batches[-1][0] == "default"


async def test_request_carries_accept_timeout_and_bearer_token(
    exposition_server: ExpositionServer, sink: RecordingSink, client: httpx.AsyncClient
) -> None:
    exposition_server.body = BODY
    loop = make_loop(exposition_server.address, sink, ManualClock(), client, bearer_token="s3cr3t")

    await loop.scrape_once()

    headers = exposition_server.requests[-1]
    assert headers["authorization"] == "Bearer s3cr3t"
    assert headers["accept"].startswith("text/plain;version=0.0.4")
    assert headers["x-prometheus-scrape-timeout-seconds"] == "10"


def test_conflicting_scraped_labels_are_kept_as_exported() -> None:
    scraped = {"job": "exporter-says", "exported_job": "older", "instance": "", "x": "1"}
    labels = attach_target_labels(scraped, {"job": "app", "instance": "h:1"})
    assert labels == {
        "job": "app",
        "exported_job": "older",
        "exported_exported_job": "exporter-says",
        "instance": "h:1",
        "x": "1",
    }


async def test_series_that_disappear_get_a_staleness_marker(
    exposition_server: ExpositionServer, sink: RecordingSink, client: httpx.AsyncClient
) -> None:
    clock = ManualClock(1_700_000_000.0)
    loop = make_loop(exposition_server.address, sink, clock, client)
    exposition_server.body = BODY + "explicit_ts 1 1699999999000\n"
    await loop.scrape_once()

    exposition_server.body = 'requests_total{code="200"} 11\n'
    clock.advance(15)
    report = await loop.scrape_once()

    written = sink.last()
    gone = {k for k, s in written.items() if stale(s)}
    address = exposition_server.address
    assert gone == {
        f'requests_total{{code="500",instance="{address}",job="app"}}',
        f'temperature{{instance="{address}",job="app"}}',
    }  # a series with its own timestamp is never marked, as in Prometheus
    assert report.stale_markers == 2
    assert {int(written[k].timestamps[0]) for k in gone} == {1_700_000_015_000}


async def test_failed_scrape_writes_up_zero_and_marks_every_series_stale(
    exposition_server: ExpositionServer, sink: RecordingSink, client: httpx.AsyncClient
) -> None:
    exposition_server.body = BODY
    loop = make_loop(exposition_server.address, sink, ManualClock(), client)
    await loop.scrape_once()

    exposition_server.status = 500
    report = await loop.scrape_once()

    written = sink.last()
    address = exposition_server.address
    assert not report.up and report.error is not None and "500" in report.error
    assert written[f'up{{instance="{address}",job="app"}}'].values.tolist() == [0.0]
    assert sum(stale(s) for s in written.values()) == 3
    exposition_server.status = 200
    assert (await loop.scrape_once()).stale_markers == 0  # markers were written once


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_target_is_down(sink: RecordingSink, client: httpx.AsyncClient) -> None:
    address = f"127.0.0.1:{free_port()}"
    report = await make_loop(address, sink, ManualClock(), client).scrape_once()
    assert not report.up
    assert sink.last()[f'up{{instance="{address}",job="app"}}'].values.tolist() == [0.0]


async def test_malformed_body_fails_the_scrape(
    exposition_server: ExpositionServer, sink: RecordingSink, client: httpx.AsyncClient
) -> None:
    exposition_server.body = "good 1\nbad{ 2\n"
    report = await make_loop(exposition_server.address, sink, ManualClock(), client).scrape_once()
    assert not report.up and report.error is not None and "line 2" in report.error


async def test_samples_refused_by_the_store_count_as_a_failed_scrape(
    exposition_server: ExpositionServer, client: httpx.AsyncClient
) -> None:
    exposition_server.body = BODY
    written: list[list[SeriesSamples]] = []

    def full_store(tenant: str, batch: list[SeriesSamples]) -> None:
        if any(s.metric_name == "temperature" for s in batch):
            raise CardinalityLimitError("tenant default has 100000 series")
        written.append(batch)

    job = ScrapeJob(job_name="app", targets=(exposition_server.address,), interval=15.0)
    loop = ScrapeLoop(job, exposition_server.address, full_store, ManualClock(), client=client)
    report = await loop.scrape_once()

    assert not report.up and report.error is not None and "refused" in report.error
    assert [s.metric_name for s in written[-1] if s.metric_name == "up"] == ["up"]


async def test_worker_scrapes_at_the_interval_and_ends_series_when_stopped(
    exposition_server: ExpositionServer, sink: RecordingSink
) -> None:
    exposition_server.body = BODY
    clock = ManualClock(1_700_000_000.0)
    job = ScrapeJob(job_name="app", targets=(exposition_server.address,), interval=30.0)
    worker = ScrapeWorker([job], sink, clock)

    task = asyncio.create_task(worker.run())
    await until_asleep(clock)
    clock.advance(worker.loops[0].offset())  # each target starts at its own offset
    for _ in range(2):
        await until_asleep(clock)
        clock.advance(30)
    await until_asleep(clock)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    scrape_times = [int(batch[0].timestamps[0]) for _, batch in sink.batches[:3]]
    assert len(sink.batches) == 4  # three scrapes, then the markers written on stop
    assert [b - a for a, b in itertools.pairwise(scrape_times)] == [30_000] * 2
    final = sink.batches[-1][1]
    assert all(stale(s) for s in final)
    assert {s.metric_name for s in final} >= {"requests_total", "temperature", "up"}
    assert worker.reports()[0].up


def test_jobs_from_settings_default_to_the_collection_interval() -> None:
    metrics = MetricsSettings(
        collection_interval=20,
        scrape_configs=[
            ScrapeTarget(job_name="n", targets=["a:1", "b:2"], bearer_token=SecretStr("t")),
            ScrapeTarget(job_name="m", targets=["c:3"], scrape_interval=5, scrape_timeout=10),
        ],
    )
    jobs = jobs_from_settings(metrics)
    assert [(j.job_name, j.interval, j.timeout) for j in jobs] == [("n", 20, 10), ("m", 5, 5)]
    assert jobs[0].bearer_token == "t"


def test_reserved_target_label_names_are_refused() -> None:
    with pytest.raises(ValueError, match="__meta"):
        ScrapeJob(job_name="j", targets=("a:1",), interval=1, labels={"__meta": "x"})
