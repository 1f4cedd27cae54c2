"""Footprint benchmark: resident memory over time of Watchkeeper, Prometheus + Alertmanager
and VictoriaMetrics, each started with its default configuration in a temporary folder.

Phases, all systems running side by side on this machine:
1. idle for `--idle-minutes` (the issue's figure is RSS after 10 minutes idle);
2. load: the same Prometheus-shaped remote_write payloads (bench/ingest.py's node_exporter-like
   series, timestamps ending now) sent to each system in turn, peak RSS sampled every 100 ms;
3. idle again for `--after-minutes`.

Watchkeeper is `watchkeeper serve` with the config `watchkeeper init` writes (host collector,
detection, forecasting, rules on; embedded store; SQLite). Prometheus and Alertmanager run with
the Debian package's /etc/prometheus files (the listen ports rewritten to free ones; Prometheus
gets `--web.enable-remote-write-receiver` for the load phase) and node_exporter beside them,
as Prometheus' default config scrapes it: Watchkeeper collects host metrics in-process.
VictoriaMetrics runs with its defaults. Prints a table; writes bench/results/footprint.json.

    PYTHONPATH=src .venv/bin/python bench/footprint.py [--idle-minutes 10 --after-minutes 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from ingest import PeakRss, run_senders
from workload import SCRAPE_INTERVAL_MS, node_samples

from watchkeeper.domain.series import SeriesSamples
from watchkeeper.ingest.remote_write import encode

RESULTS = Path(__file__).parent / "results"
WATCHKEEPER_CLI = ["-c", "from watchkeeper.cli.main import main; main()"]
WRITE_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s")


@dataclass
class System:
    """One monitored system: its processes (RSS is summed over them), write URL, headers."""

    name: str
    processes: dict[str, psutil.Process]
    write_url: str
    headers: dict[str, str] = field(default_factory=dict)
    samples: list[tuple[str, float, dict[str, float]]] = field(default_factory=list)

    def rss(self) -> dict[str, float]:
        out = {}
        for label, process in self.processes.items():
            try:
                tree = [process, *process.children(recursive=True)]
                out[label] = sum(p.memory_info().rss for p in tree) / 2**20
            except psutil.Error:
                out[label] = float("nan")
        return out


def _spawn(
    argv: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)


@contextlib.contextmanager
def watchkeeper(folder: Path) -> Iterator[System]:
    data = folder / "data"
    cli = [sys.executable, *WATCHKEEPER_CLI]
    init = [*cli, "init", "--data-dir", str(data), "--admin-password", "footprint-0123456789"]
    subprocess.run(init, check=True, capture_output=True)
    config = data / "watchkeeper.yaml"
    created = subprocess.run(
        [*cli, "apikey", "create", "--config", str(config), "--scope", "ingest,read"],
        check=True,
        capture_output=True,
        text=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    port = free_port()
    server = _spawn([*cli, "serve", "--config", str(config), "--port", str(port)], folder / "log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/health/live")
        yield System(
            "watchkeeper",
            {"watchkeeper": psutil.Process(server.pid)},
            f"{base}/api/v1/write",
            {"Authorization": f"Bearer {token}"},
        )
    finally:
        server.terminate()
        server.wait(30)


@contextlib.contextmanager
def prometheus_stack(folder: Path) -> Iterator[System]:
    prom_port, am_port, node_port = free_port(), free_port(), free_port()
    am_config = folder / "alertmanager.yml"
    am_config.write_text(Path("/etc/prometheus/alertmanager.yml").read_text())
    config = Path("/etc/prometheus/prometheus.yml").read_text()
    for default, port in (("9090", prom_port), ("9093", am_port), ("9100", node_port)):
        config = re.sub(rf"localhost:{default}\b", f"localhost:{port}", config)
    (folder / "prometheus.yml").write_text(config)
    node = _spawn(
        ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{node_port}"],
        folder / "node.log",
    )
    alertmanager = _spawn(
        [
            "prometheus-alertmanager",
            f"--config.file={am_config}",
            f"--storage.path={folder / 'am'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ],
        folder / "am.log",
    )
    prometheus = _spawn(
        [
            "prometheus",
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--web.enable-remote-write-receiver",
        ],
        folder / "prometheus.log",
    )
    try:
        wait_ready(f"http://127.0.0.1:{prom_port}/-/ready")
        wait_ready(f"http://127.0.0.1:{am_port}/-/ready")
        yield System(
            "prometheus",
            {
                "prometheus": psutil.Process(prometheus.pid),
                "alertmanager": psutil.Process(alertmanager.pid),
                "node_exporter": psutil.Process(node.pid),
            },
            f"http://127.0.0.1:{prom_port}/api/v1/write",
        )
    finally:
        for process in (prometheus, alertmanager, node):
            process.terminate()
        for process in (prometheus, alertmanager, node):
            process.wait(30)


@contextlib.contextmanager
def victoria(folder: Path) -> Iterator[System]:
    port = free_port()
    server = _spawn(
        [
            "victoria-metrics",
            f"-storageDataPath={folder / 'vm'}",
            f"-httpListenAddr=127.0.0.1:{port}",
        ],
        folder / "vm.log",
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/health")
        yield System(
            "victoria",
            {"victoria-metrics": psutil.Process(server.pid)},
            f"http://127.0.0.1:{port}/api/v1/write",
        )
    finally:
        server.terminate()
        server.wait(30)


def payloads(n_series: int, n_samples: int, per_request: int) -> list[bytes]:
    """Remote-write bodies cut as Prometheus' queue cuts them, timestamps ending now (so
    every system's default retention and out-of-order window accept them)."""
    start = int(time.time() * 1000) - SCRAPE_INTERVAL_MS * n_samples
    series = node_samples(n_series, n_samples, start)
    bodies = []
    for k in range(n_samples):
        for first in range(0, n_series, per_request):
            request = [
                SeriesSamples(s.labels, s.timestamps[k : k + 1], s.values[k : k + 1])
                for s in series[first : first + per_request]
            ]
            bodies.append(encode(request))
    return bodies


def load(system: System, bodies: list[bytes]) -> tuple[float, dict[str, float]]:
    """Send every body on one connection; seconds taken and peak RSS (MB) per process."""
    with httpx.Client(headers=system.headers, timeout=120) as client:
        # An empty write first, as in bench/ingest.py: the receiver's first request loads
        # its compiled decoder, a one-time cost that is not the load being measured.
        client.post(system.write_url, content=encode([]), headers=WRITE_HEADERS)
        peaks = {label: PeakRss(process) for label, process in system.processes.items()}

        def send(_: int, body: bytes) -> None:
            response = client.post(system.write_url, content=body, headers=WRITE_HEADERS)
            if response.status_code >= 300:
                raise RuntimeError(f"{system.name}: HTTP {response.status_code}: {response.text}")

        started = time.perf_counter()
        run_senders([bodies], send)
        seconds = time.perf_counter() - started
    return seconds, {label: peak.stop() / 2**20 for label, peak in peaks.items()}


def watch(systems: list[System], phase: str, seconds: float, every: float) -> None:
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        for system in systems:
            system.samples.append((phase, round(elapsed, 1), system.rss()))
        if elapsed >= seconds:
            return
        time.sleep(min(every, seconds - elapsed))


def phase_end(system: System, phase: str) -> dict[str, float]:
    """Median RSS per process over the last minute of a phase (the last sample if shorter)."""
    rows = [(t, rss) for p, t, rss in system.samples if p == phase]
    last = rows[-1][0]
    window = [rss for t, rss in rows if t >= last - 60] or [rows[-1][1]]
    return {label: statistics.median(r[label] for r in window) for label in window[0]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle-minutes", type=float, default=10.0)
    parser.add_argument("--after-minutes", type=float, default=3.0)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--per-request", type=int, default=2_000)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--output", type=Path, default=RESULTS / "footprint.json")
    args = parser.parse_args()
    for binary in ("prometheus", "prometheus-alertmanager", "prometheus-node-exporter"):
        if shutil.which(binary) is None:
            sys.exit(f"{binary} not found (scripts/system-deps.sh installs it)")
    bodies = payloads(args.series, args.samples, args.per_request)
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="footprint-")))
        systems = []
        for name, start in (
            ("watchkeeper", watchkeeper),
            ("prometheus", prometheus_stack),
            ("victoria", victoria),
        ):
            (folder / name).mkdir()
            systems.append(stack.enter_context(start(folder / name)))
        watch(systems, "idle", args.idle_minutes * 60, args.every)
        loads = {}
        for system in systems:
            # The others keep their own idle work going meanwhile; sample them too.
            loads[system.name] = load(system, bodies)
            print(f"load {system.name}: {loads[system.name][0]:.1f} s", flush=True)
        watch(systems, "after", args.after_minutes * 60, args.every)
        report(systems, loads, args)


def report(
    systems: list[System],
    loads: dict[str, tuple[float, dict[str, float]]],
    args: argparse.Namespace,
) -> None:
    total = args.series * args.samples
    rows = []
    for system in systems:
        idle = phase_end(system, "idle")
        after = phase_end(system, "after")
        seconds, peak = loads[system.name]
        rows.append(
            {
                "system": system.name,
                "idle_mb": {k: round(v, 1) for k, v in idle.items()},
                "load_peak_mb": {k: round(v, 1) for k, v in peak.items()},
                "load_seconds": round(seconds, 2),
                "load_samples_per_s": round(total / seconds),
                "after_mb": {k: round(v, 1) for k, v in after.items()},
                "series": [
                    (p, t, {k: round(v, 1) for k, v in r.items()}) for p, t, r in system.samples
                ],
            }
        )
    print(
        f"\nRSS in MiB; idle = median of the last minute of {args.idle_minutes:g} min idle; "
        f"load = peak while receiving {total:,} samples ({args.series:,} series); "
        f"after = median of the last minute of {args.after_minutes:g} min idle after the load"
    )
    print(f"{'process':18} {'idle':>8} {'load peak':>10} {'after':>8}")
    for row in rows:
        for label in row["idle_mb"]:
            print(
                f"{label:18} {row['idle_mb'][label]:>8.1f} {row['load_peak_mb'][label]:>10.1f} "
                f"{row['after_mb'][label]:>8.1f}"
            )

    def summed(name: str, key: str, labels: tuple[str, ...]) -> float:
        row = next(r for r in rows if r["system"] == name)
        return sum(row[key][label] for label in labels)

    print("\nWatchkeeper vs anchors (ratio of RSS, same run):")
    for key in ("idle_mb", "load_peak_mb", "after_mb"):
        wk = summed("watchkeeper", key, ("watchkeeper",))
        pa = summed("prometheus", key, ("prometheus", "alertmanager"))
        vm = summed("victoria", key, ("victoria-metrics",))
        print(
            f"  {key:13} watchkeeper {wk:7.1f}  prometheus+alertmanager {pa:6.1f} "
            f"({wk / pa:5.1f}x)  victoria-metrics {vm:6.1f} ({wk / vm:5.1f}x)"
        )
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "machine": f"{platform.node()} {os.cpu_count()} cores {platform.processor()}",
                "command": " ".join(sys.argv),
                "args": {k: str(v) for k, v in vars(args).items()},
                "rows": rows,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
