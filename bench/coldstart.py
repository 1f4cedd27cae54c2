"""Cold start benchmark: seconds from spawning a server process to its readiness answer, for a
bare `watchkeeper serve` and, in the same run, Prometheus and VictoriaMetrics.

Each round spawns every system once on a data folder that already exists (the folder of a
restart: `watchkeeper init` and one earlier start are done before the timed rounds, as are one
Prometheus and one VictoriaMetrics start), then stops it. Readiness is what an orchestrator
polls: Watchkeeper's `/health/ready` (every worker started, database migrated and reachable),
Prometheus' `/-/ready`, VictoriaMetrics' `/health`; polled every 50 ms. The container's own
start is measured by tests/deploy/test_container.py (its log), not here. Prints medians and
the per-round figures; writes bench/results/coldstart.json.

    PYTHONPATH=src .venv/bin/python bench/coldstart.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from footprint import RESULTS, WATCHKEEPER_CLI, free_port


def _ready_after(argv: list[str], url: str, log: Path, timeout: float = 120.0) -> float:
    """Spawn, poll `url` until 200, stop; return the seconds from spawn to the first 200."""
    with log.open("ab") as out:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        while time.perf_counter() - start < timeout:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1).status_code == 200:
                    return time.perf_counter() - start
            if process.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited with {process.returncode}; see {log}")
            time.sleep(0.05)
        raise RuntimeError(f"{url} not ready after {timeout:.0f} s")
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def watchkeeper(folder: Path) -> Callable[[], float]:
    data = folder / "data"
    cli = [sys.executable, *WATCHKEEPER_CLI]
    subprocess.run(
        [*cli, "init", "--data-dir", str(data), "--admin-password", "coldstart-0123456789"],
        check=True,
        capture_output=True,
    )

    def start() -> float:
        port = free_port()
        argv = [*cli, "serve", "--config", str(data / "watchkeeper.yaml"), "--port", str(port)]
        return _ready_after(argv, f"http://127.0.0.1:{port}/health/ready", folder / "wk.log")

    return start


def prometheus(folder: Path) -> Callable[[], float]:
    (folder / "prometheus.yml").write_text("global:\n  scrape_interval: 15s\n")

    def start() -> float:
        port = free_port()
        argv = [
            "prometheus",
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        return _ready_after(argv, f"http://127.0.0.1:{port}/-/ready", folder / "prom.log")

    return start


def victoria(folder: Path) -> Callable[[], float]:
    def start() -> float:
        port = free_port()
        argv = [
            "victoria-metrics",
            f"-storageDataPath={folder / 'vm'}",
            f"-httpListenAddr=127.0.0.1:{port}",
        ]
        return _ready_after(argv, f"http://127.0.0.1:{port}/health", folder / "vm.log")

    return start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        systems: dict[str, Callable[[], float]] = {}
        for name, make in (
            ("watchkeeper", watchkeeper),
            ("prometheus", prometheus),
            ("victoria", victoria),
        ):
            folder = root / name
            folder.mkdir()
            systems[name] = make(folder)
        first = {name: start() for name, start in systems.items()}
        rounds: dict[str, list[float]] = {name: [] for name in systems}
        for _ in range(args.rounds):
            for name, start in systems.items():
                rounds[name].append(start())
    medians = {name: statistics.median(values) for name, values in rounds.items()}
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {platform.processor() or platform.node()}",
        "first_start_s": first,
        "restart_s": rounds,
        "restart_median_s": medians,
        "ratio_to_prometheus": medians["watchkeeper"] / medians["prometheus"],
        "ratio_to_victoria": medians["watchkeeper"] / medians["victoria"],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "coldstart.json").write_text(json.dumps(result, indent=2))
    for name, values in rounds.items():
        per_round = ", ".join(f"{v:.2f}" for v in values)
        print(
            f"{name:12} first {first[name]:.2f} s  restart median {medians[name]:.2f} s  "
            f"({per_round})"
        )
    print(
        f"ratio watchkeeper/prometheus {result['ratio_to_prometheus']:.1f}, "
        f"watchkeeper/victoria {result['ratio_to_victoria']:.1f}"
    )


if __name__ == "__main__":
    main()
