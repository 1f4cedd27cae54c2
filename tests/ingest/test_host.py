"""The built-in host collector, reading this machine through psutil under a manual clock."""

from __future__ import annotations

import asyncio
import os

import pytest

from watchkeeper.clock import ManualClock
from watchkeeper.domain.series import SeriesSamples, is_stale_nan
from watchkeeper.ingest.host import HostCollector

from .conftest import RecordingSink, until_asleep

pytestmark = pytest.mark.anyio


def by_name(batch: list[SeriesSamples], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {s.labels: float(s.values[0]) for s in batch if s.metric_name == name}


async def run_ticks(collector: HostCollector, clock: ManualClock, ticks: int) -> None:
    task = asyncio.create_task(collector.run())
    for _ in range(ticks - 1):
        await until_asleep(clock)
        await asyncio.sleep(0.05)  # let the real CPU counters move between the two readings
        clock.advance(collector.interval)
    await until_asleep(clock)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_collects_node_exporter_named_series_every_interval(sink: RecordingSink) -> None:
    clock = ManualClock(1_700_000_000.0)
    collector = HostCollector(sink, clock, interval=30.0, instance="test-host")

    await run_ticks(collector, clock, 2)

    assert [tenant for tenant, _ in sink.batches] == ["default", "default"]
    first, second = sink.batches[0][1], sink.batches[1][1]
    assert {int(s.timestamps[0]) for s in first} == {1_700_000_000_000}
    assert {int(s.timestamps[0]) for s in second} == {1_700_000_030_000}
    names = {s.metric_name for s in second}
    assert {
        "node_cpu_seconds_total",
        "host_cpu_utilization_ratio",
        "node_memory_MemTotal_bytes",
        "node_memory_MemAvailable_bytes",
        "node_memory_SwapTotal_bytes",
        "node_filesystem_avail_bytes",
        "node_filesystem_size_bytes",
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
        "node_load1",
        "node_processes_pids",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_threads",
    } <= names
    assert all(dict(s.labels)["job"] == "watchkeeper" for s in second)
    assert all(dict(s.labels)["instance"] == "test-host" for s in second)


async def test_values_are_plausible_and_counters_monotone(sink: RecordingSink) -> None:
    clock = ManualClock()
    collector = HostCollector(sink, clock, interval=15.0, instance="h")

    await run_ticks(collector, clock, 2)
    first, second = sink.batches[0][1], sink.batches[1][1]

    total = next(iter(by_name(second, "node_memory_MemTotal_bytes").values()))
    available = next(iter(by_name(second, "node_memory_MemAvailable_bytes").values()))
    assert 0 < available <= total
    cpus = {dict(k)["cpu"] for k in by_name(second, "node_cpu_seconds_total")}
    assert len(cpus) == os.cpu_count()
    assert 0.0 <= next(iter(by_name(second, "host_cpu_utilization_ratio").values())) <= 1.0
    root = [
        k for k in by_name(second, "node_filesystem_avail_bytes") if dict(k)["mountpoint"] == "/"
    ]
    assert root, "the root filesystem is always reported"
    rss = next(iter(by_name(second, "process_resident_memory_bytes").values()))
    assert 1e6 < rss < total
    for counter in ("node_cpu_seconds_total", "process_cpu_seconds_total",
                    "node_network_receive_bytes_total"):  # fmt: skip
        before, after = by_name(first, counter), by_name(second, counter)
        assert before.keys() == after.keys()
        assert all(after[k] >= before[k] for k in before), counter


async def test_series_that_disappear_are_marked_stale(sink: RecordingSink) -> None:
    clock = ManualClock()
    collector = HostCollector(sink, clock, interval=15.0, instance="h")
    real_collect = collector.collect
    calls = 0
    interface = sorted(by_name(real_collect(0), "node_network_receive_bytes_total"))[0]
    device = dict(interface)["device"]

    def lose_an_interface(timestamp_ms: int) -> list[SeriesSamples]:
        nonlocal calls
        calls += 1
        batch = real_collect(timestamp_ms)
        if calls == 2:
            batch = [s for s in batch if dict(s.labels).get("device") != device]
        return batch

    collector.collect = lose_an_interface  # type: ignore[method-assign]
    await run_ticks(collector, clock, 2)

    stale = [s for s in sink.batches[1][1] if is_stale_nan(s.values).all()]
    assert stale and all(dict(s.labels)["device"] == device for s in stale)


def test_own_metrics_are_stored_as_a_scrape_would_store_them() -> None:
    """watchkeeper_* samples ride along (other families, `_created` and NaN do not); a label
    that clashes with the collector's own is kept as exported_<name>."""
    from prometheus_client import CollectorRegistry, Counter, Gauge

    registry = CollectorRegistry()
    scrapes = Counter("watchkeeper_scrapes", "scrapes", ["job", "outcome"], registry=registry)
    scrapes.labels(job="node", outcome="ok").inc(3)
    Gauge("watchkeeper_unknown", "never set", registry=registry).set(float("nan"))
    Gauge("other_thing", "not ours", registry=registry).set(1)
    collector = HostCollector(
        RecordingSink(), ManualClock(1_700_000_000.0), 15.0, instance="h", own_metrics=registry
    )

    batch = collector.collect(1_700_000_000_000)

    names = {s.metric_name for s in batch}
    assert by_name(batch, "watchkeeper_scrapes_total") == {
        (
            ("__name__", "watchkeeper_scrapes_total"),
            ("exported_job", "node"),
            ("instance", "h"),
            ("job", "watchkeeper"),
            ("outcome", "ok"),
        ): 3.0
    }
    assert "watchkeeper_scrapes_created" not in names
    assert "watchkeeper_unknown" not in names
    assert "other_thing" not in names
    assert "node_load1" in names  # the host readings are still there


def test_without_own_metrics_nothing_of_ours_is_stored() -> None:
    collector = HostCollector(RecordingSink(), ManualClock(1_700_000_000.0), 15.0, instance="h")
    batch = collector.collect(1_700_000_000_000)
    assert not any(s.metric_name.startswith("watchkeeper_") for s in batch)
