"""The built-in host collector: this machine's CPU, memory, disks, network, load and our process.

It is on by default so that a fresh install has real series to query, alert on and feed to the
detectors without running node_exporter. Names and labels are node_exporter's where it has the
metric (`node_cpu_seconds_total{cpu,mode}`, `node_memory_MemAvailable_bytes`,
`node_filesystem_avail_bytes{device,fstype,mountpoint}`, `node_network_receive_bytes_total{device}`,
`node_load1`, ...), so dashboards and rules written for node_exporter work on them; our own
process has client libraries' `process_*` names. Every series carries job="watchkeeper" and
instance=<hostname>. A series that disappears (an unmounted disk, a removed interface) gets a
staleness marker, as a scrape would give it.
"""

from __future__ import annotations

import asyncio
import math
import re
import socket
from dataclasses import dataclass, field

import numpy as np
import psutil
from prometheus_client.registry import Collector

from watchkeeper.clock import Clock
from watchkeeper.domain.series import METRIC_NAME_LABEL, SeriesSamples, labels_from_dict
from watchkeeper.ingest.metadata import MetadataSink
from watchkeeper.ingest.sink import Sink, deliver
from watchkeeper.ingest.staleness import StalenessTracker
from watchkeeper.runtime.worker import PeriodicWorker, Placement

# node_exporter's defaults: partitions, RAM disks and loop devices are not reported as disks.
_IGNORED_DISKS = re.compile(r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$")
_MEMORY_FIELDS = {
    "total": "MemTotal",
    "available": "MemAvailable",
    "free": "MemFree",
    "buffers": "Buffers",
    "cached": "Cached",
    "shared": "Shmem",
    "active": "Active",
    "inactive": "Inactive",
}
_DISK_COUNTERS = {
    "read_bytes": ("node_disk_read_bytes_total", 1.0),
    "write_bytes": ("node_disk_written_bytes_total", 1.0),
    "read_count": ("node_disk_reads_completed_total", 1.0),
    "write_count": ("node_disk_writes_completed_total", 1.0),
    "read_time": ("node_disk_read_time_seconds_total", 1e-3),
    "write_time": ("node_disk_write_time_seconds_total", 1e-3),
    "busy_time": ("node_disk_io_time_seconds_total", 1e-3),
}
_NETWORK_COUNTERS = {
    "bytes_recv": "node_network_receive_bytes_total",
    "bytes_sent": "node_network_transmit_bytes_total",
    "packets_recv": "node_network_receive_packets_total",
    "packets_sent": "node_network_transmit_packets_total",
    "errin": "node_network_receive_errs_total",
    "errout": "node_network_transmit_errs_total",
    "dropin": "node_network_receive_drop_total",
    "dropout": "node_network_transmit_drop_total",
}


HELP = {
    "node_load1": "1m load average.",
    "node_load5": "5m load average.",
    "node_load15": "15m load average.",
    "node_processes_pids": "Number of PIDs.",
    "node_boot_time_seconds": "Node boot time, in unixtime.",
    "node_cpu_seconds_total": "Seconds the CPUs spent in each mode.",
    "host_cpu_utilization_ratio": "Share of CPU time not idle since the previous reading (0-1).",
    "node_filesystem_size_bytes": "Filesystem size in bytes.",
    "node_filesystem_avail_bytes": "Filesystem space available to non-root users in bytes.",
    "node_filesystem_used_bytes": "Filesystem space used in bytes.",
    "process_resident_memory_bytes": "Resident memory size in bytes.",
    "process_virtual_memory_bytes": "Virtual memory size in bytes.",
    "process_cpu_seconds_total": "Total user and system CPU time spent in seconds.",
    "process_start_time_seconds": "Start time of the process since unix epoch in seconds.",
    "process_threads": "Number of OS threads in the process.",
    "process_open_fds": "Number of open file descriptors.",
    "process_max_fds": "Maximum number of open file descriptors.",
}
"""HELP texts of the fixed families; the others (memory, disk, network) get a generic one."""


def _generic_help(name: str) -> str:
    return (
        f"{name.replace('_', ' ')}, read by Watchkeeper's host collector (node_exporter's meaning)."
    )


@dataclass
class _Readings:
    """Collected (name, labels, value) triples, turned into one batch at one timestamp."""

    base: dict[str, str]
    rows: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def add(self, name: str, value: float, **labels: str) -> None:
        self.rows.append((name, labels, float(value)))

    def batch(self, timestamp_ms: int) -> list[SeriesSamples]:
        ts = np.array([timestamp_ms], dtype=np.int64)
        return [
            SeriesSamples(
                labels_from_dict({**self.base, **labels, METRIC_NAME_LABEL: name}),
                ts,
                np.array([value], dtype=np.float64),
            )
            for name, labels, value in self.rows
        ]


class HostCollector(PeriodicWorker):
    """Reads psutil every `interval` seconds and writes one batch to `sink(tenant_id, batch)`."""

    name = "host-collector"
    placement = Placement.API_PROCESS

    def __init__(
        self,
        sink: Sink,
        clock: Clock,
        interval: float,
        tenant_id: str = "default",
        instance: str | None = None,
        job: str = "watchkeeper",
        process: psutil.Process | None = None,
        metadata: MetadataSink | None = None,
        own_metrics: Collector | None = None,
    ) -> None:
        super().__init__(clock, interval)
        self.own_metrics = own_metrics
        self.sink = sink
        self.metadata = metadata
        self._described: set[str] = set()
        self.tenant_id = tenant_id
        self.labels = {"job": job, "instance": instance or socket.gethostname()}
        self.process = process or psutil.Process()
        self._tracker = StalenessTracker()
        self._last_cpu: tuple[float, float] | None = None

    async def tick(self) -> None:
        timestamp_ms = int(self.clock.time() * 1000)
        # psutil reads /proc and calls statvfs, which can block on a slow mount: off the loop.
        batch = await asyncio.to_thread(self.collect, timestamp_ms)
        batch += self._tracker.update((s.labels for s in batch), timestamp_ms)
        await deliver(self.sink, self.tenant_id, batch)
        if self.metadata is not None:
            self._describe(batch)

    def _describe(self, batch: list[SeriesSamples]) -> None:
        """State TYPE/HELP of families not yet described (node_exporter's meanings)."""
        names = {dict(s.labels)[METRIC_NAME_LABEL] for s in batch} - self._described
        if not names or self.metadata is None:
            return
        types = {n: "counter" if n.endswith("_total") else "gauge" for n in names}
        helps = {n: HELP.get(n, _generic_help(n)) for n in names}
        self.metadata(self.tenant_id, types, helps)
        self._described |= names

    def collect(self, timestamp_ms: int) -> list[SeriesSamples]:
        """One reading of every host and process metric, stamped `timestamp_ms`."""
        out = _Readings(self.labels)
        self._cpu(out)
        self._memory(out)
        self._filesystems(out)
        self._disks(out)
        self._network(out)
        load1, load5, load15 = psutil.getloadavg()
        out.add("node_load1", load1)
        out.add("node_load5", load5)
        out.add("node_load15", load15)
        out.add("node_processes_pids", len(psutil.pids()))
        out.add("node_boot_time_seconds", psutil.boot_time())
        self._own_process(out)
        if self.own_metrics is not None:
            self._own_metrics(self.own_metrics, out)
        return out.batch(timestamp_ms)

    def _cpu(self, out: _Readings) -> None:
        busy_total = idle_total = 0.0
        for cpu, times in enumerate(psutil.cpu_times(percpu=True)):
            modes = times._asdict()
            # node_exporter reports guest time separately: it is already inside user/nice.
            modes.pop("guest", None)
            modes.pop("guest_nice", None)
            for mode, seconds in modes.items():
                out.add("node_cpu_seconds_total", seconds, cpu=str(cpu), mode=mode)
                if mode in ("idle", "iowait"):
                    idle_total += seconds
                else:
                    busy_total += seconds
        if self._last_cpu is not None:
            busy = busy_total - self._last_cpu[0]
            idle = idle_total - self._last_cpu[1]
            if busy + idle > 0:
                out.add("host_cpu_utilization_ratio", max(0.0, min(1.0, busy / (busy + idle))))
        self._last_cpu = (busy_total, idle_total)

    def _memory(self, out: _Readings) -> None:
        memory = psutil.virtual_memory()._asdict()
        for attr, name in _MEMORY_FIELDS.items():
            if attr in memory:
                out.add(f"node_memory_{name}_bytes", memory[attr])
        swap = psutil.swap_memory()
        out.add("node_memory_SwapTotal_bytes", swap.total)
        out.add("node_memory_SwapFree_bytes", swap.free)

    def _filesystems(self, out: _Readings) -> None:
        partitions = psutil.disk_partitions(all=False)
        if not any(p.mountpoint == "/" for p in partitions):
            # In a container "/" is an overlay, which psutil counts as virtual; keep it anyway.
            partitions += [p for p in psutil.disk_partitions(all=True) if p.mountpoint == "/"]
        seen: set[str] = set()
        for part in partitions:
            if part.mountpoint in seen:
                continue
            seen.add(part.mountpoint)
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except OSError:  # vanished or unreadable mount: node_exporter skips it too
                continue
            labels = {"device": part.device, "fstype": part.fstype, "mountpoint": part.mountpoint}
            out.add("node_filesystem_size_bytes", usage.total, **labels)
            out.add("node_filesystem_avail_bytes", usage.free, **labels)
            out.add("node_filesystem_used_bytes", usage.used, **labels)

    def _disks(self, out: _Readings) -> None:
        disks = psutil.disk_io_counters(perdisk=True) or {}
        for device, counters in disks.items():
            if _IGNORED_DISKS.match(device):
                continue
            values = counters._asdict()
            for attr, (name, scale) in _DISK_COUNTERS.items():
                if attr in values:
                    out.add(name, values[attr] * scale, device=device)

    def _network(self, out: _Readings) -> None:
        for device, counters in psutil.net_io_counters(pernic=True).items():
            values = counters._asdict()
            for attr, name in _NETWORK_COUNTERS.items():
                out.add(name, values[attr], device=device)

    def _own_metrics(self, collector: Collector, out: _Readings) -> None:
        """Our own `watchkeeper_*` samples, as a scrape of /metrics would store them: a sample
        label that clashes with ours (job, instance) is kept as `exported_<name>`, as
        Prometheus does without honor_labels; `_created` samples are skipped, as it does."""
        base = self.labels.keys()
        for family in collector.collect():
            if not family.name.startswith("watchkeeper_"):
                continue
            for sample in family.samples:
                if sample.name.endswith("_created") or not math.isfinite(sample.value):
                    continue
                labels = {
                    (f"exported_{k}" if k in base or k == METRIC_NAME_LABEL else k): v
                    for k, v in sample.labels.items()
                }
                out.add(sample.name, sample.value, **labels)

    def _own_process(self, out: _Readings) -> None:
        process = self.process
        with process.oneshot():
            memory = process.memory_info()
            cpu = process.cpu_times()
            out.add("process_resident_memory_bytes", memory.rss)
            out.add("process_virtual_memory_bytes", memory.vms)
            out.add("process_cpu_seconds_total", cpu.user + cpu.system)
            out.add("process_start_time_seconds", process.create_time())
            out.add("process_threads", process.num_threads())
            if hasattr(process, "num_fds"):
                out.add("process_open_fds", process.num_fds())
            if hasattr(process, "rlimit"):
                soft, _ = process.rlimit(psutil.RLIMIT_NOFILE)
                if soft >= 0:
                    out.add("process_max_fds", soft)
