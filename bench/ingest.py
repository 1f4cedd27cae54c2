"""Ingest benchmark: the same remote_write payloads into VictoriaMetrics and into Watchkeeper.

10,000 node_exporter-like series x 100 samples, cut as Prometheus' queue cuts them (series
sharded over the connections by hash, each request up to 2,000 series with one sample each),
sent over 1 and 2 connections. The clock runs from the first request until the last sample is
queryable. Targets:
- `victoria`: a VictoriaMetrics started by this script (the anchor);
- `embedded`: Watchkeeper's EmbeddedStore in this process, `decode_columns` + `append_columns`
  per request on one thread per connection (what the receiver does, without HTTP);
- `embedded-series`: the same through the MetricStore protocol (`decode` + `append`);
- `watchkeeper`: a running Watchkeeper at --watchkeeper-url (POST /api/v1/write, bearer token).
Also prints bytes on disk per sample. Writes JSON to bench/results/ingest.json.

    .venv/bin/python bench/ingest.py [--series 10000 --samples 100]
        [--watchkeeper-url URL --token T]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
from workload import node_samples

from watchkeeper.domain.series import Labels, Matcher, MatchOp, SeriesSamples
from watchkeeper.ingest.remote_write import LabelCache, decode, decode_columns, encode
from watchkeeper.store.embedded import EmbeddedStore
from watchkeeper.store.remote.victoria import LocalVictoriaMetrics

START_MS = 1_767_225_600_000  # 2026-01-01: fixed so payloads can be cached between runs
RESULTS = Path(__file__).parent / "results"

Shards = list[list[bytes]]  # per connection, its request bodies in send order


def build_payloads(n_series: int, n_samples: int, connections: int, per_request: int) -> Shards:
    """Bodies per connection, cached on disk (encoding 1M samples takes a while)."""
    cache = RESULTS / f"payloads-{n_series}x{n_samples}-c{connections}-r{per_request}.pickle"
    if cache.exists():
        shards: Shards = pickle.loads(cache.read_bytes())
        return shards
    series = node_samples(n_series, n_samples, START_MS)
    by_shard = [series[k::connections] for k in range(connections)]  # stable "hash" sharding
    shards = [[] for _ in range(connections)]
    for sample in range(n_samples):
        for shard, members in enumerate(by_shard):
            for first in range(0, len(members), per_request):
                request = [
                    SeriesSamples(
                        s.labels, s.timestamps[sample : sample + 1], s.values[sample : sample + 1]
                    )
                    for s in members[first : first + per_request]
                ]
                shards[shard].append(encode(request))
    RESULTS.mkdir(exist_ok=True)
    cache.write_bytes(pickle.dumps(shards))
    return shards


def last_series(n_series: int, n_samples: int) -> tuple[Labels, int, float]:
    """The series, timestamp and value of the very last sample sent."""
    last = node_samples(n_series, n_samples, START_MS)[-1]
    return last.labels, int(last.timestamps[-1]), float(last.values[-1])


def run_senders(shards: Shards, send: Callable[[int, bytes], None]) -> None:
    """One thread per connection, each sending its shard's bodies in order."""
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            for body in shards[index]:
                send(index, body)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(shards))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def http_ingest(
    shards: Shards,
    write_url: str,
    query_url: str,
    headers: dict[str, str],
    last: tuple[Labels, int, float],
) -> float:
    """Seconds from the first request to the last sample answering an instant query."""
    clients = [httpx.Client(headers=headers, timeout=60) for _ in shards]
    write_headers = {
        "Content-Encoding": "snappy",
        "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
    }

    def send(index: int, body: bytes) -> None:
        response = clients[index].post(write_url, content=body, headers=write_headers)
        if response.status_code >= 300:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")

    labels, t_ms, value = last
    query = "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"
    started = time.perf_counter()
    run_senders(shards, send)
    while True:
        answer = clients[0].get(query_url, params={"query": query, "time": f"{t_ms / 1000:.3f}"})
        result = answer.json()["data"]["result"]
        # VictoriaMetrics keeps about 12 significant digits, so compare approximately.
        if result and math.isclose(float(result[0]["value"][1]), value, rel_tol=1e-9):
            break
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    return elapsed


def embedded_ingest(
    shards: Shards, path: Path, columnar: bool, last: tuple[Labels, int, float]
) -> float:
    store = EmbeddedStore(path)
    cache = LabelCache()

    def send(_: int, body: bytes) -> None:
        if columnar:
            result = store.append_columns("bench", decode_columns(body, cache=cache))
        else:
            result = store.append("bench", decode(body, cache=cache))
        if result.errors:
            raise RuntimeError(result.errors[:3])

    decode_columns(shards[0][0], cache=LabelCache())  # load the compiled scanner first
    started = time.perf_counter()
    run_senders(shards, send)
    labels, t_ms, value = last
    matchers = [Matcher(k, MatchOp.EQUAL, v) for k, v in labels]
    (found,) = store.select("bench", matchers, t_ms, t_ms)
    assert found.values.tolist() == [value]
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed


class PeakRss:
    """Samples a process' resident memory every 100 ms until stopped; returns the peak."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@contextlib.contextmanager
def watchkeeper_server() -> Iterator[tuple[str, str, psutil.Process, Path]]:
    """A fresh `watchkeeper serve` (embedded store, fsync always) with an ingest+read key."""
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as directory:
        data = Path(directory) / "data"
        subprocess.run(
            [
                str(bin_dir / "watchkeeper"),
                "init",
                "--data-dir",
                str(data),
                "--admin-password",
                "bench-password-0123456789",
            ],
            check=True,
            capture_output=True,
        )
        config = data / "watchkeeper.yaml"
        created = subprocess.run(
            [
                str(bin_dir / "watchkeeper"),
                "apikey",
                "create",
                "--config",
                str(config),
                "--scope",
                "ingest,read",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        token = created.stdout.strip().splitlines()[-1]
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {
            **os.environ,
            "WATCHKEEPER_METRICS__RETENTION_DAYS": "3650",
            "WATCHKEEPER_METRICS__HOST_COLLECTOR_ENABLED": "false",
            "WATCHKEEPER_OBSERVABILITY__ACCESS_LOG": "false",
            "WATCHKEEPER_OBSERVABILITY__LOG_LEVEL": "warning",
        }
        server = subprocess.Popen(
            [str(bin_dir / "watchkeeper"), "serve", "--config", str(config), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            # Compile the decoder (numba) before the clock starts, as a running server has.
            httpx.post(
                f"{base}/api/v1/write",
                content=encode([]),
                headers={"Authorization": f"Bearer {token}"},
            )
            yield base, token, psutil.Process(server.pid), data
        finally:
            server.terminate()
            server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--per-request", type=int, default=2_000, help="series per request")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--targets",
        nargs="+",
        default=["victoria", "watchkeeper-server", "embedded", "embedded-series"],
    )
    parser.add_argument(
        "--watchkeeper-url", help="e.g. http://127.0.0.1:8000 (adds target watchkeeper)"
    )
    parser.add_argument("--token", default="", help="bearer token for --watchkeeper-url")
    parser.add_argument("--output", type=Path, default=RESULTS / "ingest.json")
    args = parser.parse_args()
    targets = list(args.targets) + (["watchkeeper"] if args.watchkeeper_url else [])
    n_total = args.series * args.samples
    last = last_series(args.series, args.samples)
    rows: list[dict[str, object]] = []
    for connections in args.connections:
        shards = build_payloads(args.series, args.samples, connections, args.per_request)
        for target in targets:
            row: dict[str, object] = {"target": target, "connections": connections}
            if target == "victoria":
                with LocalVictoriaMetrics(extra_args=("-search.latencyOffset=0s",)) as vm:
                    process = psutil.Process(vm.pid)
                    seconds = http_ingest(
                        shards, f"{vm.url}/api/v1/write", f"{vm.url}/api/v1/query", {}, last
                    )
                    row["peak_rss_mb"] = round(process.memory_info().rss / 2**20, 1)
                    vm.flush()
                    time.sleep(2)
                    row["bytes_per_sample"] = round(vm.disk_bytes() / n_total, 2)
            elif target == "watchkeeper-server":
                with watchkeeper_server() as (base, token, process, data):
                    peak = PeakRss(process)
                    seconds = http_ingest(
                        shards,
                        f"{base}/api/v1/write",
                        f"{base}/api/v1/query",
                        {"Authorization": f"Bearer {token}"},
                        last,
                    )
                    row["peak_rss_mb"] = round(peak.stop() / 2**20, 1)
                    row["bytes_per_sample"] = round(dir_bytes(data / "metrics") / n_total, 2)
            elif target == "watchkeeper":
                headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
                base = args.watchkeeper_url.rstrip("/")
                seconds = http_ingest(
                    shards, f"{base}/api/v1/write", f"{base}/api/v1/query", headers, last
                )
            else:
                with tempfile.TemporaryDirectory() as directory:
                    path = Path(directory) / "store"
                    seconds = embedded_ingest(shards, path, target == "embedded", last)
                    store = EmbeddedStore(path)
                    store.flush()  # WAL -> blocks, as it will be once compaction has run
                    row["bytes_per_sample"] = round(store.disk_bytes() / n_total, 2)
                    store.close()
            row["seconds"] = round(seconds, 3)
            row["samples_per_s"] = round(n_total / seconds)
            rows.append(row)
            print(json.dumps(row), flush=True)
    anchor = {r["connections"]: r["samples_per_s"] for r in rows if r["target"] == "victoria"}
    print(f"\n{'target':18} {'conn':>4} {'samples/s':>12} {'vs VM':>7} {'B/sample':>9}")
    for row in rows:
        ratio = (
            float(row["samples_per_s"]) / float(anchor[row["connections"]])  # type: ignore[arg-type]
            if row["connections"] in anchor
            else float("nan")
        )
        row["ratio_vs_victoria"] = round(ratio, 3)
        per_sample = row.get("bytes_per_sample", "")
        print(
            f"{row['target']:18} {row['connections']:>4} {row['samples_per_s']:>12} "
            f"{ratio:>7.2f} {per_sample:>9}"
        )
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "series": args.series,
                "samples": args.samples,
                "per_request": args.per_request,
                "rows": rows,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
