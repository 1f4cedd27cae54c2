"""node_exporter-like series and remote_write payloads shared by the ingest and storage benches.

100 hosts x 100 series each, 5-8 labels per series, counters that only go up and gauges that
wander; payloads are cut the way Prometheus' remote_write queue cuts them: in time order, each
request carrying up to `series_per_request` series with `samples_per_series` samples each.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from watchkeeper.domain.series import Labels, SeriesSamples, labels_from_dict

SCRAPE_INTERVAL_MS = 15_000

_CPU_MODES = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]
_DISKS = ["nvme0n1", "nvme1n1", "sda", "sdb"]
_NICS = ["eth0", "eth1", "lo", "docker0"]
_MOUNTS = [("/", "ext4", "nvme0n1p2"), ("/boot", "vfat", "nvme0n1p1"), ("/data", "xfs", "sdb1")]
_MEMORY = ["MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapFree", "Dirty"]


def _host_series(host: int) -> list[tuple[dict[str, str], bool]]:
    """About 100 (labels, is_counter) of one host, named as node_exporter names them."""
    base = {
        "instance": f"node-{host:03d}.dc{host % 3}.example.com:9100",
        "job": "node",
        "env": "prod" if host % 4 else "staging",
        "region": ["eu-west-1", "us-east-1", "ap-south-1"][host % 3],
    }
    out: list[tuple[dict[str, str], bool]] = []
    for cpu in range(8):
        for mode in _CPU_MODES:
            out.append(
                (
                    {**base, "__name__": "node_cpu_seconds_total", "cpu": str(cpu), "mode": mode},
                    True,
                )
            )
    for disk in _DISKS:
        for name in ("node_disk_read_bytes_total", "node_disk_written_bytes_total"):
            out.append(({**base, "__name__": name, "device": disk}, True))
    for nic in _NICS:
        for name in ("node_network_receive_bytes_total", "node_network_transmit_bytes_total"):
            out.append(({**base, "__name__": name, "device": nic}, True))
    for mount, fstype, device in _MOUNTS:
        labels = {**base, "device": device, "fstype": fstype, "mountpoint": mount}
        out.append(({**labels, "__name__": "node_filesystem_avail_bytes"}, False))
    for field in _MEMORY:
        out.append(({**base, "__name__": f"node_memory_{field}_bytes"}, False))
    for name in ("node_load1", "node_load5", "node_load15"):
        out.append(({**base, "__name__": name}, False))
    return out[:100]


def node_series(n_series: int) -> list[tuple[Labels, bool]]:
    """The first n_series label sets of the fleet, with whether each is a counter."""
    result: list[tuple[Labels, bool]] = []
    host = 0
    while len(result) < n_series:
        result.extend((labels_from_dict(d), c) for d, c in _host_series(host))
        host += 1
    return result[:n_series]


def node_samples(
    n_series: int, n_samples: int, start_ms: int, seed: int = 7
) -> list[SeriesSamples]:
    """Every series with n_samples samples at the scrape interval from start_ms."""
    rng = np.random.default_rng(seed)
    timestamps = start_ms + SCRAPE_INTERVAL_MS * np.arange(n_samples, dtype=np.int64)
    out = []
    for labels, is_counter in node_series(n_series):
        if is_counter:
            values = np.cumsum(rng.exponential(50.0, n_samples).round(2))
        else:
            values = (1e9 * rng.random() + np.cumsum(rng.normal(0, 1e6, n_samples))).round(0)
        out.append(SeriesSamples(labels, timestamps.copy(), values.astype(np.float64)))
    return out


def remote_write_requests(
    series: list[SeriesSamples], series_per_request: int = 2000, samples_per_series: int = 1
) -> Iterator[list[SeriesSamples]]:
    """Requests in time order, as a Prometheus remote_write queue would send them."""
    n_samples = len(series[0].timestamps)
    for first_sample in range(0, n_samples, samples_per_series):
        window = slice(first_sample, first_sample + samples_per_series)
        for first in range(0, len(series), series_per_request):
            yield [
                SeriesSamples(s.labels, s.timestamps[window], s.values[window])
                for s in series[first : first + series_per_request]
            ]
